package io.github.gatehouse.core;

/**
 * What an {@link HttpCache} counted since it was built, reported through {@link HttpCache#counters()}: the stats SPI
 * that lets core (metrics, the admin page) read a cache implemented in another module.
 *
 * <p>Immutable. Counters only grow; {@code entries}, {@code sizeBytes} and {@code capacityBytes} describe the store
 * now (capacity 0 when unknown). A snapshot taken under load may be off by the exchanges in flight.
 *
 * @param hits responses served from the store without going upstream (stale ones included)
 * @param misses lookups that went upstream without a usable entry
 * @param stale of the hits, stale responses served ({@code stale-while-revalidate}, {@code stale-if-error})
 * @param revalidations conditional requests sent upstream
 * @param bytesStored body bytes committed to the store
 * @param evictions entries the store dropped to stay within its capacity
 * @param entries entries stored now
 * @param sizeBytes bytes stored now
 * @param capacityBytes the store's capacity, or 0 when unknown
 */
public record CacheCounters(long hits, long misses, long stale, long revalidations, long bytesStored, long evictions,
        long entries, long sizeBytes, long capacityBytes) {

    /** Hits divided by hits plus misses, or 0 when there was no lookup. */
    public double hitRatio() {
        long total = hits + misses;
        return total == 0 ? 0 : (double) hits / total;
    }
}
