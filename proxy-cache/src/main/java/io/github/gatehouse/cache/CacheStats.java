package io.github.gatehouse.cache;

/**
 * A snapshot of a {@link SharedCache}'s counters since it was built.
 *
 * <p>{@code hits} counts responses served from the store without going upstream (fresh hits, collapsed followers and
 * stale responses served under {@code stale-while-revalidate} or {@code stale-if-error}; the last two are also counted
 * in {@code staleServed}); {@code misses} counts lookups that went upstream without a usable entry;
 * {@code revalidations} counts conditional requests sent upstream, {@code revalidatedUnmodified} those answered 304;
 * {@code collapsed} counts requests that waited on another request's upstream fetch instead of sending their own.
 * {@code bytesServed} is body bytes served from the cache, {@code bytesStored} body bytes committed to the store.
 * {@code entries} and {@code sizeBytes} describe the store at the time of the snapshot.
 *
 * <p><b>Threading.</b> An immutable value; counters are read without a global lock, so a snapshot taken under load
 * may be off by the exchanges in flight.
 */
public record CacheStats(long hits, long misses, long revalidations, long revalidatedUnmodified, long staleServed,
        long collapsed, long stores, long bytesServed, long bytesStored, long purged, long entries, long sizeBytes) {

    /** Hits divided by hits plus misses, or 0 when there was no lookup. */
    public double hitRatio() {
        long total = hits + misses;
        return total == 0 ? 0 : (double) hits / total;
    }
}
