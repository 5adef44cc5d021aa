package io.github.gatehouse.core.internal;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.AbstractConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PROXY protocol (HAProxy's v1 text and v2 binary headers) on a listener, from trusted sources only.
 *
 * <p>Jetty's {@link ProxyConnectionFactory} accepts a header from anyone who connects. This factory, first on the
 * connector, looks at the TCP peer of each new connection: from a source in the trusted list the connection goes to
 * Jetty's factory (a PROXY header, if one comes, then sets the client address and port that the relay, filters,
 * rate limits, logs and {@code X-Forwarded-For} see; a connection without one is served as it is). From any other
 * source the connection goes straight to the next protocol, so a PROXY header is just a malformed request line:
 * {@code 400} and the connection is closed. An untrusted client can therefore never choose its own address.
 *
 * <p>Thread-safe: immutable after construction.
 */
final class TrustedProxyProtocol extends AbstractConnectionFactory {
    private static final Logger LOG = LoggerFactory.getLogger(TrustedProxyProtocol.class);

    private final List<Cidr> trusted;
    private final ProxyConnectionFactory proxy;
    private final String next;

    TrustedProxyProtocol(List<Cidr> trusted, String nextProtocol) {
        this(trusted, nextProtocol, new ProxyConnectionFactory(nextProtocol));
    }

    /** Named as Jetty's factory is ({@code [proxy]}): its detector finds the next protocol after its own name. */
    private TrustedProxyProtocol(List<Cidr> trusted, String nextProtocol, ProxyConnectionFactory proxy) {
        super(proxy.getProtocol());
        this.trusted = List.copyOf(trusted);
        this.next = nextProtocol;
        this.proxy = proxy;
        addBean(proxy);
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        SocketAddress peer = endPoint.getRemoteSocketAddress();
        if (peer instanceof InetSocketAddress a && a.getAddress() != null && isTrusted(a)) {
            return proxy.newConnection(connector, endPoint);
        }
        LOG.debug("{} is not a trusted PROXY protocol source: served without one", peer);
        ConnectionFactory nextFactory = connector.getConnectionFactory(next);
        return nextFactory.newConnection(connector, endPoint);
    }

    private boolean isTrusted(InetSocketAddress a) {
        for (Cidr c : trusted) {
            if (c.contains(a.getAddress())) {
                return true;
            }
        }
        return false;
    }
}
