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

    GatehouseConnectHandler(String viaName) {
        this.viaName = viaName;
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
        String target = request.getHttpURI().getAuthority();
        LOG.info("CONNECT {} failed: {} -> {}", target, Failures.describe(failure), c.status());
        if (response.isCommitted()) {
            callback.failed(failure);
            return;
        }
        PlainTextResponses.write(response, callback, viaName, c.status(), target + ": " + c.description(),
                c.proxyStatusError(), null, true);
    }
}
