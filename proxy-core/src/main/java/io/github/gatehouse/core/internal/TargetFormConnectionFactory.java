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

    TargetFormConnectionFactory(HttpConfiguration configuration) {
        super(configuration);
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        TrackingConnection connection = new TrackingConnection(getHttpConfiguration(), connector, endPoint);
        connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
        return configure(connection, connector, endPoint);
    }

    /** The raw request-target of {@code request} as the client sent it, or {@code null} if unknown (not HTTP/1). */
    static String rawTarget(Request request) {
        Connection connection = request.getConnectionMetaData().getConnection();
        return connection instanceof TrackingConnection ? ((TrackingConnection) connection).rawTarget : null;
    }

    private static final class TrackingConnection extends HttpConnection {
        private volatile String rawTarget;

        TrackingConnection(HttpConfiguration configuration, Connector connector, EndPoint endPoint) {
            super(configuration, connector, endPoint);
        }

        @Override
        protected HttpStreamOverHTTP1 newHttpStream(String method, String uri, HttpVersion version) {
            rawTarget = uri;
            return super.newHttpStream(method, uri, version);
        }
    }
}
