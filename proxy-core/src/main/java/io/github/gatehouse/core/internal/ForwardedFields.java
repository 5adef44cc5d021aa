package io.github.gatehouse.core.internal;

import java.net.InetAddress;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;

/**
 * The forwarding fields a reverse route adds to the upstream request, for jetty-client requests ({@link UpstreamCall})
 * and upgrade requests ({@link UpgradeCall}) alike.
 *
 * <p>Stateless.
 */
final class ForwardedFields {
    private ForwardedFields() {
    }

    /** X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded; client-sent copies kept only from trusted proxies. */
    static void add(ProxyConfig config, ExchangeImpl exchange, Request clientRequest, RequestHeadImpl head,
            HttpFields.Mutable h) {
        InetAddress client = exchange.clientAddress().getAddress();
        boolean trusted = client != null && config.isTrusted(client);
        String clientIp = client == null ? "unknown" : client.getHostAddress();
        if (!trusted) {
            h.remove("X-Forwarded-For");
            h.remove("X-Forwarded-Proto");
            h.remove("X-Forwarded-Host");
            h.remove("X-Forwarded-Port");
            h.remove(HttpHeader.FORWARDED);
            h.remove("X-Real-IP");
        }
        String xff = h.get("X-Forwarded-For");
        h.put("X-Forwarded-For", xff == null || xff.isBlank() ? clientIp : xff + ", " + clientIp);
        String publicHost = clientRequest.getHeaders().get(HttpHeader.HOST);
        if (!h.contains("X-Forwarded-Proto")) {
            h.put("X-Forwarded-Proto", head.scheme());
        }
        if (!h.contains("X-Forwarded-Host") && publicHost != null) {
            h.put("X-Forwarded-Host", publicHost);
        }
        String forNode = client instanceof java.net.Inet6Address ? "\"[" + clientIp + "]\"" : clientIp;
        StringBuilder element = new StringBuilder(48).append("for=").append(forNode);
        if (publicHost != null) {
            element.append(";host=").append(forwardedValue(publicHost));
        }
        element.append(";proto=").append(head.scheme());
        String existing = h.get(HttpHeader.FORWARDED);
        h.put(HttpHeader.FORWARDED, existing == null || existing.isBlank() ? element.toString() : existing + ", " + element);
    }

    private static String forwardedValue(String v) {
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (!(Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '_')) {
                return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
            }
        }
        return v;
    }

}
