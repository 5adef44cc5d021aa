package io.github.gatehouse.core;

/**
 * Factories for {@link UpstreamPool}s, so a route reads as it is meant:
 * {@code Route.host("shop.example").to(Upstreams.of("http://10.0.0.1:8080", "http://10.0.0.2:8080"))}.
 */
public final class Upstreams {
    private Upstreams() {
    }

    /** A pool of the given base URLs, each with weight 1; see {@link UpstreamPool#of(String...)}. */
    public static UpstreamPool of(String... urls) {
        return UpstreamPool.of(urls);
    }

    /** A pool of the given members; see {@link UpstreamPool#of(java.util.List)}. */
    public static UpstreamPool of(java.util.List<Upstream> members) {
        return UpstreamPool.of(members);
    }
}
