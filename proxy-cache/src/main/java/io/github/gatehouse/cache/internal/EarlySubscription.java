package io.github.gatehouse.cache.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.Flow;

/**
 * A body whose source is subscribed to at once, when it is made, and handed to the one subscriber that comes later:
 * a stored piece that a response reads only after other bytes (the stored bytes after a missing range that is being
 * fetched). A store opens an entry's bytes when it is subscribed to (the disk store maps the file), so subscribing
 * early keeps those bytes readable even if the entry is replaced meanwhile (by the combined one). Demand stays the
 * later subscriber's: nothing flows before it asks.
 *
 * <p><b>Threading.</b> Thread-safe; signals follow the {@link Flow} rules. At most one subscriber (a second one gets
 * {@code onError}).
 */
final class EarlySubscription implements Flow.Publisher<ByteBuffer> {
    private Flow.Subscription upstream;
    private Flow.Subscriber<? super ByteBuffer> downstream;
    /** Whether the downstream's onSubscribe returned: terminal signals may go to it from then on. */
    private boolean ready;
    private long demand;
    private boolean cancelled;
    private Throwable failed;
    private boolean completed;

    EarlySubscription(Flow.Publisher<ByteBuffer> source) {
        source.subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                long d;
                boolean cancel;
                synchronized (EarlySubscription.this) {
                    upstream = s;
                    d = demand;
                    demand = 0;
                    cancel = cancelled;
                }
                if (cancel) {
                    s.cancel();
                } else if (d > 0) {
                    s.request(d);
                }
            }

            @Override
            public void onNext(ByteBuffer item) {
                Flow.Subscriber<? super ByteBuffer> d;
                synchronized (EarlySubscription.this) {
                    d = downstream; // set: items come only on its demand
                }
                d.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                terminal(t);
            }

            @Override
            public void onComplete() {
                terminal(null);
            }
        });
    }

    private void terminal(Throwable t) {
        Flow.Subscriber<? super ByteBuffer> d;
        synchronized (this) {
            if (!ready) {
                failed = t;
                completed = t == null;
                return;
            }
            d = downstream;
        }
        signal(d, t);
    }

    private static void signal(Flow.Subscriber<? super ByteBuffer> d, Throwable t) {
        if (t != null) {
            d.onError(t);
        } else {
            d.onComplete();
        }
    }

    @Override
    public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
        synchronized (this) {
            if (downstream != null) {
                subscriber.onSubscribe(new Flow.Subscription() {
                    @Override
                    public void request(long n) {
                    }

                    @Override
                    public void cancel() {
                    }
                });
                subscriber.onError(new IllegalStateException("an early subscription has one subscriber"));
                return;
            }
            downstream = subscriber;
        }
        subscriber.onSubscribe(new Flow.Subscription() {
            @Override
            public void request(long n) {
                Flow.Subscription s;
                synchronized (EarlySubscription.this) {
                    s = upstream;
                    if (s == null) {
                        demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                        return;
                    }
                }
                s.request(n);
            }

            @Override
            public void cancel() {
                Flow.Subscription s;
                synchronized (EarlySubscription.this) {
                    cancelled = true;
                    s = upstream;
                }
                if (s != null) {
                    s.cancel();
                }
            }
        });
        Throwable t;
        boolean end;
        synchronized (this) {
            ready = true;
            t = failed;
            end = completed || failed != null;
        }
        if (end) {
            signal(subscriber, t);
        }
    }
}
