package io.github.gatehouse.core;

/**
 * The head of a response on its way to the client: status and headers.
 *
 * <p>Filters see it in {@link ProxyFilter#onResponse} and may change the status or headers. Hop-by-hop fields are
 * already gone; {@code Via} is already added.
 *
 * <p><b>Threading.</b> Not thread-safe; it belongs to one exchange.
 */
public interface ResponseHead {
    /** The status code. */
    int status();

    /** Changes the status code (100 to 599). */
    void status(int status);

    /** The header fields; mutable. */
    HttpHeaders headers();
}
