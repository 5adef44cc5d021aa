package io.github.gatehouse.core;

import io.github.gatehouse.core.internal.AccessLogFormats;

/**
 * Renders an {@link AccessLogEntry} as one line of text (without the line terminator).
 *
 * <p>Implementations must be thread-safe and cheap; they run once per exchange.
 */
@FunctionalInterface
public interface AccessLogFormat {
    /** Renders {@code entry}. */
    String format(AccessLogEntry entry);

    /**
     * Squid's native format: {@code time.ms elapsed-ms client action/status bytes method URL user hierarchy/peer
     * type}, for example {@code 1700000000.123    12 127.0.0.1 TCP_MISS/200 1024 GET http://a.example/ -
     * HIER_DIRECT/10.0.0.1:80 -}. Requests the proxy refused are {@code TCP_DENIED} (see
     * {@link AccessLogEntry#denied()}); a {@code CONNECT} tunnel is one {@code TCP_TUNNEL/200} line written when it
     * closed, with the bytes sent to the client and the tunnel's whole duration.
     */
    static AccessLogFormat squid() {
        return AccessLogFormats.SQUID;
    }

    /**
     * Apache's combined log format, followed by the bytes received from the client (as mod_logio's {@code %I}), the
     * duration in microseconds (as {@code %D}) and {@code denied} or {@code -}: for example {@code 127.0.0.1 - alice
     * [14/Nov/2023:22:13:20 +0000] "GET http://a.example/ HTTP/1.1" 200 1024 "-" "curl/8" 0 12000 -}.
     */
    static AccessLogFormat combined() {
        return AccessLogFormats.COMBINED;
    }

    /**
     * One JSON object per line, with every field of the entry ({@code "denied":true} for a refused request,
     * {@code "background":true} for a request the proxy sent for its cache without a client).
     */
    static AccessLogFormat json() {
        return AccessLogFormats.JSON;
    }

    /**
     * The format named {@code squid}, {@code combined} or {@code json}.
     *
     * @throws IllegalArgumentException for any other name
     */
    static AccessLogFormat named(String name) {
        switch (name) {
            case "squid": return squid();
            case "combined": return combined();
            case "json": return json();
            default: throw new IllegalArgumentException("access log format: " + name + " (expected: squid, combined or json)");
        }
    }
}
