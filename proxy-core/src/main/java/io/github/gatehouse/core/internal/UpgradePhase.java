package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.Route;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Promise;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP/1.1 request that asks to switch protocols ({@code Connection: upgrade} and {@code Upgrade: websocket}, or
 * any protocol but {@code h2c}): after phases 1 to 4 like any request, it skips the cache (an upgrade is never
 * stored), picks its upstream in phase 6 as usual, and then, instead of jetty-client, goes to an {@link UpgradeCall}
 * on a connection of its own. An origin's {@code 101} turns both connections into one byte tunnel (the pump of
 * {@link GatehouseConnectHandler}); any other answer is relayed as an ordinary response. {@code https://} upstreams
 * (reverse members, and forward {@code wss://} or {@code https://} targets) get TLS with the settings of their pool's
 * client (or the forward client's), and pools that send PROXY protocol headers send one first.
 *
 * <p>{@code Upgrade: h2c} is never an upgrade here: Jetty's h2c support takes a client's h2c upgrade itself, and a
 * request it leaves (no {@code HTTP2-Settings}) goes on as plain HTTP/1.1 with {@code Upgrade} removed, as a
 * hop-by-hop field. A request with a body is not an upgrade either (it is relayed without {@code Upgrade}).
 *
 * <p>Stateless and thread-safe.
 */
final class UpgradePhase {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradePhase.class);

    private final RelayHandler relay;
    private final GatehouseConnectHandler tunnels;

    UpgradePhase(RelayHandler relay, GatehouseConnectHandler tunnels) {
        this.relay = relay;
        this.tunnels = tunnels;
    }

    /**
     * The protocols an HTTP/1.1 request asks to switch to ({@code Upgrade} without {@code h2c}), or null when it asks
     * for none this relay carries.
     */
    static String requested(Request request) {
        if (isExtendedConnect(request)) {
            return request.getTunnelSupport().getProtocol();
        }
        if (!HttpVersion.HTTP_1_1.is(request.getConnectionMetaData().getProtocol())
                || "CONNECT".equals(request.getMethod()) || HeaderRules.hasBody(request)) {
            return null;
        }
        boolean connectionUpgrade = false;
        StringBuilder protocols = null;
        for (HttpField f : request.getHeaders()) {
            if (f.getHeader() == HttpHeader.CONNECTION && f.getValue() != null) {
                for (String token : f.getValue().split(",")) {
                    connectionUpgrade |= token.trim().equalsIgnoreCase("upgrade");
                }
            } else if (f.getHeader() == HttpHeader.UPGRADE && f.getValue() != null) {
                for (String token : f.getValue().split(",")) {
                    String t = token.trim();
                    if (t.isEmpty() || t.toLowerCase(Locale.ROOT).startsWith("h2c")) {
                        continue;
                    }
                    protocols = protocols == null ? new StringBuilder(t) : protocols.append(", ").append(t);
                }
            }
        }
        return connectionUpgrade && protocols != null ? protocols.toString() : null;
    }

    /**
     * An HTTP/2 extended CONNECT (RFC 8441 §4: {@code :method CONNECT} with {@code :protocol}), which asks for a
     * WebSocket (or another protocol) on the stream: relayed to the upstream as an HTTP/1.1 upgrade of
     * {@code GET :path}, and answered {@code 200} on the stream once the upstream switched protocols.
     */
    static boolean isExtendedConnect(Request request) {
        // only a listener that announced SETTINGS_ENABLE_CONNECT_PROTOCOL lets a :protocol through (RFC 8441 §3)
        return "CONNECT".equals(request.getMethod())
                && HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())
                && request.getTunnelSupport() != null && request.getTunnelSupport().getProtocol() != null;
    }

    /**
     * After phase 4: a route that refuses upgrades, or a forward proxy that does ({@code refuseForwardUpgrades()}),
     * answers 403; otherwise the cache is skipped.
     */
    ExchangeDriver.Step admit(ExchangeContext x) {
        Route route = x.exchange.route().orElse(null);
        if (route != null && route.refusesUpgrades()) {
            x.exchange.deny();
            return relay.answers().answer(x, 403, "route " + route + " does not allow Upgrade: " + x.upgrade,
                    "http_request_denied", null, false);
        }
        if (route == null && x.exchange.mode() == Mode.FORWARD && relay.config().upgrades().refusedWhenForwarding()) {
            x.exchange.deny();
            return relay.answers().answer(x, 403, "this forward proxy does not allow Upgrade: " + x.upgrade,
                    "http_request_denied", null, false);
        }
        x.exchange.cacheStatus(null); // an upgrade never comes from the cache
        x.moveTo(RelayState.CACHE_MISSED);
        return ExchangeDriver.Step.NEXT;
    }

    /** Phase 7 for an upgrade: resolves the upstream (forward: through the destination policy) and connects. */
    ExchangeDriver.Step send(ExchangeContext x) {
        UpstreamCall.Target target = x.upstreamTarget;
        if (!"http".equals(target.scheme()) && !"https".equals(target.scheme())) {
            return relay.answers().answer(x, 502, "Upgrade to an " + target.scheme()
                    + " upstream is not supported", "http_protocol_error", null, false);
        }
        if (x.request.getTunnelSupport() == null) {
            return relay.answers().answer(x, 501, "this connection cannot switch protocols", null, null, false);
        }
        String host = target.host().startsWith("[") ? target.host().substring(1, target.host().length() - 1)
                : target.host();
        // https:// members: the TLS of the client that carries the pool's (or the forward proxy's) other requests,
        // so verification, extra roots, the client certificate and SNI are the same
        org.eclipse.jetty.util.ssl.SslContextFactory.Client tls = "https".equals(target.scheme())
                ? relay.upstream(x).client().getSslContextFactory() : null;
        io.github.gatehouse.core.ProxyProtocolVersion proxyProtocol = x.tries == null ? null
                : x.tries.pool.proxyProtocol().orElse(null);
        java.nio.ByteBuffer preface = proxyProtocol == null ? null
                : ProxyProtocolHeaders.header(proxyProtocol, x.exchange.clientAddress(), x.exchange.localAddress());
        UpgradeCall call = new UpgradeCall(relay, tunnels, x, tls, host, target.port(), preface);
        x.moveTo(RelayState.AWAITING_RESPONSE);
        call.begin();
        relay.client(x.exchange.mode() == Mode.REVERSE ? Mode.REVERSE : Mode.FORWARD).getSocketAddressResolver()
                .resolve(host, target.port(), new java.util.HashMap<>(), new Promise<>() {
                    @Override
                    public void succeeded(List<InetSocketAddress> addresses) {
                        if (addresses.isEmpty()) {
                            call.connectFailed(new java.net.UnknownHostException(host));
                        } else {
                            tunnels.connectUpgrade(call, addresses.get(0));
                        }
                    }

                    @Override
                    public void failed(Throwable failure) {
                        LOG.debug("{} resolving {} failed", x.exchange.id(), host, failure);
                        call.connectFailed(failure);
                    }
                });
        return ExchangeDriver.Step.DONE;
    }
}
