package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * A memory store in front of a disk store: every entry is written to both (the memory copy only if it fits the
 * memory store's limits), read from memory when it is there and from disk otherwise. The disk store is the
 * reference: keys, counts and sizes are its own, and it alone survives a restart.
 *
 * <p><b>Threading.</b> Thread-safe and non-blocking, as both stores are.
 */
public final class TieredStore implements CacheStore {
    private final MemoryStore memory;
    private final DiskStore disk;

    public TieredStore(MemoryStore memory, DiskStore disk) {
        this.memory = memory;
        this.disk = disk;
    }

    @Override
    public Optional<StoredEntry> get(String key) {
        Optional<StoredEntry> hot = memory.get(key);
        if (hot.isPresent()) {
            return hot;
        }
        return disk.get(key);
    }

    /** The disk tier's evictions: the memory tier is a copy of hot entries, its evictions lose nothing. */
    @Override
    public long evictions() {
        return disk.evictions();
    }

    @Override
    public long capacityBytes() {
        return disk.capacityBytes();
    }

    @Override
    public Collection<String> keys() {
        return disk.keys();
    }

    @Override
    public Writer begin(String key, EntryHead head) {
        Writer hot = memory.begin(key, head);
        Writer cold = disk.begin(key, head);
        return new Writer() {
            private boolean hotLive = true;

            @Override
            public boolean write(ByteBuffer chunk) {
                if (hotLive && !hot.write(chunk.duplicate())) {
                    hotLive = false;
                    hot.abort();
                }
                return cold.write(chunk);
            }

            @Override
            public CompletionStage<Void> commit() {
                return cold.commit().thenRun(() -> {
                    if (hotLive) {
                        hot.commit();
                    }
                });
            }

            @Override
            public void abort() {
                hot.abort();
                cold.abort();
            }
        };
    }

    @Override
    public boolean updateHead(String key, EntryHead head) {
        memory.updateHead(key, head);
        return disk.updateHead(key, head);
    }

    @Override
    public boolean remove(String key) {
        memory.remove(key);
        return disk.remove(key);
    }

    @Override
    public long entryCount() {
        return disk.entryCount();
    }

    @Override
    public long sizeBytes() {
        return disk.sizeBytes();
    }

    @Override
    public void close() {
        memory.close();
        disk.close();
    }

    @Override
    public String toString() {
        return "TieredStore{" + memory + " over " + disk + "}";
    }
}
