package io.github.gatehouse.core.internal;

import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.internal.HttpConnection;

/**
 * An HTTP/1.1 connection factory whose connections remember the raw request-target of the request being handled.
 *
 * <p>Jetty completes an origin-form target with the {@code Host} header, so {@link Request#getHttpURI()} looks the
 * same for {@code GET /x} and {@code GET http://host/x}. A forward proxy must tell them apart: only absolute-form
 * requests are proxy requests. An HTTP/1.1 connection handles one request at a time, so a per-connection field is
 * exact.
 */
final class TargetFormConnectionFactory extends HttpConnectionFactory {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TargetFormConnectionFactory.class);
    private final long headTimeoutMs;

    private final java.util.function.Supplier<Deadlines> deadlinesSupplier;

    TargetFormConnectionFactory(HttpConfiguration configuration, java.time.Duration requestHeadTimeout,
            java.util.function.Supplier<Deadlines> deadlines) {
        super(configuration);
        this.headTimeoutMs = requestHeadTimeout.toMillis();
        this.deadlinesSupplier = deadlines;
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        TrackingConnection connection = new TrackingConnection(getHttpConfiguration(), connector, endPoint, headTimeoutMs,
                deadlinesSupplier.get());
        connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
        return configure(connection, connector, endPoint);
    }

    /** The raw request-target of {@code request} as the client sent it, or {@code null} if unknown (not HTTP/1). */
    static String rawTarget(Request request) {
        Connection connection = request.getConnectionMetaData().getConnection();
        return connection instanceof TrackingConnection ? ((TrackingConnection) connection).rawTarget : null;
    }

    /** The request head reached the relay: the head timer stops. */
    static void headReceived(Request request) {
        Connection connection = request.getConnectionMetaData().getConnection();
        if (connection instanceof TrackingConnection) {
            ((TrackingConnection) connection).disarm();
        }
    }

    /** An exchange ended: the next request head must arrive in time too. */
    static void exchangeEnded(Request request) {
        Connection connection = request.getConnectionMetaData().getConnection();
        if (connection instanceof TrackingConnection) {
            ((TrackingConnection) connection).arm();
        }
    }

    /**
     * Bounds the time to receive a whole request head (slowloris): Jetty's idle timeout restarts on every byte,
     * so a client sending one header byte a minute would hold a connection forever. The timer runs from the
     * connection's open and from the end of each exchange until the next head is complete.
     */
    private static final class TrackingConnection extends HttpConnection {
        private volatile String rawTarget;
        private final long headTimeoutMs;
        private final java.util.concurrent.atomic.AtomicLong generation = new java.util.concurrent.atomic.AtomicLong();
        private volatile boolean waitingForHead;
        /** The head deadline armed last; cancelled once the head is in or the connection closed. */
        private volatile Deadlines.Handle headDeadline;

        private final Deadlines deadlines;

        TrackingConnection(HttpConfiguration configuration, Connector connector, EndPoint endPoint, long headTimeoutMs,
                Deadlines deadlines) {
            super(configuration, connector, endPoint);
            this.headTimeoutMs = headTimeoutMs;
            this.deadlines = deadlines;
        }

        @Override
        public void onOpen() {
            super.onOpen();
            arm();
        }

        void arm() {
            long g = generation.incrementAndGet();
            waitingForHead = true;
            Deadlines d = deadlines;
            if (d == null) {
                return;
            }
            cancelHeadDeadline();
            if (!getEndPoint().isOpen()) {
                return; // closed already: nothing to time out, and nothing to keep the connection referenced
            }
            headDeadline = d.schedule(headTimeoutMs, () -> {
                // A head that Jetty has parsed but not yet dispatched to the relay (a busy pool) is complete: only a
                // connection whose head is still arriving is closed.
                if (waitingForHead && generation.get() == g && getEndPoint().isOpen() && getHttpChannel().getRequest() == null) {
                    LOG.info("{} sent no complete request head within {} ms; closing the connection",
                            getEndPoint().getRemoteSocketAddress(), headTimeoutMs);
                    getEndPoint().close();
                }
            });
        }

        void disarm() {
            waitingForHead = false;
            generation.incrementAndGet();
            cancelHeadDeadline();
        }

        @Override
        public void onClose(Throwable cause) {
            disarm();
            super.onClose(cause);
        }

        private void cancelHeadDeadline() {
            Deadlines.Handle h = headDeadline;
            if (h != null) {
                headDeadline = null;
                h.cancel();
            }
        }

        @Override
        protected HttpStreamOverHTTP1 newHttpStream(String method, String uri, HttpVersion version) {
            rawTarget = uri;
            return super.newHttpStream(method, uri, version);
        }
    }
}
