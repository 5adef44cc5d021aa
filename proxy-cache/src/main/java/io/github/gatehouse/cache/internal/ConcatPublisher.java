package io.github.gatehouse.cache.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.function.Supplier;

/**
 * One body made of several, one after another: the parts of a {@code multipart/byteranges} answer, or the stored
 * and the new ranges of a partial entry being combined. Each part's publisher is created only when the previous one
 * completed; demand carries over from part to part, so backpressure is the subscriber's.
 *
 * <p><b>Threading.</b> A cold publisher: each subscription is independent. Signals follow the {@link Flow} rules
 * (one at a time); the parts may signal from any thread.
 */
final class ConcatPublisher implements Flow.Publisher<ByteBuffer> {
    private final List<Supplier<Flow.Publisher<ByteBuffer>>> parts;

    ConcatPublisher(List<Supplier<Flow.Publisher<ByteBuffer>>> parts) {
        this.parts = List.copyOf(parts);
    }

    /** A part that is the bytes of {@code chunk} (read-only; shared by every subscription). */
    static Supplier<Flow.Publisher<ByteBuffer>> bytes(ByteBuffer chunk) {
        ByteBuffer ro = chunk.asReadOnlyBuffer();
        return () -> ChunkedBody.of(List.of(ro.duplicate())).publisher();
    }

    @Override
    public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
        Chain chain = new Chain(subscriber);
        subscriber.onSubscribe(chain);
        chain.next();
    }

    private final class Chain implements Flow.Subscription {
        private final Flow.Subscriber<? super ByteBuffer> downstream;
        private int index;
        private long demand;
        private Flow.Subscription current;
        private boolean cancelled;
        private boolean done;

        Chain(Flow.Subscriber<? super ByteBuffer> downstream) {
            this.downstream = downstream;
        }

        /** Subscribes to the next part, or completes; parts that complete at once are skipped in a loop, not by recursion. */
        void next() {
            while (true) {
                Supplier<Flow.Publisher<ByteBuffer>> part;
                synchronized (this) {
                    if (cancelled || done) {
                        return;
                    }
                    current = null;
                    if (index == parts.size()) {
                        done = true;
                        part = null;
                    } else {
                        part = parts.get(index++);
                    }
                }
                if (part == null) {
                    downstream.onComplete();
                    return;
                }
                PartSubscriber sub = new PartSubscriber();
                part.get().subscribe(sub);
                synchronized (this) {
                    if (!sub.completed) {
                        sub.chained = true; // it will call next() itself when it completes
                        return;
                    }
                }
            }
        }

        @Override
        public void request(long n) {
            Flow.Subscription s;
            synchronized (this) {
                if (n <= 0 || cancelled || done) {
                    return;
                }
                demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                s = current;
            }
            if (s != null) {
                s.request(n);
            }
        }

        @Override
        public void cancel() {
            Flow.Subscription s;
            synchronized (this) {
                cancelled = true;
                s = current;
            }
            if (s != null) {
                s.cancel();
            }
        }

        private final class PartSubscriber implements Flow.Subscriber<ByteBuffer> {
            boolean completed;
            boolean chained;

            @Override
            public void onSubscribe(Flow.Subscription s) {
                long d;
                synchronized (Chain.this) {
                    if (cancelled) {
                        d = -1;
                    } else {
                        current = s;
                        d = demand;
                    }
                }
                if (d < 0) {
                    s.cancel();
                } else if (d > 0) {
                    s.request(d);
                }
            }

            @Override
            public void onNext(ByteBuffer item) {
                synchronized (Chain.this) {
                    demand--;
                }
                downstream.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                synchronized (Chain.this) {
                    done = true;
                }
                downstream.onError(t);
            }

            @Override
            public void onComplete() {
                boolean go;
                synchronized (Chain.this) {
                    completed = true;
                    go = chained;
                }
                if (go) {
                    next();
                }
            }
        }
    }
}
