package io.github.gatehouse.core;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * One finished exchange, as the access log records it.
 *
 * <p>Immutable and thread-safe. Optional fields are {@code null} when unknown; their accessors say so.
 *
 * @param exchangeId the exchange's id
 * @param start when the request head arrived
 * @param duration from the request head to the last response byte (or the failure); for a {@code CONNECT} tunnel,
 *     to the moment both of its connections had closed
 * @param clientAddress the client's IP address, as text; {@code -} for a background exchange, one the proxy sent for
 *     its cache without a client (a background revalidation, see {@link RelayAccess})
 * @param user the authenticated user, or {@code null}
 * @param method the request method
 * @param target the target as the client gave it, absolute ({@code http://host/path}) or {@code host:port}
 * @param protocol the client's protocol, such as {@code HTTP/1.1}
 * @param status the status sent to the client; 0 if none could be sent
 * @param bytesIn request body bytes read from the client; for a tunnel, the bytes the client sent through it (client
 *     to origin)
 * @param bytesOut response body bytes written to the client; for a tunnel, the bytes the proxy wrote to the client
 *     through it (origin to client). Headers are not counted, nor the proxy's {@code 200} answer that opens a
 *     tunnel
 * @param upstream the upstream used ({@code host:port}), or {@code null} when none was contacted
 * @param cacheStatus what the cache did, such as {@link CacheStatus#HIT}, or {@code null} when no cache took part
 * @param referer the {@code Referer} header, or {@code null}
 * @param userAgent the {@code User-Agent} header, or {@code null}
 * @param reason why the proxy answered by itself or failed ("denied by ...", "connection refused"), or {@code null}
 * @param completed whether the response was delivered in full
 * @param tries how many upstream requests were made (0 when none, more than 1 after retries)
 * @param denied whether the proxy refused the request by its own rules: an authentication challenge or refusal
 *     (401, 407, 403), a request filter's answer with an error status (a 403 denial, a 429 rate limit, ...), a
 *     {@code CONNECT} port that is not allowed, or an internal destination found after DNS resolution. An error
 *     status the origin sent (an origin's own 403) is not a refusal; neither is a malformed request (400) or a
 *     failed upstream (502, 504)
 * @param background whether it was a background exchange: one the proxy sent for its cache without a client (a
 *     background revalidation, a missing-range fetch; see {@link RelayAccess}), not a client's request. Its
 *     {@code clientAddress} is {@code -}
 */
public record AccessLogEntry(
        String exchangeId,
        Instant start,
        Duration duration,
        String clientAddress,
        String user,
        String method,
        String target,
        String protocol,
        int status,
        long bytesIn,
        long bytesOut,
        String upstream,
        CacheStatus cacheStatus,
        String referer,
        String userAgent,
        String reason,
        boolean completed,
        int tries,
        boolean denied,
        boolean background) {

    /** An entry for a client's exchange ({@code background} is {@code false}). */
    public AccessLogEntry(String exchangeId, Instant start, Duration duration, String clientAddress, String user,
            String method, String target, String protocol, int status, long bytesIn, long bytesOut, String upstream,
            CacheStatus cacheStatus, String referer, String userAgent, String reason, boolean completed, int tries,
            boolean denied) {
        this(exchangeId, start, duration, clientAddress, user, method, target, protocol, status, bytesIn, bytesOut,
                upstream, cacheStatus, referer, userAgent, reason, completed, tries, denied, false);
    }

    /** An entry for a client's exchange the proxy did not refuse ({@code denied} and {@code background} false). */
    public AccessLogEntry(String exchangeId, Instant start, Duration duration, String clientAddress, String user,
            String method, String target, String protocol, int status, long bytesIn, long bytesOut, String upstream,
            CacheStatus cacheStatus, String referer, String userAgent, String reason, boolean completed, int tries) {
        this(exchangeId, start, duration, clientAddress, user, method, target, protocol, status, bytesIn, bytesOut,
                upstream, cacheStatus, referer, userAgent, reason, completed, tries, false, false);
    }

    /** The user, if one was authenticated. */
    public Optional<String> userName() {
        return Optional.ofNullable(user);
    }
}
