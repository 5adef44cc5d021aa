package io.github.gatehouse.core.internal;

import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ConnectHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jetty's {@code CONNECT} tunnel, reached only after the relay checked the port, authenticated the client and ran
 * the request filters. Connect failures become 502/504 answers with {@code Proxy-Status}.
 */
final class GatehouseConnectHandler extends ConnectHandler {
    private static final Logger LOG = LoggerFactory.getLogger(GatehouseConnectHandler.class);
    private final String viaName;
    private final DestinationPolicy policy;

    GatehouseConnectHandler(String viaName, DestinationPolicy policy) {
        this.viaName = viaName;
        this.policy = policy;
    }

    /** Resolves the tunnel target and refuses internal destinations (checked after DNS resolution). */
    @Override
    protected java.net.InetSocketAddress newConnectAddress(String host, int port) {
        java.net.InetSocketAddress address = super.newConnectAddress(host, port);
        if (address.getAddress() != null && !policy.allows(address)) {
            throw new java.io.UncheckedIOException(
                    new DestinationPolicy.DeniedDestinationException(host, port, address.getAddress()));
        }
        return address;
    }

    /** The relay has already judged the destination (port, filters); Jetty's string lists are not used. */
    @Override
    public boolean validateDestination(String host, int port) {
        return true;
    }

    @Override
    protected void onConnectFailure(Request request, Response response, Callback callback, Throwable failure) {
        Failures.Classified c = failure instanceof TimeoutException
                ? new Failures.Classified(504, "connection_timeout", "connection timed out")
                : Failures.classify(failure);
        String target = request.getHttpURI().getHost() + ":" + request.getHttpURI().getPort();
        LOG.info("CONNECT {} failed: {} -> {}", target, Failures.describe(failure), c.status());
        if (response.isCommitted()) {
            callback.failed(failure);
            return;
        }
        String reason = c.status() == 403 ? c.description() : target + ": " + c.description();
        PlainTextResponses.write(response, callback, viaName, c.status(), reason,
                c.proxyStatusError(), null, true);
    }
}
