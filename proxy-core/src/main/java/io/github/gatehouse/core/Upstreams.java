package io.github.gatehouse.core;

/**
 * Factories for {@link UpstreamPool}s, a second spelling of {@link UpstreamPool#of(String...)}.
 *
 * @deprecated one way to make a pool: {@link UpstreamPool#of(String...)} and {@link UpstreamPool#of(java.util.List)}
 *     say the same thing; this class goes before 1.0
 */
@Deprecated(since = "0.1.0")
public final class Upstreams {
    private Upstreams() {
    }

    /**
     * A pool of the given base URLs, each with weight 1.
     *
     * @deprecated use {@link UpstreamPool#of(String...)}
     */
    @Deprecated(since = "0.1.0")
    public static UpstreamPool of(String... urls) {
        return UpstreamPool.of(urls);
    }

    /**
     * A pool of the given members.
     *
     * @deprecated use {@link UpstreamPool#of(java.util.List)}
     */
    @Deprecated(since = "0.1.0")
    public static UpstreamPool of(java.util.List<Upstream> members) {
        return UpstreamPool.of(members);
    }
}
