package io.github.gatehouse.cache;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Where a {@link SharedCache} keeps its entries: keyed heads with streamed bodies, bounded in bytes.
 *
 * <p>Keys are opaque strings made by the cache (primary key, then {@code '\u0001'}, then the variant's secondary
 * key). A store keeps an index of its entries in memory so that {@link #get}, {@link #keys} and {@link #remove}
 * answer at once; bodies may live elsewhere (heap, files) and are read through {@link StoredEntry#body}. An entry
 * becomes visible only when its {@link Writer} commits; until then readers see the previous entry under that key, or
 * none. The store evicts entries on its own to stay within its capacity.
 *
 * <p><b>Threading.</b> All methods are called concurrently from I/O threads: they must be thread-safe and must not
 * block (file I/O belongs on the store's own executor).
 */
public interface CacheStore extends AutoCloseable {

    /** The committed entry under {@code key}, if any. */
    Optional<StoredEntry> get(String key);

    /** A snapshot of the keys of committed entries. */
    Collection<String> keys();

    /**
     * Starts writing an entry; nothing is visible until {@link Writer#commit}. Never {@code null}; a store that
     * cannot take the entry returns a writer whose {@link Writer#write} answers {@code false}.
     */
    Writer begin(String key, EntryHead head);

    /** Replaces the head of the committed entry under {@code key} (after a 304, or a soft purge); false if absent. */
    boolean updateHead(String key, EntryHead head);

    /** Removes the entry under {@code key}; false if there was none. */
    boolean remove(String key);

    /** The number of committed entries. */
    long entryCount();

    /** The bytes the committed entries take, as counted against the capacity. */
    long sizeBytes();

    /** Entries dropped so far to stay within the capacity (0 when the store does not count them). */
    default long evictions() {
        return 0;
    }

    /** The capacity in bytes, or 0 when unknown. */
    default long capacityBytes() {
        return 0;
    }

    /** Releases resources (files stay on disk for stores that persist). */
    @Override
    void close();

    /**
     * Receives one entry's body. Calls never overlap; exactly one of {@link #commit} or {@link #abort} ends it.
     *
     * <p><b>Threading.</b> Called from I/O threads; must not block.
     */
    interface Writer {
        /**
         * Appends {@code chunk}, an immutable buffer the writer may keep without copying. Returns {@code false} when
         * the store gave up on this entry (too slow, too large, I/O failure); the caller then aborts.
         */
        boolean write(ByteBuffer chunk);

        /**
         * Makes the entry visible, replacing any entry under the same key; the stage completes when it is, or fails
         * when the entry could not be stored. The cache logs such failures at DEBUG only: a store reports its own
         * trouble, once for a run of failures rather than once an entry (as the disk store does).
         */
        CompletionStage<Void> commit();

        /** Discards what was written. */
        void abort();
    }
}
