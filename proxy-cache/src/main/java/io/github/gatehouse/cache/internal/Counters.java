package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.CacheStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.LongAdder;

/**
 * The cache's counters, read by {@code stats()} and core's {@code counters()}.
 *
 * <p><b>Threading.</b> Thread-safe ({@link LongAdder}s).
 */
final class Counters {
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder revalidations = new LongAdder();
    final LongAdder unmodified = new LongAdder();
    final LongAdder staleServed = new LongAdder();
    final LongAdder collapsed = new LongAdder();
    final LongAdder stores = new LongAdder();
    final LongAdder bytesServed = new LongAdder();
    final LongAdder bytesStored = new LongAdder();
    final LongAdder purged = new LongAdder();

    /** Counts a lookup's or a validation's outcome: hits (stale and refreshed ones included) and misses. */
    void count(CacheStatus outcome) {
        switch (outcome) {
            case HIT -> hits.increment();
            case STALE -> {
                hits.increment();
                staleServed.increment();
            }
            case REFRESH_UNMODIFIED -> {
                hits.increment();
                unmodified.increment();
            }
            case MISS -> misses.increment();
            default -> {
                // REFRESH_MODIFIED was counted as a revalidation at lookup; PURGE counts what it purged
            }
        }
    }

    /** {@code body}, adding each buffer it publishes to {@link #bytesServed}. */
    Flow.Publisher<ByteBuffer> counting(Flow.Publisher<ByteBuffer> body) {
        return subscriber -> body.subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscriber.onSubscribe(s);
            }

            @Override
            public void onNext(ByteBuffer item) {
                bytesServed.add(item.remaining());
                subscriber.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                subscriber.onError(t);
            }

            @Override
            public void onComplete() {
                subscriber.onComplete();
            }
        });
    }
}
