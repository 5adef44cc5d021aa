package io.github.gatehouse.core.internal;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Tells the relay whether an HTTP/2 request has a body, in the terms the relay asks in: HTTP/1 framing.
 *
 * <p>The relay decides "has a body" from {@code Content-Length} or {@code Transfer-Encoding} (RFC 9112 §6.3). An
 * HTTP/2 request has neither when its length is unknown: its body runs until a frame with END_STREAM (RFC 9113 §8.1),
 * and a request without a body has END_STREAM on its HEADERS frame. Jetty shows that only through the content: for
 * such a request the first {@link Request#read()} returns {@link Content.Chunk#EOF} at once, and reading it consumes
 * nothing (EOF stays). So for an HTTP/2 request without {@code Content-Length} this handler reads once: EOF means no
 * body, and the request passes unchanged; anything else means a body, and the relay gets a request that returns that
 * first chunk again and carries {@code Transfer-Encoding: chunked} among its fields. That field is hop-by-hop: it
 * never leaves the proxy, and the upstream request is framed by what the relay reads, as for HTTP/1.1. Thread-safe.
 */
final class Http2RequestBodies extends Handler.Wrapper {

    Http2RequestBodies(Handler next) {
        super(next);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if (request.getLength() >= 0 || "CONNECT".equals(request.getMethod())
                || !HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())) {
            return super.handle(request, response, callback);
        }
        Content.Chunk first = request.read();
        if (first != null && first.isLast() && !first.hasRemaining() && !Content.Chunk.isFailure(first)) {
            return super.handle(request, response, callback); // END_STREAM on HEADERS: no body
        }
        return super.handle(new BodyFollows(request, first), response, callback);
    }

    /** The request with its first chunk given back, and its body made visible to HTTP/1 framing rules. */
    private static final class BodyFollows extends Request.Wrapper {
        private final HttpFields headers;
        private Content.Chunk first;

        BodyFollows(Request request, Content.Chunk first) {
            super(request);
            this.first = first;
            this.headers = HttpFields.build(request.getHeaders()).add(HttpHeader.TRANSFER_ENCODING, "chunked").asImmutable();
        }

        @Override
        public HttpFields getHeaders() {
            return headers;
        }

        @Override
        public Content.Chunk read() {
            Content.Chunk c;
            synchronized (this) {
                c = first;
                first = null;
            }
            return c != null ? c : super.read();
        }

        @Override
        public void demand(Runnable demandCallback) {
            boolean ready;
            synchronized (this) {
                ready = first != null;
            }
            if (ready) {
                demandCallback.run();
            } else {
                super.demand(demandCallback);
            }
        }

        @Override
        public void fail(Throwable failure) {
            Content.Chunk c;
            synchronized (this) {
                c = first;
                first = null;
            }
            if (c != null) {
                c.release();
            }
            super.fail(failure);
        }
    }
}
