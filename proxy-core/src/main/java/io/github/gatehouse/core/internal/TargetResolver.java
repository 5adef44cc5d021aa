package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.Route;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Request;

/**
 * Phase 2: what the request is for. An absolute-form target makes a forward exchange (RFC 9112 §3.2.2: it wins over
 * {@code Host}, which the relay regenerates from it); an origin-form target matches the reverse routes, on the host
 * and path Jetty already parsed; {@code CONNECT} names a tunnel authority. The request head users see is made here,
 * from those parts and the client's end-to-end fields, without parsing a URI.
 *
 * <p>Also answers what needs no upstream: {@code OPTIONS *}, and TRACE or OPTIONS at {@code Max-Forwards: 0}.
 *
 * <p>Stateless and thread-safe.
 */
final class TargetResolver {
    private final ProxyConfig config;
    private final Answers answers;
    private final String via11;

    TargetResolver(ProxyConfig config, Answers answers) {
        this.config = config;
        this.answers = answers;
        this.via11 = "1.1 " + config.viaName();
    }

    ExchangeDriver.Step resolve(ExchangeContext x) {
        Request request = x.request;
        String method = request.getMethod();
        HttpURI uri = request.getHttpURI();
        String version = request.getConnectionMetaData().getProtocol();
        String rawTarget = x.rawTarget;

        if ("CONNECT".equals(method) && !UpgradePhase.isExtendedConnect(request)) {
            return resolveConnect(x, uri, version);
        }
        if ("*".equals(rawTarget)) {
            if ("OPTIONS".equals(method)) {
                return answers.answer(x, 200, "OK", null,
                        new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT"), false);
            }
            return answers.badRequest(x, "request target * is only valid for OPTIONS");
        }
        boolean absoluteForm = rawTarget != null && !rawTarget.startsWith("/");
        String rawHost = uri.getHost();
        if (rawHost == null || rawHost.isEmpty()) {
            return answers.badRequest(x, "request has no target host (expected: a Host header or an absolute URI)");
        }
        String rawPath = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        if (hasDotSegment(rawPath)) {
            return answers.badRequest(x, "path has dot segments (expected: a normalised path)");
        }
        if (!validHost(rawHost)) {
            return answers.badRequest(x, "invalid target host '" + rawHost + "'");
        }

        ExchangeImpl exchange = x.exchange;
        String scheme;
        int port = uri.getPort();
        HttpsInspection.Inner inner = config.interception() == null ? null : HttpsInspection.tunnelOf(request);
        if (inner != null) {
            // inside an intercepted tunnel: an https exchange to the CONNECT's authority, whatever the form
            if (!RequestHeadImpl.normalizeHost(rawHost).equalsIgnoreCase(RequestHeadImpl.normalizeHost(inner.host()))) {
                return answers.answer(x, 421, "this connection is for " + inner.authority() + ", not " + rawHost,
                        "destination_not_found", null, false);
            }
            exchange.intercepted(inner);
            exchange.mode(Mode.FORWARD);
            scheme = "https";
            rawHost = inner.host();
            port = inner.port();
        } else if (absoluteForm && config.forward()) {
            scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (x.upgrade != null && (scheme.equals("ws") || scheme.equals("wss"))) {
                scheme = scheme.equals("ws") ? "http" : "https"; // WebSocket clients name ws:// targets to a proxy
            }
            if (!scheme.equals("http") && !scheme.equals("https")
                    && !(scheme.equals("ftp") && config.fronts().ftpGateway())) {
                return answers.badRequest(x, "unsupported scheme '" + scheme + "' (expected: http or https"
                        + (config.fronts().ftpGateway() ? ", or ftp" : "") + ")");
            }
            if (uri.getUser() != null && !scheme.equals("ftp")) {
                return answers.badRequest(x, "user info in an " + scheme + " URL (RFC 9110 §4.2.4)");
            }
            exchange.mode(Mode.FORWARD);
        } else {
            String host = RequestHeadImpl.normalizeHost(rawHost);
            Route route = null;
            for (Route r : config.routes()) {
                if (ApiAccess.routes().matches(r, host, rawPath)) {
                    route = r;
                    break;
                }
            }
            if (route == null) {
                if (config.forward() && !absoluteForm) {
                    return answers.badRequest(x, "not a proxy request: origin-form target " + rawPath
                            + " (expected: absolute-form such as GET http://host/path)");
                }
                return answers.answer(x, 404, "no route for " + host + rawPath, "destination_not_found", null, false);
            }
            exchange.mode(Mode.REVERSE);
            exchange.route(route);
            scheme = request.isSecure() ? "https" : "http";
        }
        String credentialHeader = config.authenticator() == null ? null
                : (exchange.mode() == Mode.REVERSE ? "Authorization" : "Proxy-Authorization");
        // an extended CONNECT (RFC 8441) is HTTP/2's GET with Upgrade: filters and the upstream see it as that GET
        RequestHeadImpl head = new RequestHeadImpl("CONNECT".equals(method) ? "GET" : method, version, scheme, rawHost, port, rawPath,
                uri.getQuery(), HeaderRules.clientRequestFields(request.getHeaders(), credentialHeader),
                HeaderRules.hasBody(request));
        exchange.request(head);
        String https = HttpsRedirect.location(request, exchange.route().orElse(null), rawHost, rawPath, uri.getQuery());
        if (https != null) { // Route.redirectToHttps(), on the plain listener: before credentials are asked for
            return answers.answer(x, 308, "use " + https, null, new HttpHeaders().add("Location", https), false);
        }

        if (("TRACE".equals(method) || "OPTIONS".equals(method)) && !applyMaxForwards(x)) {
            return ExchangeDriver.Step.DONE;
        }
        x.moveTo(RelayState.TARGET_RESOLVED);
        return ExchangeDriver.Step.NEXT;
    }

    private ExchangeDriver.Step resolveConnect(ExchangeContext x, HttpURI uri, String version) {
        if (!config.forward()) {
            return answers.answer(x, 405, "CONNECT is not accepted by this reverse proxy", null,
                    new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"), true);
        }
        String host = uri.getHost();
        int port = uri.getPort();
        if (host == null || host.isEmpty() || port <= 0) {
            return answers.badRequest(x, "CONNECT target must be host:port");
        }
        if (!config.connectPorts().contains(port)) {
            x.exchange.deny();
            return answers.answer(x, 403, "CONNECT to port " + port + " is not allowed (allowed: "
                    + config.connectPorts() + ")", "destination_ip_prohibited", null, true);
        }
        if (!validHost(host)) {
            return answers.badRequest(x, "invalid CONNECT host '" + host + "'");
        }
        x.exchange.mode(Mode.TUNNEL);
        x.exchange.request(new RequestHeadImpl("CONNECT", version, "https", host, port, "", null,
                HeaderRules.clientRequestFields(x.request.getHeaders(), null), false));
        x.moveTo(RelayState.TARGET_RESOLVED);
        return ExchangeDriver.Step.NEXT;
    }

    /**
     * A host Jetty accepted is a reg-name, an IPv4 address or a bracketed IPv6 literal; this refuses what would not
     * make a valid URI authority (the characters RFC 3986 §3.2.2 leaves out of a reg-name).
     */
    private static boolean validHost(String host) {
        if (host.startsWith("[")) {
            return host.endsWith("]") && host.length() > 2;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                    || c == '-' || c == '_' || c == '~' || c == '%' || c == '!' || c == '$' || c == '&' || c == '\''
                    || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == ':';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean hasDotSegment(String rawPath) {
        if (rawPath.indexOf('.') < 0 && rawPath.indexOf('%') < 0) {
            return false; // the common case, without allocating
        }
        String p = rawPath.toLowerCase(Locale.ROOT).replace("%2e", ".");
        for (String segment : p.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /** Max-Forwards (RFC 9110 §7.6.2) for TRACE and OPTIONS: answers here at 0 and returns false, else decrements. */
    private boolean applyMaxForwards(ExchangeContext x) {
        HttpHeaders headers = x.exchange.requestImpl().headers();
        String value = headers.get("Max-Forwards");
        if (value == null) {
            return true;
        }
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0) {
            answers.badRequest(x, "invalid Max-Forwards: " + value);
            return false;
        }
        if (n > 0) {
            headers.set("Max-Forwards", Long.toString(Math.min(n - 1, Integer.MAX_VALUE)));
            return true;
        }
        if ("OPTIONS".equals(x.exchange.request().method())) {
            answers.answer(x, 200, "OK", null,
                    new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE"), false);
        } else {
            traceEcho(x);
        }
        return false;
    }

    /** Answers TRACE with the request as received, minus credentials and cookies (RFC 9110 §9.3.8). */
    private void traceEcho(ExchangeContext x) {
        StringBuilder sb = new StringBuilder();
        sb.append("TRACE ").append(x.exchange.originalTarget()).append(' ').append(x.exchange.request().version())
                .append("\r\n");
        for (HttpField f : x.request.getHeaders()) {
            String n = f.getLowerCaseName();
            if (n.equals("authorization") || n.equals("proxy-authorization") || n.equals("cookie")) {
                continue;
            }
            sb.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
        }
        sb.append("\r\n");
        byte[] body = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
        x.moveTo(RelayState.ANSWERING);
        x.response.setStatus(200);
        x.response.getHeaders().put(HttpHeader.CONTENT_TYPE, "message/http");
        x.response.getHeaders().put(HttpHeader.VIA, via11);
        x.response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        x.response.write(true, ByteBuffer.wrap(body), x);
    }
}
