package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpFields;

/**
 * Which header fields cross the proxy (RFC 9110 §7.6.1): hop-by-hop fields, and every field named in
 * {@code Connection}, stop here in both directions. Framing fields ({@code Content-Length},
 * {@code Transfer-Encoding}) of requests are dropped too: the upstream request's framing is derived from the body
 * the proxy actually read, so no client can make the upstream see a different message boundary than the proxy did.
 */
final class HeaderRules {
    private HeaderRules() {
    }

    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "proxy-authenticate", "proxy-authorization", "te", "transfer-encoding", "upgrade");

    /** Fields a {@code Connection} header cannot make hop-by-hop. */
    static final Set<String> PROTECTED = Set.of("host", "content-length", "content-type", "content-encoding",
            "cache-control", "pragma", "expires", "vary", "age", "date", "etag", "last-modified", "set-cookie",
            "cookie", "authorization", "www-authenticate", "location", "content-location", "content-range",
            "strict-transport-security", "content-security-policy", "x-frame-options", "x-content-type-options",
            "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", "max-forwards",
            "surrogate-control", "cdn-cache-control");

    /** Request fields the relay sets itself. */
    private static final Set<String> REQUEST_DERIVED = Set.of("content-length", "host", "expect");

    /** Whether the client asked for trailers with {@code TE: trailers}. */
    static boolean acceptsTrailers(HttpFields fields) {
        for (HttpField f : fields) {
            if (f.is("TE") && f.getValue() != null && f.getValue().toLowerCase(Locale.ROOT).contains("trailers")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether the client request carries a body (the rule the upstream request's framing follows too):
     * {@code Content-Length} above zero, or no length and {@code Transfer-Encoding}.
     */
    static boolean hasBody(org.eclipse.jetty.server.Request request) {
        long length = request.getLength();
        return length > 0 || (length < 0 && request.getHeaders().contains(org.eclipse.jetty.http.HttpHeader.TRANSFER_ENCODING));
    }

        /** The client request's end-to-end fields, without {@code Host}, framing and the authorization header used. */
    static HttpHeaders clientRequestFields(HttpFields fields, String consumedCredentialHeader) {
        Set<String> dropped = connectionListed(fields);
        Object[] kept = new Object[fields.size() + 4];
        int n = 0;
        for (int i = 0, size = fields.size(); i < size; i++) {
            HttpField f = fields.getField(i);
            String name = f.getLowerCaseName();
            if (HOP_BY_HOP.contains(name) || REQUEST_DERIVED.contains(name) || dropped.contains(name)
                    || (consumedCredentialHeader != null && name.equalsIgnoreCase(consumedCredentialHeader))) {
                continue;
            }
            kept[n++] = f;
        }
        return HeaderViews.view(kept, n);
    }

    /** The upstream response's end-to-end fields (framing left to the proxy, {@code Content-Length} kept). */
    static HttpHeaders upstreamResponseFields(HttpFields fields) {
        Set<String> dropped = connectionListed(fields);
        Object[] kept = new Object[fields.size() + 4]; // room for Via and a sticky Set-Cookie
        int n = 0;
        for (int i = 0, size = fields.size(); i < size; i++) {
            HttpField f = fields.getField(i);
            String name = f.getLowerCaseName();
            if (HOP_BY_HOP.contains(name) || dropped.contains(name)) {
                continue;
            }
            kept[n++] = f;
        }
        return HeaderViews.view(kept, n);
    }

    private static Set<String> connectionListed(HttpFields fields) {
        Set<String> names = null;
        for (int i = 0, size = fields.size(); i < size; i++) { // indexed: no iterator per call
            HttpField f = fields.getField(i);
            if (f.getHeader() == HttpHeader.CONNECTION && f.getValue() != null) {
                for (String token : f.getValue().split(",")) {
                    String t = token.trim().toLowerCase(Locale.ROOT);
                    if (!t.isEmpty() && !t.equals("close") && !t.equals("keep-alive")) {
                        if (names == null) {
                            names = new HashSet<>();
                        }
                        names.add(t);
                    }
                }
            }
        }
        if (names == null) {
            return Set.of();
        }
        // End-to-end fields that decide caching, security or framing are never dropped because a Connection
        // header names them: an attacker (or a confused peer) could otherwise strip Cache-Control: private from a
        // response before the cache sees it, or strip the forwarding headers the relay adds.
        names.removeAll(PROTECTED);
        return names;
    }
}
