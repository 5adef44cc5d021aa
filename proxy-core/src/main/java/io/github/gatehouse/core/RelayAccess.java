package io.github.gatehouse.core;

import java.util.concurrent.CompletionStage;

/**
 * Lets a cache send a request of its own upstream through the relay's own path: the requests a cache makes without a
 * client, such as a background revalidation ({@code stale-while-revalidate}, RFC 5861). The proxy hands one to each
 * cache it installs ({@link HttpCache#attach}).
 *
 * <p>Such a request is a <em>background exchange</em>: it starts at phase 6 of the relay, as if a client's exchange
 * had passed phases 1 to 5 with {@code request} as its head and {@code lookup} as the cache's answer. So it gets what a
 * client's request gets from there on, from the same code: the route's pool (load balancing, stickiness, health,
 * outlier accounting, per-member limits), retries and their budget, the destination policy of forward mode, the
 * {@code Host} policy of the route, {@code Via}, {@code X-Forwarded-For} and {@code Forwarded}, the lookup's
 * conditional headers, and the relay's timeouts. The relay then calls {@link HttpCache#onUpstreamResponse} (and
 * {@link HttpCache#onUpstreamFailure}) with the background exchange and {@code lookup}, exactly as for a client's
 * exchange: the body of a response the cache decides to {@link CacheDecision#store store} streams into its writer;
 * nothing is served to anyone.
 *
 * <p>What it does not get: phases 1 to 5 do not run again (the client's exchange that made the cache send it already
 * passed them), so no authenticator and no request filter sees it, and {@code request} is sent as the filters left
 * the client's head (their rewrites included). Response filters do not run either: no client sees the response. A
 * background exchange has no client: its {@link Exchange#clientAddress()} is the unresolved address {@code "-"}, so
 * its access-log line shows {@code -} as the client (and no user), and the forwarding fields say {@code for=unknown}.
 * Its line and its {@link ExchangeListener} event are written like any other exchange's when it ends, marked as a
 * background exchange ({@link AccessLogEntry#background()}, {@link ExchangeEvent#background()}).
 *
 * <p><b>Threading.</b> Thread-safe; {@link #send} does not block and may be called from I/O threads, also from within
 * {@link HttpCache#lookup}.
 */
@FunctionalInterface
public interface RelayAccess {

    /**
     * Sends {@code request} upstream as the relay would send {@code original}'s request (its mode and route), as a
     * background exchange (see the type's description).
     *
     * @param request the head to send: method, target and headers; it must carry no body ({@link RequestHead#hasBody()}
     *     false). Its target must be the one {@code original} was resolved to (the route's pool is {@code original}'s).
     * @param original the client's exchange on whose behalf the cache sends it; read during this call only, so the
     *     call must come while that exchange is in progress (such as from {@link HttpCache#lookup})
     * @param lookup what the relay hands back to {@link HttpCache#onUpstreamResponse} and
     *     {@link HttpCache#onUpstreamFailure} for the background exchange; a {@link CacheLookup#revalidate revalidation}
     *     adds its conditional headers to the request
     * @return a stage completed with the upstream's status once the background exchange ended with the upstream's whole
     *     response; exceptionally, with an {@link java.io.IOException} whose message is the reason, when the proxy
     *     answered by itself (no healthy upstream, connection refused, timeout: the 502, 503 or 504 a client would have
     *     had) or the response broke off
     * @throws IllegalArgumentException if {@code request} has a body, or {@code original} is not an exchange of this
     *     proxy
     */
    CompletionStage<Integer> send(RequestHead request, Exchange original, CacheLookup lookup);
}
