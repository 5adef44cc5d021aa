package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.util.concurrent.Flow;

/**
 * A response served by a cache: status, headers and a body that streams with backpressure.
 *
 * <p>The relay subscribes to {@link #body()} at most once, requests one buffer at a time, and requests the next only
 * when the previous one was written to the client; it cancels the subscription if the client goes away. For
 * {@code HEAD} requests and bodiless statuses it does not subscribe at all. The headers should include
 * {@code Content-Length} when the length is known and {@code Age} (RFC 9111 §5.1).
 *
 * <p><b>Threading.</b> The publisher may call its subscriber from any thread, one signal at a time (the
 * {@link Flow} rules).
 */
public final class CachedResponse {
    private final int status;
    private final HttpHeaders headers;
    private final Flow.Publisher<ByteBuffer> body;

    /** Creates a response; {@code headers} is copied. */
    public CachedResponse(int status, HttpHeaders headers, Flow.Publisher<ByteBuffer> body) {
        checkArgument(status >= 200 && status <= 599, "status: %s (expected: 200..599)", status);
        this.status = status;
        this.headers = new HttpHeaders(requireNonNull(headers, "headers"));
        this.body = requireNonNull(body, "body");
    }

    /** The status code. */
    public int status() {
        return status;
    }

    /** The headers (a copy). */
    public HttpHeaders headers() {
        return new HttpHeaders(headers);
    }

    /** The body. */
    public Flow.Publisher<ByteBuffer> body() {
        return body;
    }
}
