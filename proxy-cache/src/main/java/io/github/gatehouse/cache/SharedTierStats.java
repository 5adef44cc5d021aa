package io.github.gatehouse.cache;

import java.util.List;

/**
 * What a cache shared by several instances ({@link HttpCaches.Builder#cluster}) counted on this instance, beside
 * {@link CacheStats}: where its hits came from, and the cluster's members now.
 *
 * <p>Immutable; counters only grow. A lookup counts once: {@code nearHits} when this instance's near tier held the
 * entry, {@code gridHits} when it was read from the grid (stored by another instance, or evicted from the near tier),
 * {@code gridMisses} when the grid had nothing.
 *
 * @param members the cluster members this one sees, {@code host:port}, itself included
 * @param nearHits lookups answered by the near tier without a network hop
 * @param gridHits lookups that read an entry from the grid
 * @param gridMisses lookups the grid had nothing for
 * @param gridWrites entries written to the grid
 * @param gridFailures grid operations that failed or timed out (the request went on without the grid)
 * @param remoteWaits misses that waited for another instance's fill instead of going upstream
 */
public record SharedTierStats(List<String> members, long nearHits, long gridHits, long gridMisses, long gridWrites,
        long gridFailures, long remoteWaits) {
    /** Copies the member list. */
    public SharedTierStats {
        members = List.copyOf(members);
    }
}
