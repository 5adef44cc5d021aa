package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Request collapsing: at most one fill (upstream request being stored) per primary key. The first miss leads; later
 * misses for the key follow, waiting for the leader's head and then streaming its body as it arrives (or the stored
 * entry a 304 refreshed). Followers wait at most the collapse timeout; a fill without a storable head leaves the map
 * at once, so the next request leads a new one.
 *
 * <p>With a shared tier, a fill may also hold the cluster-wide fill lease of its key (the engine claims it, see
 * {@link SharedTier#claimFill}); a fill that leaves the map gives its lease up, so waiting instances read the grid.
 *
 * <p><b>Threading.</b> Thread-safe: the fill map is concurrent and each {@link Fill} is built of thread-safe parts.
 */
final class Collapser {
    private final CacheConfig config;
    /** The shared tier whose fill leases the fills may hold, or null (one instance). */
    private final SharedTier grid;
    private final ConcurrentHashMap<String, Fill> fills = new ConcurrentHashMap<>();

    Collapser(CacheConfig config, SharedTier grid) {
        this.config = config;
        this.grid = grid;
    }

    /** Takes {@code fill} out of the map; gives up its cluster-wide lease, if it held one. */
    private void unfill(Fill fill) {
        if (fills.remove(fill.primary, fill) && fill.claimed && grid != null) {
            grid.releaseFill(fill.primary);
        }
    }

    /** The fill in progress for {@code primary}, or {@code null}. */
    Fill existing(String primary) {
        return fills.get(primary);
    }

    /** A new fill for {@code primary} that this request leads, or {@code null} when another one started first. */
    Fill lead(String primary) {
        Fill fill = new Fill(primary);
        if (fills.putIfAbsent(primary, fill) != null) {
            return null;
        }
        armTimeout(fill);
        return fill;
    }

    /** Takes {@code fill} out of the map (its entry was stored, or it will never be), leaving its followers as they are. */
    void drop(Fill fill) {
        if (fill != null) {
            unfill(fill);
        }
    }

    /** Completes {@code fill}'s head from a stored entry (a 304 refreshed it) and takes it out of the map. */
    void completeFromStored(Fill fill, StoredEntry updated) {
        fill.head.complete(FillHead.stored(VariantIndex.secondary(updated.key()), updated));
        unfill(fill);
    }

    /** Followers stop waiting after the collapse timeout; a fill that ends without a storable head leaves the map. */
    private void armTimeout(Fill fill) {
        fill.head.completeOnTimeout(null, config.collapseTimeout().toMillis(), TimeUnit.MILLISECONDS);
        fill.head.whenComplete((h, f) -> {
            if (h == null) {
                unfill(fill);
            }
        });
    }

    /** Ends {@code fill} without a head: its followers go upstream themselves. */
    void release(Fill fill) {
        if (fill != null) {
            fill.head.complete(null);
            unfill(fill);
        }
    }


    /**
     * {@code body} for one collapsed follower of {@code fill}: counted among the fill's followers from now until its
     * subscriber completes, fails or cancels (so the fill knows whether anyone still waits for it).
     */
    static Flow.Publisher<ByteBuffer> following(Fill fill, Flow.Publisher<ByteBuffer> body) {
        fill.followers.incrementAndGet();
        AtomicBoolean left = new AtomicBoolean();
        Runnable leave = () -> {
            if (left.compareAndSet(false, true)) {
                fill.followers.decrementAndGet();
            }
        };
        return subscriber -> body.subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscriber.onSubscribe(new Flow.Subscription() {
                    @Override
                    public void request(long n) {
                        s.request(n);
                    }

                    @Override
                    public void cancel() {
                        leave.run();
                        s.cancel();
                    }
                });
            }

            @Override
            public void onNext(ByteBuffer item) {
                subscriber.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                leave.run();
                subscriber.onError(t);
            }

            @Override
            public void onComplete() {
                leave.run();
                subscriber.onComplete();
            }
        });
    }

    /** A fill in progress for one primary key: followers wait for its head, then stream its body. */
    static final class Fill {
        final String primary;
        final CompletableFuture<FillHead> head = new CompletableFuture<>();
        /** Collapsed followers currently reading (or about to read) this fill's body. */
        final java.util.concurrent.atomic.AtomicInteger followers = new java.util.concurrent.atomic.AtomicInteger();
        /** Whether this fill holds the cluster-wide fill lease (shared tier only). */
        volatile boolean claimed;

        Fill(String primary) {
            this.primary = primary;
        }
    }

    /**
     * What followers of a fill get: the head, a body source, and the body length once known (-1 while a new body is
     * still arriving).
     */
    record FillHead(String secondary, EntryHead head, Supplier<Flow.Publisher<ByteBuffer>> body, LongSupplier length) {
        static FillHead growing(String secondary, EntryHead head, ChunkedBody body) {
            return new FillHead(secondary, head, body::publisher, () -> body.isComplete() ? body.length() : -1);
        }

        static FillHead stored(String secondary, StoredEntry entry) {
            long length = entry.bodyLength();
            return new FillHead(secondary, entry.head(), () -> entry.body(0, length), () -> length);
        }
    }

}
