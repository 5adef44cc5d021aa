package io.github.gatehouse.cache.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A body held as a list of immutable chunks that may still be growing (a fill in progress) or complete (a stored
 * memory entry). Any number of subscribers read it, each at its own pace; a subscriber that reaches the end of a
 * growing body waits for the next {@link #append}, and fails if the body {@link #fail fails}.
 *
 * <p><b>Threading.</b> Thread-safe: one writer appends (calls never overlap), any threads read; each subscriber is
 * signalled one signal at a time, possibly on the writer's thread when it waited for data.
 */
public final class ChunkedBody {
    private final List<ByteBuffer> chunks = new ArrayList<>();
    private final List<Reader> waiting = new ArrayList<>();
    private long length;
    private boolean complete;
    private Throwable failure;

    /** A complete body made of {@code chunks}, which must not change afterwards. */
    public static ChunkedBody of(List<ByteBuffer> chunks) {
        ChunkedBody body = new ChunkedBody();
        for (ByteBuffer c : chunks) {
            body.append(c);
        }
        body.complete();
        return body;
    }

    /** Appends an immutable chunk and wakes waiting readers. */
    public void append(ByteBuffer chunk) {
        List<Reader> wake;
        synchronized (this) {
            if (complete || failure != null || !chunk.hasRemaining()) {
                return;
            }
            chunks.add(chunk.asReadOnlyBuffer());
            length += chunk.remaining();
            wake = drainWaiting();
        }
        wake.forEach(Reader::drain);
    }

    /** Marks the body complete. */
    public void complete() {
        List<Reader> wake;
        synchronized (this) {
            complete = true;
            wake = drainWaiting();
        }
        wake.forEach(Reader::drain);
    }

    /** Fails the body: readers that have not reached the end get {@code onError}. */
    public void fail(Throwable cause) {
        List<Reader> wake;
        synchronized (this) {
            if (complete) {
                return;
            }
            failure = cause;
            wake = drainWaiting();
        }
        wake.forEach(Reader::drain);
    }

    private List<Reader> drainWaiting() {
        if (waiting.isEmpty()) {
            return List.of();
        }
        List<Reader> copy = new ArrayList<>(waiting);
        waiting.clear();
        return copy;
    }

    /** The bytes appended so far. */
    public synchronized long length() {
        return length;
    }

    /** Whether the body is complete. */
    public synchronized boolean isComplete() {
        return complete;
    }

    /** The chunks (for a complete body). */
    public synchronized List<ByteBuffer> chunks() {
        return List.copyOf(chunks);
    }

    /** A publisher of the whole body. */
    public Flow.Publisher<ByteBuffer> publisher() {
        return publisher(0, Long.MAX_VALUE);
    }

    /** A publisher of {@code length} bytes from {@code offset} (to the end for {@code Long.MAX_VALUE}). */
    public Flow.Publisher<ByteBuffer> publisher(long offset, long length) {
        return subscriber -> {
            Reader reader = new Reader(subscriber, offset, length);
            subscriber.onSubscribe(reader);
        };
    }

    /** One subscription: a position in the chunk list and a demand counter, drained by one thread at a time. */
    private final class Reader implements Flow.Subscription {
        private final Flow.Subscriber<? super ByteBuffer> subscriber;
        private final AtomicLong demand = new AtomicLong();
        private final AtomicInteger wip = new AtomicInteger();
        private long skip;
        private long remaining;
        private int index;
        private volatile boolean done;

        Reader(Flow.Subscriber<? super ByteBuffer> subscriber, long offset, long length) {
            this.subscriber = subscriber;
            this.skip = offset;
            this.remaining = length;
        }

        @Override
        public void request(long n) {
            if (n <= 0) {
                cancel();
                subscriber.onError(new IllegalArgumentException("request(" + n + ") (expected: > 0)"));
                return;
            }
            demand.getAndAccumulate(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
            drain();
        }

        @Override
        public void cancel() {
            done = true;
        }

        void drain() {
            if (wip.getAndIncrement() != 0) {
                return;
            }
            int missed = 1;
            do {
                while (!done) {
                    if (remaining == 0) {
                        done = true;
                        subscriber.onComplete();
                        break;
                    }
                    ByteBuffer next;
                    boolean end;
                    Throwable failed;
                    synchronized (ChunkedBody.this) {
                        next = index < chunks.size() ? chunks.get(index) : null;
                        end = next == null && complete;
                        failed = next == null ? failure : null;
                        if (next == null && !end && failed == null) {
                            waiting.add(this);
                        }
                    }
                    if (next == null) {
                        if (end) {
                            done = true;
                            subscriber.onComplete();
                        } else if (failed != null) {
                            done = true;
                            subscriber.onError(failed instanceof CancellationException ? failed
                                    : new IllegalStateException("cache fill failed", failed));
                        }
                        break;
                    }
                    if (skip >= next.remaining()) {
                        skip -= next.remaining();
                        index++;
                        continue;
                    }
                    if (demand.get() == 0) {
                        break;
                    }
                    ByteBuffer slice = next.duplicate();
                    if (skip > 0) {
                        slice.position(slice.position() + (int) skip);
                        skip = 0;
                    }
                    if (slice.remaining() > remaining) {
                        slice.limit(slice.position() + (int) remaining);
                    }
                    remaining -= remaining == Long.MAX_VALUE ? 0 : slice.remaining();
                    index++;
                    demand.decrementAndGet();
                    subscriber.onNext(slice);
                }
                missed = wip.addAndGet(-missed);
            } while (missed != 0);
        }
    }
}
