package io.github.gatehouse.core.internal;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;

/**
 * A request body that nobody read because the proxy answered first (a 407 challenge, a filter's 403 or 429).
 *
 * <p>Left alone, Jetty ends such an exchange by closing the connection while the client may still be sending:
 * the unread bytes make the close a reset, and a client that writes its whole body before reading (Apache
 * HttpClient 5 posting through an authenticating proxy) fails with "broken pipe" instead of seeing the 407 and
 * retrying with credentials. So a body of known length up to {@link #DRAIN_LIMIT} is read and discarded after
 * the answer was written, and the connection stays open for the retry, as nginx and Squid do. A longer or
 * chunked body, or one the client holds back for {@code 100-continue}, gets the answer with
 * {@code Connection: close} instead.
 *
 * <p><b>Threading.</b> Stateless; the drain runs on whichever thread Jetty calls it from and never blocks.
 */
final class UnreadRequestBody implements Runnable {
    /** The longest body read and discarded to keep a connection open (nginx's default body limit). */
    static final long DRAIN_LIMIT = 1024 * 1024;

    private final Request request;
    private final ExchangeImpl exchange;
    private final Callback done;

    private UnreadRequestBody(Request request, ExchangeImpl exchange, Callback done) {
        this.request = request;
        this.exchange = exchange;
        this.done = done;
    }

    /** Whether the client sends (or may send) body bytes that nobody has read. */
    static boolean isPending(Request request) {
        long length = request.getLength();
        return length > 0 || (length < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING));
    }

    /** Whether a pending body can be drained: its length is known, within the limit, and not held back. */
    static boolean isDrainable(Request request) {
        long length = request.getLength();
        return length > 0 && length <= DRAIN_LIMIT
                && !request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString());
    }

    /** A callback for the answer's write that reads the rest of the body, then completes {@code done}. */
    static Callback drainThen(Request request, ExchangeImpl exchange, Callback done) {
        return Callback.from(() -> new UnreadRequestBody(request, exchange, done).run(), done::failed);
    }

    @Override
    public void run() {
        while (true) {
            Content.Chunk chunk = request.read();
            if (chunk == null) {
                request.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                done.failed(chunk.getFailure());
                return;
            }
            exchange.addBytesIn(chunk.remaining());
            boolean last = chunk.isLast();
            chunk.release();
            if (last) {
                done.succeeded();
                return;
            }
        }
    }
}
