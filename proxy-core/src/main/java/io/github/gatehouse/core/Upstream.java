package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.util.Locale;

/**
 * One upstream server of a reverse route: a base URL ({@code http://10.0.0.1:8080} or
 * {@code http://backend:8080/base}) and a weight for load balancing.
 *
 * <p>Immutable and thread-safe. The path of the base URL, if any, is put before the path sent upstream.
 */
@com.google.errorprone.annotations.CheckReturnValue // immutable: a method that returns a value returns a new one
public final class Upstream {
    private final URI uri;
    private final int weight;

    private Upstream(URI uri, int weight) {
        this.uri = uri;
        this.weight = weight;
    }

    /**
     * Parses {@code http://host:port[/base]}.
     *
     * @throws IllegalArgumentException if {@code url} is not an absolute http or https URL with a host, or has a
     *     query or fragment
     */
    public static Upstream of(String url) {
        return of(url, 1);
    }

    /** As {@link #of(String)} with a weight (1..1000). */
    public static Upstream of(String url, int weight) {
        requireNonNull(url, "url");
        URI uri;
        try {
            uri = URI.create(url.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("upstream: " + url + " (expected: http://host:port[/base])", e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        checkArgument(scheme.equals("http") || scheme.equals("https"),
                "upstream: %s (expected: an http:// or https:// URL)", url);
        checkArgument(uri.getHost() != null, "upstream: %s (expected: a URL with a host)", url);
        checkArgument(uri.getRawQuery() == null && uri.getRawFragment() == null,
                "upstream: %s (expected: no query or fragment)", url);
        checkArgument(weight >= 1 && weight <= 1000, "weight: %s (expected: 1..1000)", weight);
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        URI normalized = URI.create(scheme + "://" + uri.getRawAuthority() + path);
        return new Upstream(normalized, weight);
    }

    /** The base URL, without a trailing slash. */
    public URI uri() {
        return uri;
    }

    /** The host. */
    public String host() {
        return uri.getHost();
    }

    /** The port (the scheme's default when the URL names none). */
    public int port() {
        return uri.getPort() >= 0 ? uri.getPort() : ("https".equals(uri.getScheme()) ? 443 : 80);
    }

    /** The base path, empty or starting with {@code /}. */
    public String basePath() {
        return uri.getRawPath() == null ? "" : uri.getRawPath();
    }

    /** The weight, 1 by default. */
    public int weight() {
        return weight;
    }

    /** The authority {@code host:port} as written in the URL. */
    public String authority() {
        return uri.getRawAuthority();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Upstream && ((Upstream) o).uri.equals(uri) && ((Upstream) o).weight == weight;
    }

    @Override
    public int hashCode() {
        return uri.hashCode() * 31 + weight;
    }

    @Override
    public String toString() {
        return weight == 1 ? uri.toString() : uri + ";weight=" + weight;
    }
}
