package io.github.gatehouse.core.internal;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import java.net.URI;
import java.util.Optional;
import java.util.Locale;

/**
 * The mutable request head of one exchange. It is made from the parts Jetty has already parsed (scheme, host, port,
 * raw path and query): no {@link URI} is parsed on the relay's path. {@link #uri()} builds one on first use, for the
 * filters and caches that ask.
 */
final class RequestHeadImpl implements RequestHead {
    private final String method;
    private final String version;
    private final HttpHeaders headers;
    private final boolean hasBody;
    private String scheme;
    /** The host as the target spelled it (IPv6 without brackets), for rebuilding the target. */
    private String rawHost;
    /** The port the target named, or -1. */
    private int explicitPort;
    private String host;
    private int port;
    private String rawPath;
    private String rawQuery;
    private URI uri;
    private String target;

    /**
     * A head from already-parsed parts. {@code scheme} is lower case ({@code http} or {@code https}); {@code host}
     * is non-empty; {@code port} is the port the target named or -1; {@code rawPath} starts with {@code /} (or is
     * empty for CONNECT); {@code rawQuery} may be null.
     */
    RequestHeadImpl(String method, String version, String scheme, String host, int port, String rawPath,
            String rawQuery, HttpHeaders headers, boolean hasBody) {
        this.method = method;
        this.version = version;
        this.headers = headers;
        this.hasBody = hasBody;
        set(scheme, host, port, rawPath, rawQuery);
    }

    private void set(String scheme, String host, int port, String rawPath, String rawQuery) {
        this.scheme = scheme;
        this.rawHost = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        this.explicitPort = port;
        this.host = normalizeHost(host);
        this.port = port >= 0 ? port : (scheme.equals("https") ? 443 : scheme.equals("ftp") ? 21 : 80);
        this.rawPath = rawPath;
        this.rawQuery = rawQuery;
        this.uri = null;
        this.target = null;
    }

    @Override
    public String method() {
        return method;
    }

    @Override
    public URI uri() {
        URI u = uri;
        if (u == null) {
            String t = target();
            try {
                u = URI.create(t);
            } catch (IllegalArgumentException e) {
                u = URI.create(quoteIllegal(t)); // Jetty accepted characters java.net.URI refuses (such as '|')
            }
            uri = u;
        }
        return u;
    }

    @Override
    public void uri(URI uri) {
        requireNonNull(uri, "uri");
        String s = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        checkArgument((s.equals("http") || s.equals("https")) && uri.getHost() != null,
                "uri: %s (expected: an absolute http or https URI with a host)", uri);
        String path = uri.getRawPath();
        set(s, uri.getHost(), uri.getPort(), method.equals("CONNECT") ? "" : (path == null || path.isEmpty() ? "/" : path),
                uri.getRawQuery());
        this.uri = uri;
    }

    /** The target as an absolute URI string, {@code scheme://host[:port]/path[?query]}, built once. */
    String target() {
        String t = target;
        if (t == null) {
            StringBuilder sb = new StringBuilder(scheme.length() + rawHost.length() + rawPath.length() + 16)
                    .append(scheme).append("://");
            if (rawHost.indexOf(':') >= 0) {
                sb.append('[').append(rawHost).append(']');
            } else {
                sb.append(rawHost);
            }
            if (explicitPort >= 0) {
                sb.append(':').append(explicitPort);
            }
            sb.append(rawPath);
            if (rawQuery != null) {
                sb.append('?').append(rawQuery);
            }
            t = sb.toString();
            target = t;
        }
        return t;
    }

    private static String quoteIllegal(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c <= 0x20 || c >= 0x7f || "\"<>\\^`{|}".indexOf(c) >= 0) {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            } else {
                sb.append((char) c);
            }
        }
        return sb.toString();
    }

    static String normalizeHost(String host) {
        String h = host;
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        for (int i = 0; i < h.length(); i++) {
            char c = h.charAt(i);
            if (c >= 'A' && c <= 'Z' || c > 0x7f) {
                h = h.toLowerCase(Locale.ROOT);
                break;
            }
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    @Override
    public String host() {
        return host;
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public String scheme() {
        return scheme;
    }

    @Override
    public String path() {
        if (method.equals("CONNECT")) {
            return "";
        }
        return rawPath == null || rawPath.isEmpty() ? "/" : rawPath;
    }

    @Override
    public Optional<String> query() {
        return Optional.ofNullable(rawQuery);
    }

    /** The raw query, or {@code null}: for the relay's own path building, without an {@code Optional}. */
    String rawQuery() {
        return rawQuery;
    }

    @Override
    public String version() {
        return version;
    }

    @Override
    public HttpHeaders headers() {
        return headers;
    }

    @Override
    public boolean hasBody() {
        return hasBody;
    }

    /** {@code host:port} with brackets for IPv6, port always present. */
    String authority() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        return method + " " + target();
    }
}
