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
 * @param duration from the request head to the last response byte (or the failure)
 * @param clientAddress the client's IP address, as text
 * @param user the authenticated user, or {@code null}
 * @param method the request method
 * @param target the target as the client gave it, absolute ({@code http://host/path}) or {@code host:port}
 * @param protocol the client's protocol, such as {@code HTTP/1.1}
 * @param status the status sent to the client; 0 if none could be sent
 * @param bytesIn request body bytes read from the client
 * @param bytesOut response body bytes written to the client
 * @param upstream the upstream used ({@code host:port}), or {@code null} when none was contacted
 * @param cacheStatus the cache outcome such as {@code HIT}, or {@code null}
 * @param referer the {@code Referer} header, or {@code null}
 * @param userAgent the {@code User-Agent} header, or {@code null}
 * @param reason why the proxy answered by itself or failed ("denied by ...", "connection refused"), or {@code null}
 * @param completed whether the response was delivered in full
 * @param tries how many upstream requests were made (0 when none, more than 1 after retries)
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
        String cacheStatus,
        String referer,
        String userAgent,
        String reason,
        boolean completed,
        int tries) {

    /** The user, if one was authenticated. */
    public Optional<String> userName() {
        return Optional.ofNullable(user);
    }
}
