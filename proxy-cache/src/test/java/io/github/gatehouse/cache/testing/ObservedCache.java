package io.github.gatehouse.cache.testing;

import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.ResponseHead;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * Passes every call to another {@link HttpCache} and counts the lookups that have returned, so that a test waits for
 * a request to have reached the cache instead of polling its statistics. The cache's lookup decides synchronously
 * whether a request follows another one's fill (request collapsing): once it returned, a follower is attached.
 *
 * <p><b>Threading.</b> Thread-safe, like the cache it wraps; the counter is guarded by this object's monitor.
 */
public final class ObservedCache implements HttpCache, AutoCloseable {
    private final HttpCache cache;
    private int lookups;

    public ObservedCache(HttpCache cache) {
        this.cache = cache;
    }

    @Override
    public CompletionStage<CacheLookup> lookup(Exchange exchange) {
        CompletionStage<CacheLookup> stage = cache.lookup(exchange);
        synchronized (this) {
            lookups++;
            notifyAll();
        }
        return stage;
    }

    @Override
    public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
        return cache.onUpstreamResponse(exchange, lookup, response);
    }

    @Override
    public Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
        return cache.onUpstreamFailure(exchange, lookup, failure);
    }

    @Override
    public void attach(io.github.gatehouse.core.RelayAccess relay) {
        cache.attach(relay);
    }

    /** Lookups that have returned so far. */
    public synchronized int lookups() {
        return lookups;
    }

    /** Waits (at most 5 s) until {@code total} lookups in all have returned. */
    public synchronized void awaitLookups(int total) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (lookups < total) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("not within 5 s: " + total + " cache lookups (" + lookups + ")");
            }
            TimeUnit.NANOSECONDS.timedWait(this, left); // woken by lookup
        }
    }

    /** Closes the wrapped cache if it is closeable, as the proxy would have. */
    @Override
    public void close() throws Exception {
        if (cache instanceof AutoCloseable) {
            ((AutoCloseable) cache).close();
        }
    }

    @Override
    public String toString() {
        return cache.toString();
    }
}
