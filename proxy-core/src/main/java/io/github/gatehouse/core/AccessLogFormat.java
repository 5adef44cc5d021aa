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
     * HIER_DIRECT/10.0.0.1:80 -}.
     */
    static AccessLogFormat squid() {
        return AccessLogFormats.SQUID;
    }

    /** Apache's combined log format. */
    static AccessLogFormat combined() {
        return AccessLogFormats.COMBINED;
    }

    /** One JSON object per line, with every field of the entry. */
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
