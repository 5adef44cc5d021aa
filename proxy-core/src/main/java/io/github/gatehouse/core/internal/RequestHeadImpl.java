package io.github.gatehouse.core.internal;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import java.net.URI;
import java.util.Locale;

/** The mutable request head of one exchange. */
final class RequestHeadImpl implements RequestHead {
    private final String method;
    private final String version;
    private final HttpHeaders headers;
    private final boolean hasBody;
    private URI uri;
    private String host;
    private int port;

    RequestHeadImpl(String method, String version, URI uri, HttpHeaders headers) {
        this(method, version, uri, headers, false);
    }

    RequestHeadImpl(String method, String version, URI uri, HttpHeaders headers, boolean hasBody) {
        this.method = method;
        this.version = version;
        this.headers = headers;
        this.hasBody = hasBody;
        uri(uri);
    }

    @Override
    public String method() {
        return method;
    }

    @Override
    public URI uri() {
        return uri;
    }

    @Override
    public void uri(URI uri) {
        requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        checkArgument((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null,
                "uri: %s (expected: an absolute http or https URI with a host)", uri);
        this.uri = uri;
        this.host = normalizeHost(uri.getHost());
        this.port = uri.getPort() >= 0 ? uri.getPort() : (scheme.equals("https") ? 443 : 80);
    }

    static String normalizeHost(String host) {
        String h = host;
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        h = h.toLowerCase(Locale.ROOT);
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
        return uri.getScheme().toLowerCase(Locale.ROOT);
    }

    @Override
    public String path() {
        if (method.equals("CONNECT")) {
            return "";
        }
        String p = uri.getRawPath();
        return p == null || p.isEmpty() ? "/" : p;
    }

    @Override
    public String query() {
        return uri.getRawQuery();
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
        return method + " " + uri;
    }
}
