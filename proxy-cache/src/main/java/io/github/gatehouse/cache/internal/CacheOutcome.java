package io.github.gatehouse.cache.internal;

/**
 * What the cache did for one exchange: the word the access log prints ({@code Exchange.cacheStatus}, Squid's
 * vocabulary) and, through {@link #hit()}, whether the response's {@code Cache-Status} member says {@code hit}
 * (RFC 9211 §2.1) or names why it went forward ({@link Forward}).
 *
 * <p><b>Threading.</b> Immutable.
 */
public enum CacheOutcome {
    /** Served fresh from the cache. */
    HIT,
    /** Went upstream (nothing stored, or a stored response that needed validating). */
    MISS,
    /** Served stale: {@code max-stale}, {@code stale-while-revalidate} or {@code stale-if-error}. */
    STALE,
    /** A stored response was validated by a 304 and served. */
    REFRESH_UNMODIFIED,
    /** A stored response was validated and the origin sent a new one. */
    REFRESH_MODIFIED,
    /** A {@code PURGE} request answered by the cache. */
    PURGE;

    /** Whether the response came from the cache without the upstream's answer (a {@code hit} in Cache-Status). */
    public boolean hit() {
        return this == HIT || this == STALE;
    }
}
