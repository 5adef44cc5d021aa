package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.Authenticator;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Route;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** The immutable configuration a {@code ProxyServer.Builder} produced. */
public record ProxyConfig(
        String bindAddress,
        int port,
        boolean forward,
        Set<Integer> connectPorts,
        List<Route> routes,
        List<ProxyFilter> filters,
        Authenticator authenticator,
        HttpCache cache,
        AccessLog accessLog,
        Duration connectTimeout,
        Duration idleTimeout,
        Duration upstreamTimeout,
        Duration exchangeTimeout,
        Duration drainTimeout,
        int maxRequestHeaderSize,
        int maxRequestHeaders,
        int maxResponseHeaderSize,
        int maxConnections,
        int maxConnectionsPerUpstream,
        String viaName,
        List<Cidr> trustedProxies,
        boolean allowInternalDestinations,
        List<String> allowedInternalDestinations,
        Duration requestHeadTimeout,
        long minRequestBodyRate,
        long minResponseBodyRate,
        Duration bodyRateGracePeriod,
        Tls tls,
        int maxConcurrentStreams,
        FrontDoors fronts,
        io.github.gatehouse.core.UpstreamTls upstreamTls,
        io.github.gatehouse.core.Interception interception,
        Upgrades upgrades,
        PeerRouting cachePeers) {

    /**
     * What happens to requests that ask to switch protocols: whether HTTP/2 listeners offer WebSocket over HTTP/2
     * (RFC 8441 extended CONNECT, {@code SETTINGS_ENABLE_CONNECT_PROTOCOL}), and whether forward requests (those no
     * reverse route takes) that ask for an upgrade are refused with 403. Reverse routes refuse on their own
     * ({@link Route#refusesUpgrades()}).
     */
    public record Upgrades(boolean overHttp2, boolean refusedWhenForwarding) {
    }


    /**
     * The other front doors and gateways: the SOCKS5 listener's port (-1 for none, 0 for an ephemeral one) and
     * handshake timeout, the sources whose PROXY protocol headers are accepted on the HTTP listeners (none: PROXY
     * protocol off), and whether {@code ftp://} requests are served in forward mode.
     */
    public record FrontDoors(int socksPort, Duration socksHandshakeTimeout, List<Cidr> proxyProtocolFrom,
            boolean ftpGateway) {
        /** Whether a SOCKS5 listener is configured. */
        public boolean hasSocks() {
            return socksPort >= 0;
        }
    }

    /** The HTTPS listener: its port (0 for an ephemeral one) and certificates. */
    public record Tls(int port, List<TlsMaterial.Source> sources, Duration checkInterval) {
    }

    /** Whether an HTTPS listener is configured. */
    public boolean hasTls() {
        return tls != null;
    }

    /** Whether {@code address} is a trusted proxy whose forwarding headers are kept. */
    public boolean isTrusted(java.net.InetAddress address) {
        for (Cidr c : trustedProxies) {
            if (c.contains(address)) {
                return true;
            }
        }
        return false;
    }
}
