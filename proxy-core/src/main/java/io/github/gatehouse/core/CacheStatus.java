package io.github.gatehouse.core;

/**
 * What a cache did for one exchange, as the access log reports it ({@link Exchange#cacheStatus()}; Squid's
 * {@code TCP_HIT}, {@code TCP_MISS}... in the native format). A cache sets it with
 * {@link HttpCache#recordStatus(Exchange, CacheStatus)}.
 *
 * <p>Immutable; thread-safe.
 */
public enum CacheStatus {
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
