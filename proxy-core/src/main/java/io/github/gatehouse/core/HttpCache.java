package io.github.gatehouse.core;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The cache SPI: how the relay asks a cache for stored responses and hands it responses to store.
 *
 * <p>The relay calls, for each non-{@code CONNECT} exchange whose request filters let it pass:
 * <ol>
 *   <li>{@link #lookup} before going upstream. A {@link CacheLookup#hit hit} is served to the client (through the
 *       response filters) and nothing goes upstream. A {@link CacheLookup#revalidate revalidation} adds conditional
 *       headers to the upstream request. A {@link CacheLookup#miss miss} goes upstream unchanged.</li>
 *   <li>{@link #onUpstreamResponse} when the upstream's response head arrives. The cache may
 *       {@link CacheDecision#store store} the response (the relay feeds the body to the returned
 *       {@link CacheWriter} as it streams to the client), {@link CacheDecision#serve serve} a stored response
 *       instead (a 304 that validated a stored entry), or {@link CacheDecision#pass pass}. Invalidation after
 *       unsafe methods (RFC 9111 §4.4) happens here too.</li>
 *   <li>{@link #onUpstreamFailure} when the upstream could not be reached or did not answer, to serve a stale
 *       response instead of an error (RFC 5861 {@code stale-if-error}).</li>
 * </ol>
 * A cache records its outcome with {@link #recordStatus(Exchange, CacheStatus)} for the access log.
 *
 * <p>The same calls come for the background exchanges a cache starts itself through {@link RelayAccess#send} (the
 * access given to {@link #attach}), with the lookup the cache passed there.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads; must be thread-safe and must not block (slow store work
 * completes the returned stage later).
 */
public interface HttpCache {

    /**
     * Records what the cache did for {@code exchange}, for the access log and {@link Exchange#cacheStatus()}; for
     * cache implementations, from the calls of this interface. The last call wins; {@code null} clears it. An
     * exchange that this proxy did not make (a test double) is left as it is.
     */
    static void recordStatus(Exchange exchange, CacheStatus status) {
        io.github.gatehouse.core.internal.ExchangeAccess.recordCacheStatus(exchange, status);
    }

    /** Looks up a stored response for the exchange's request; never returns {@code null}. */
    CompletionStage<CacheLookup> lookup(Exchange exchange);

    /**
     * Decides what to do with the upstream's answer to a miss or a revalidation. {@code response} is the head the
     * client will get (before response filters); the cache may add headers to it (such as {@code Cache-Status}).
     */
    CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response);

    /** The upstream failed before any response byte: may return a stored response to serve instead. */
    default Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
        return Optional.empty();
    }

    /**
     * What the cache counted so far (hits, misses, stale, revalidations, bytes stored, evictions, size), for metrics
     * and the admin page; empty (the default) when it counts nothing. Cheap and non-blocking: it may be read on every
     * metrics scrape.
     */
    default Optional<CacheCounters> counters() {
        return Optional.empty();
    }

    /**
     * Gives the cache a way to send requests of its own upstream through the relay ({@link RelayAccess}), for
     * background revalidation. The proxy calls it when it installs the cache, before the first {@link #lookup}, and
     * again after a reconfiguration that keeps the cache: each call's access is as good as the last (all of them send
     * through the configuration in force). A cache that never calls upstream on its own ignores it (the default).
     */
    default void attach(RelayAccess relay) {
    }
}
