package io.github.gatehouse.core;

/**
 * The protocol a pool speaks to its members ({@link UpstreamPool#protocol}).
 *
 * <p>{@link #HTTP_1_1} is the default. {@link #H2} is HTTP/2 over TLS, agreed through ALPN, for {@code https://}
 * members. {@link #H2C} is cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3), for {@code http://} members that
 * are known to speak it. Over HTTP/2, requests to one member share its connections as concurrent streams.
 */
public enum UpstreamProtocol {
    /** HTTP/1.1, one request at a time on each pooled connection (the default). */
    HTTP_1_1,
    /** HTTP/2 over TLS, agreed through ALPN ({@code h2}); the members must be {@code https://}. */
    H2,
    /** Cleartext HTTP/2 with prior knowledge ({@code h2c}); the members must be {@code http://}. */
    H2C
}
