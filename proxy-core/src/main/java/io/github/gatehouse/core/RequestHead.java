package io.github.gatehouse.core;

import java.net.URI;
import java.util.Optional;

/**
 * The head of a client request as the proxy will send it upstream: method, target and headers.
 *
 * <p>The target is always absolute here ({@code http://host:port/path?query}) whatever form the client used; for
 * {@code CONNECT} it is {@code https://host:port} with an empty path. Filters may change the target or the headers
 * in {@link ProxyFilter#onRequest}; changes made after the upstream request was sent have no effect.
 *
 * <p><b>Threading.</b> Not thread-safe; it belongs to one exchange.
 */
public interface RequestHead {
    /** The method, such as {@code GET} or {@code CONNECT}. */
    String method();

    /** The absolute target. */
    URI uri();

    /**
     * Replaces the target (a rewrite). The new URI must be absolute with an {@code http} or {@code https} scheme.
     *
     * @throws IllegalArgumentException if {@code uri} is not such a URI
     */
    void uri(URI uri);

    /** The target host, lower case, without brackets for IPv6 literals and without a trailing dot. */
    String host();

    /** The target port (the scheme's default when the target names none). */
    int port();

    /** {@code http} or {@code https}. */
    String scheme();

    /** The raw (still percent-encoded) path, {@code /} at least; empty for {@code CONNECT}. */
    String path();

    /** The raw (still percent-encoded) query without {@code ?}; empty when the target has no {@code ?}. */
    Optional<String> query();

    /** The protocol version the client spoke, such as {@code HTTP/1.1}. */
    String version();

    /** The header fields, after hop-by-hop fields were removed; mutable. */
    HttpHeaders headers();

    /**
     * Whether the client's request carries a body: it came with {@code Content-Length} greater than zero or with
     * {@code Transfer-Encoding}. The framing fields themselves are not in {@link #headers()} (the relay frames the
     * upstream request from the body it reads), so this is how a component tells a {@code GET} with a body from a
     * plain one; a cache, for one, must not answer or store such a request by its URI alone.
     *
     * <p>The default, for heads made outside the relay (test doubles), is {@code false}.
     */
    default boolean hasBody() {
        return false;
    }
}
