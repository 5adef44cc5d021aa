package io.github.gatehouse.core;

import java.time.Duration;
import java.time.Instant;

/**
 * One finished exchange, as observers (metrics, the admin page, a recorder) see it: what was asked, how it ended,
 * how long it took and where it went. Delivered to each {@link ExchangeListener} once per exchange, in phase 10; a
 * {@code CONNECT} tunnel is delivered when both of its connections have closed.
 *
 * <p>Most fields have a small, bounded set of values ({@link #route}, {@link #methodClass}, {@link #statusClass},
 * {@link #outcome}, {@link #member}), fit for metric tags. {@link #target} and {@link #reason} are not: use them in
 * logs and error lists, never as tags.
 *
 * <p>Immutable and thread-safe.
 *
 * @param exchangeId the exchange's id, as in log lines
 * @param start when the request head arrived
 * @param route the {@linkplain Route#label() label} of the route that matched, {@code forward} for a forward
 *     exchange, or {@code none} when no route matched (or the request was refused before routing)
 * @param method the request method as sent (any token; see {@link #methodClass()} for a bounded form)
 * @param target the request target as the client gave it (unbounded: not a tag)
 * @param status the status sent to the client; 0 when none could be sent
 * @param outcome {@code ok} (an answer from the upstream or the cache, whatever its status), {@code denied} (the
 *     proxy refused by its own rules: authentication, a filter, a port or destination policy), the RFC 9209
 *     {@code Proxy-Status} error type when the proxy answered an error by itself ({@code destination_unavailable},
 *     {@code connection_refused}, {@code connection_timeout}, {@code http_request_error}, ...), {@code answered}
 *     when the proxy answered by itself without an error type, or {@code aborted} when the exchange ended without a
 *     complete response
 * @param duration from the request head to the last byte (or the failure); for a tunnel, its whole life
 * @param member the pool member that served the last try ({@link Upstream#uri()} text), or {@code null} for a
 *     forward exchange or when no member was tried
 * @param upstreamLatency time from sending the last try upstream to its response head, or {@code null} when no
 *     response head arrived
 * @param tries how many upstream requests were made (more than 1 after retries)
 * @param bytesIn request body bytes read from the client (for a tunnel, client to origin)
 * @param bytesOut response body bytes written to the client (for a tunnel, origin to client)
 * @param cacheStatus what the cache did ({@link CacheStatus#HIT}, {@code MISS}, {@code STALE}...), or {@code null} when no
 *     cache took part
 * @param authenticated whether an {@link Authenticator} accepted a user for it
 * @param deniedBy the {@linkplain ProxyFilter#name() name} of the request filter that refused it, or {@code null}
 * @param tunnel whether it was a {@code CONNECT} tunnel
 * @param reason why the proxy answered by itself or failed, or {@code null} (unbounded: not a tag)
 * @param background whether it was a background exchange: one the proxy sent for its cache without a client (a
 *     background revalidation, a missing-range fetch; see {@link RelayAccess}), not a client's request
 */
public record ExchangeEvent(String exchangeId, Instant start, String route, String method, String target, int status,
        String outcome, Duration duration, String member, Duration upstreamLatency, int tries, long bytesIn,
        long bytesOut, CacheStatus cacheStatus, boolean authenticated, String deniedBy, boolean tunnel, String reason,
        boolean background) {

    /** An event for a client's exchange ({@code background} is {@code false}). */
    public ExchangeEvent(String exchangeId, Instant start, String route, String method, String target, int status,
            String outcome, Duration duration, String member, Duration upstreamLatency, int tries, long bytesIn,
            long bytesOut, CacheStatus cacheStatus, boolean authenticated, String deniedBy, boolean tunnel, String reason) {
        this(exchangeId, start, route, method, target, status, outcome, duration, member, upstreamLatency, tries,
                bytesIn, bytesOut, cacheStatus, authenticated, deniedBy, tunnel, reason, false);
    }

    /** The outcome of an exchange answered from the upstream or the cache. */
    public static final String OK = "ok";
    /** The outcome of an exchange the proxy refused by its own rules. */
    public static final String DENIED = "denied";
    /** The outcome of an exchange that ended without a complete response. */
    public static final String ABORTED = "aborted";
    /** The outcome of an exchange the proxy answered by itself without an error (a redirect, a canned page). */
    public static final String ANSWERED = "answered";

    /** Whether the client got a complete response from the upstream or the cache. */
    public boolean isOk() {
        return OK.equals(outcome);
    }

    /** The method, or {@code OTHER} for a method outside RFC 9110's and PATCH (a bounded tag value). */
    public String methodClass() {
        switch (method) {
            case "GET": case "HEAD": case "POST": case "PUT": case "DELETE": case "CONNECT": case "OPTIONS":
            case "TRACE": case "PATCH":
                return method;
            default:
                return "OTHER";
        }
    }

    /** {@code 1xx} ... {@code 5xx}, or {@code none} when no status was sent. */
    public String statusClass() {
        return status >= 100 && status <= 599 ? (status / 100) + "xx" : "none";
    }
}
