package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Authenticator;
import java.time.Duration;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.AbstractConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;

/**
 * The SOCKS5 front door (RFC 1928, RFC 1929): the first connection factory of the SOCKS listener. Each connection
 * starts as a {@link Socks5Connection}, which runs the SOCKS handshake (method choice, username/password, request)
 * without blocking, then turns the request into an HTTP {@code CONNECT} and hands the endpoint to the listener's
 * HTTP/1.1 factory: the tunnel then passes the relay's phases like any {@code CONNECT} (port rules, authentication,
 * filters, destination policy, the tunnel pump and its access-log line), and {@link Socks5Replies} turns the
 * relay's answer into the SOCKS reply.
 *
 * <p>Thread-safe: one instance makes every connection of its listener.
 */
final class Socks5ConnectionFactory extends AbstractConnectionFactory {
    static final String PROTOCOL = "socks5";

    private final ConnectionFactory http;
    private final Authenticator authenticator;
    private final long handshakeTimeoutMs;
    private final java.util.function.Supplier<RelayHandler> relay;

    Socks5ConnectionFactory(ConnectionFactory http, Authenticator authenticator, Duration handshakeTimeout,
            java.util.function.Supplier<RelayHandler> relay) {
        super(PROTOCOL);
        this.http = http;
        this.authenticator = authenticator;
        this.handshakeTimeoutMs = handshakeTimeout.toMillis();
        this.relay = relay;
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        return configure(new Socks5Connection(endPoint, connector, http, authenticator, handshakeTimeoutMs, relay.get()),
                connector, endPoint);
    }
}
