package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Route;
import java.util.function.IntSupplier;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;

/**
 * The plain listener's side of {@link Route#redirectToHttps()}: a customizer on the plain HTTP configuration marks each
 * request with the HTTPS listener's bound port, and {@link #location} builds the redirect target for a route that
 * asks for it. Requests on the HTTPS listener carry no mark, so they are never redirected. Thread-safe.
 */
final class HttpsRedirect implements HttpConfiguration.Customizer {
    private static final String PORT = HttpsRedirect.class.getName() + ".port";
    private final IntSupplier tlsPort;

    HttpsRedirect(IntSupplier tlsPort) {
        this.tlsPort = tlsPort;
    }

    @Override
    public Request customize(Request request, HttpFields.Mutable responseHeaders) {
        request.setAttribute(PORT, tlsPort.getAsInt());
        return request;
    }

    /**
     * The {@code https://} URL that {@code request} should go to instead, or null when {@code route} does not redirect
     * or the request arrived over TLS already.
     */
    static String location(Request request, Route route, String host, String rawPath, String query) {
        if (route == null || !route.redirectsToHttps() || request.isSecure()) {
            return null;
        }
        Object port = request.getAttribute(PORT);
        if (!(port instanceof Integer)) {
            return null;
        }
        int p = (Integer) port;
        String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        return "https://" + h + (p == 443 ? "" : ":" + p) + rawPath + (query == null ? "" : "?" + query);
    }
}
