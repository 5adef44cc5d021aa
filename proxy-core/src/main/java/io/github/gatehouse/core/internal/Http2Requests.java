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
 * Shows the relay an HTTP/2 request in the terms it reads requests in, HTTP/1.1's, in front of it: the relay itself
 * needs no change for HTTP/2 clients.
 *
 * <ul>
 *   <li><b>Host.</b> An HTTP/2 request names its target host in {@code :authority} and usually has no {@code Host}
 *   field; RFC 9113 §8.3.1 asks an intermediary that forwards it as HTTP/1.1 to make one from {@code :authority}.
 *   The relay reads {@code Host} for {@code X-Forwarded-Host} and {@code Forwarded: host=}.</li>
 *   <li><b>Has a body.</b> The relay decides that from {@code Content-Length} or {@code Transfer-Encoding} (RFC 9112
 *   §6.3). An HTTP/2 request has neither when its length is unknown: its body runs until a frame with END_STREAM (RFC
 *   9113 §8.1), and a request without a body has END_STREAM on its HEADERS frame. Jetty shows that only through the
 *   content: for such a request the first {@link Request#read()} returns {@link Content.Chunk#EOF} at once, and
 *   reading it consumes nothing (EOF stays). So for a request without {@code Content-Length} this handler reads once:
 *   EOF means no body; anything else means a body, and the relay gets a request that returns that first chunk again
 *   and carries {@code Transfer-Encoding: chunked} among its fields. That field is hop-by-hop: it never leaves the
 *   proxy, and the upstream request is framed by what the relay reads, as for HTTP/1.1.</li>
 * </ul>
 * HTTP/1 requests pass untouched, without an allocation. Thread-safe.
 */
final class Http2Requests extends Handler.Wrapper {

    Http2Requests(Handler next) {
        super(next);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if (!HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())) {
            return super.handle(request, response, callback);
        }
        String authority = request.getHttpURI().getAuthority();
        boolean addHost = !request.getHeaders().contains(HttpHeader.HOST) && authority != null && !authority.isEmpty();
        boolean mayHaveBody = request.getLength() < 0 && !"CONNECT".equals(request.getMethod());
        Content.Chunk first = null;
        boolean body = false;
        if (mayHaveBody) {
            first = request.read();
            body = !(first != null && first.isLast() && !first.hasRemaining() && !Content.Chunk.isFailure(first));
            if (!body) {
                first = null; // EOF: nothing to give back, later reads return it again
            }
        }
        if (!addHost && !body) {
            return super.handle(request, response, callback);
        }
        HttpFields.Mutable fields = HttpFields.build(request.getHeaders());
        if (addHost) {
            fields.put(HttpHeader.HOST, authority);
        }
        if (body) {
            fields.add(HttpHeader.TRANSFER_ENCODING, "chunked");
        }
        return super.handle(new Http1View(request, fields.asImmutable(), first), response, callback);
    }

    /**
     * Forward proxying for HTTP/2 clients: an HTTP/2 request has no absolute form, its {@code :scheme} and
     * {@code :authority} name the target (RFC 9113 §8.3.1). On a forward proxy, such a request that no reverse route
     * takes is a forward request for {@code scheme://authority/path}, as an HTTP/1.1 absolute-form one would be (a
     * request naming the proxy itself is then refused like any internal destination, or as a loop). Returns that
     * target, or null for HTTP/1 requests and requests a route takes; for {@code CONNECT}, its authority. An extended
     * {@code CONNECT} (RFC 8441, WebSocket over HTTP/2) is the {@code GET} it stands for: {@code :scheme},
     * {@code :authority} and {@code :path} make its target, as for any other method.
     */
    static String forwardTarget(Request request, ProxyConfig config) {
        if (!HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())) {
            return null;
        }
        org.eclipse.jetty.http.HttpURI uri = request.getHttpURI();
        if ("CONNECT".equals(request.getMethod()) && !UpgradePhase.isExtendedConnect(request)) {
            return uri.getAuthority(); // authority-form, as HTTP/1.1 writes it (for the access log)
        }
        if (uri.getHost() == null || uri.getHost().isEmpty() || uri.getScheme() == null) {
            return null;
        }
        String host = RequestHeadImpl.normalizeHost(uri.getHost());
        String path = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        for (io.github.gatehouse.core.Route r : config.routes()) {
            if (ApiAccess.routes().matches(r, host, path)) {
                return null;
            }
        }
        return uri.asString();
    }

    /** The request with HTTP/1.1's fields, and its first chunk (if one was read) given back. */
    private static final class Http1View extends Request.Wrapper {
        private final HttpFields headers;
        private Content.Chunk first;

        Http1View(Request request, HttpFields headers, Content.Chunk first) {
            super(request);
            this.headers = headers;
            this.first = first;
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
