package io.github.gatehouse.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RelayAccess;
import io.github.gatehouse.core.RequestHead;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Components;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Context;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Session;
import org.eclipse.jetty.server.TunnelSupport;
import org.eclipse.jetty.util.Attributes;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's {@link RelayAccess}: background exchanges, the requests a cache sends upstream without a client
 * (background revalidation). Each is an {@link ExchangeContext} like a client's, on the relay of the configuration in
 * force, that enters the {@link ExchangeDriver} at phase 6 ({@link RelayState#CACHE_MISSED}): phases 6 to 10 are the
 * same code as for a client's exchange ({@link UpstreamSelector}, {@link UpstreamCall}, {@link BodyRelay}, the access
 * log), so nothing of upstream choice, retries, {@code Host}, {@code Via} or forwarding fields is copied here.
 *
 * <p>What stands in for the client: a {@link ClientlessRequest} (the head the cache gave, no body, no connection) and
 * a {@link ClientlessResponse} that takes every write at once and keeps only the status and a byte count. Nothing goes
 * through Jetty's server: no connector, no connection, no client address ({@code "-"}), so the exchange is neither
 * authenticated nor counted as a client connection. It counts as an exchange in flight of its relay (a drain or a
 * reconfiguration waits for it).
 *
 * <p><b>Threading.</b> Thread-safe and non-blocking; {@link #send} runs phase 6 on the caller's thread.
 */
final class BackgroundExchanges implements RelayAccess {
    private static final Logger LOG = LoggerFactory.getLogger(BackgroundExchanges.class);
    /** The client address of a background exchange: unresolved, so logs print {@code -} and forwarding fields {@code unknown}. */
    static final InetSocketAddress NO_CLIENT = InetSocketAddress.createUnresolved("-", 0);

    private final Supplier<RelayHandler> relay;

    /** Background exchanges on whichever relay {@code relay} returns at each {@link #send} (the one in force). */
    BackgroundExchanges(Supplier<RelayHandler> relay) {
        this.relay = requireNonNull(relay, "relay");
    }

    @Override
    public CompletionStage<Integer> send(RequestHead request, Exchange original, CacheLookup lookup) {
        requireNonNull(request, "request");
        requireNonNull(original, "original");
        requireNonNull(lookup, "lookup");
        if (request.hasBody()) {
            throw new IllegalArgumentException("a background request carries no body: " + request.method() + " "
                    + request.uri());
        }
        if (!(original instanceof ExchangeImpl origin) || origin.mode() == null || origin.mode() == Exchange.Mode.TUNNEL) {
            throw new IllegalArgumentException("not an HTTP exchange of this proxy: " + original);
        }
        RelayHandler r = relay.get();
        if (origin.mode() == Exchange.Mode.REVERSE && origin.route().flatMap(io.github.gatehouse.core.Route::pool).isEmpty()) {
            throw new IllegalArgumentException("a reverse exchange without a route pool: " + original);
        }
        RequestHeadImpl head = new RequestHeadImpl(request.method(), "HTTP/1.1", request.scheme(), request.host(),
                request.port(), request.path(), request.query().orElse(null), new HttpHeaders(request.headers()), false);
        ExchangeImpl exchange = new ExchangeImpl(r.nextId(), request.method(), NO_CLIENT, NO_CLIENT, head.target());
        exchange.mode(origin.mode());
        origin.route().ifPresent(exchange::route);
        exchange.request(head);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        ClientlessRequest clientRequest = new ClientlessRequest(exchange.id(), head);
        ClientlessResponse clientResponse = new ClientlessResponse(clientRequest);
        ExchangeContext x = new ExchangeContext(r, exchange, clientRequest, clientResponse, new Callback() {
            @Override
            public void succeeded() {
                if (exchange.answeredByProxy()) {
                    done.completeExceptionally(new IOException(clientResponse.getStatus() + " " + exchange.reason()));
                } else {
                    done.complete(clientResponse.getStatus());
                }
            }

            @Override
            public void failed(Throwable failure) {
                String reason = exchange.reason();
                done.completeExceptionally(new IOException(reason != null ? reason : Failures.describe(failure), failure));
            }
        }, head.target());
        // phases 1 to 5 ran for the client's exchange that made the cache send this one: it starts at phase 6
        x.moveTo(RelayState.HEAD_CHECKED);
        x.moveTo(RelayState.TARGET_RESOLVED);
        x.moveTo(RelayState.AUTHENTICATED);
        x.moveTo(RelayState.ADMITTED);
        x.lookup = lookup;
        x.moveTo(RelayState.CACHE_MISSED);
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} background {} {} for {}", exchange.id(), head.method(), head.target(), original.id());
        }
        r.backgroundStarted();
        r.driver().advance(x);
        return done;
    }

    /** The {@code Host} field a client would have sent for {@code head}'s target (forwarding fields name it). */
    private static String host(RequestHeadImpl head) {
        String h = head.host().indexOf(':') >= 0 ? "[" + head.host() + "]" : head.host();
        int defaultPort = head.scheme().equals("https") ? 443 : 80;
        return head.port() == defaultPort ? h : h + ":" + head.port();
    }

    /**
     * The client request of a background exchange: the cache's head, with no body, on no connection. Only what phases
     * 6 to 10 read is real: method, target, {@code Host}, protocol ({@code HTTP/1.1}), length (none).
     */
    static final class ClientlessRequest extends Attributes.Lazy implements Request {
        private final String id;
        private final String method;
        private final HttpURI uri;
        private final HttpFields headers;
        private final long nanos = System.nanoTime();
        private final MetaData metaData;

        ClientlessRequest(String id, RequestHeadImpl head) {
            this.id = id;
            this.method = head.method();
            this.uri = HttpURI.from(head.target());
            this.headers = HttpFields.build(1).put(HttpHeader.HOST, host(head)).asImmutable();
            this.metaData = new MetaData(id);
        }

        @Override
        public String getId() {
            return id;
        }

        @Override
        public Components getComponents() {
            return null;
        }

        @Override
        public ConnectionMetaData getConnectionMetaData() {
            return metaData;
        }

        @Override
        public String getMethod() {
            return method;
        }

        @Override
        public HttpURI getHttpURI() {
            return uri;
        }

        @Override
        public Context getContext() {
            return null;
        }

        @Override
        public HttpFields getHeaders() {
            return headers;
        }

        @Override
        public long getLength() {
            return -1; // no Content-Length and no Transfer-Encoding: no body
        }

        @Override
        public void demand(Runnable demandCallback) {
            demandCallback.run(); // read() has the end at once
        }

        @Override
        public HttpFields getTrailers() {
            return null;
        }

        @Override
        public long getBeginNanoTime() {
            return nanos;
        }

        @Override
        public long getHeadersNanoTime() {
            return nanos;
        }

        @Override
        public boolean isSecure() {
            return false;
        }

        @Override
        public Content.Chunk read() {
            return Content.Chunk.EOF;
        }

        @Override
        public void fail(Throwable failure) {
        }

        @Override
        public boolean consumeAvailable() {
            return true;
        }

        @Override
        public void addIdleTimeoutListener(Predicate<TimeoutException> onIdleTimeout) {
        }

        @Override
        public void addFailureListener(Consumer<Throwable> onFailure) {
        }

        @Override
        public TunnelSupport getTunnelSupport() {
            return null;
        }

        @Override
        public void addHttpStreamWrapper(Function<HttpStream, HttpStream> wrapper) {
            throw new UnsupportedOperationException("a background exchange has no stream");
        }

        @Override
        public Session getSession(boolean create) {
            return null;
        }

        @Override
        public String toString() {
            return "background " + method + " " + uri;
        }
    }

    /** No connection: HTTP/1.1, no addresses, not persistent. */
    private static final class MetaData extends Attributes.Lazy implements ConnectionMetaData {
        private final String id;

        MetaData(String id) {
            this.id = id;
        }

        @Override
        public String getId() {
            return id;
        }

        @Override
        public HttpConfiguration getHttpConfiguration() {
            return null;
        }

        @Override
        public HttpVersion getHttpVersion() {
            return HttpVersion.HTTP_1_1;
        }

        @Override
        public String getProtocol() {
            return HttpVersion.HTTP_1_1.asString();
        }

        @Override
        public Connection getConnection() {
            return null;
        }

        @Override
        public Connector getConnector() {
            return null;
        }

        @Override
        public boolean isPersistent() {
            return false;
        }

        @Override
        public SocketAddress getRemoteSocketAddress() {
            return NO_CLIENT;
        }

        @Override
        public SocketAddress getLocalSocketAddress() {
            return NO_CLIENT;
        }
    }

    /**
     * The client response of a background exchange: every write completes at once (the body relay's backpressure
     * then follows the upstream alone, and a stored body the cache's writer), and the bytes are counted, not kept.
     */
    static final class ClientlessResponse implements Response {
        private final Request request;
        private final HttpFields.Mutable headers = HttpFields.build();
        private volatile int status = 200;
        private volatile boolean committed;
        private volatile boolean lastWritten;
        private volatile Supplier<HttpFields> trailers;
        private volatile long bytes;

        ClientlessResponse(Request request) {
            this.request = request;
        }

        @Override
        public Request getRequest() {
            return request;
        }

        @Override
        public int getStatus() {
            return status;
        }

        @Override
        public void setStatus(int code) {
            if (!committed) {
                status = code;
            }
        }

        @Override
        public HttpFields.Mutable getHeaders() {
            return headers;
        }

        @Override
        public Supplier<HttpFields> getTrailersSupplier() {
            return trailers;
        }

        @Override
        public void setTrailersSupplier(Supplier<HttpFields> trailers) {
            this.trailers = trailers;
        }

        @Override
        public boolean isCommitted() {
            return committed;
        }

        @Override
        public boolean hasLastWrite() {
            return lastWritten;
        }

        @Override
        public boolean isCompletedSuccessfully() {
            return lastWritten;
        }

        @Override
        public void reset() {
            if (committed) {
                throw new IllegalStateException("committed");
            }
            headers.clear();
            status = 200;
            trailers = null;
        }

        @Override
        public CompletableFuture<Void> writeInterim(int code, HttpFields fields) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void write(boolean last, ByteBuffer content, Callback callback) {
            if (lastWritten) {
                callback.failed(new IllegalStateException("write after the last write"));
                return;
            }
            committed = true;
            if (content != null) {
                bytes += content.remaining();
                content.position(content.limit());
            }
            if (last) {
                lastWritten = true;
            }
            callback.succeeded();
        }

        /** The body bytes written so far. */
        long bytesWritten() {
            return bytes;
        }

        @Override
        public String toString() {
            return "background response " + status + " committed=" + committed + " bytes=" + bytes;
        }
    }
}
