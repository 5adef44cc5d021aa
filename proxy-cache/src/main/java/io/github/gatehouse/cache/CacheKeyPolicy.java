package io.github.gatehouse.cache;

import io.github.gatehouse.core.Exchange;
import java.net.URI;
import java.util.Locale;

/**
 * Turns a request into the primary cache key (RFC 9111 §2): by default the target URI
 * ({@code scheme://host:port/path?query}), lower-case scheme and host, default port included.
 *
 * <p>Policies may differ per proxy or per route: {@link Exchange#route()} is available. Two requests with the same
 * key share entries (and their {@code Vary} variants). Purges by URL and by prefix compare against keys made by
 * {@link #uri()}'s normal form, so custom policies should keep that form as a prefix of their keys.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads; must be thread-safe, fast and must not block.
 */
@FunctionalInterface
public interface CacheKeyPolicy {

    /** The primary key for the exchange's request; never {@code null}. */
    String primaryKey(Exchange exchange);

    /** The default policy: the normalised target URI, query included. */
    static CacheKeyPolicy uri() {
        return exchange -> normalize(exchange.request().uri(), true);
    }

    /** The normalised target URI without its query: {@code /a?x=1} and {@code /a?x=2} share entries. */
    static CacheKeyPolicy ignoringQuery() {
        return exchange -> normalize(exchange.request().uri(), false);
    }

    /**
     * This policy's key extended with the values of request headers {@code names} (such as a tenant header), so
     * requests differing in them never share entries. Prefix purges by URL still match, since the URL part comes
     * first.
     */
    default CacheKeyPolicy withRequestHeaders(String... names) {
        java.util.Objects.requireNonNull(names, "names");
        java.util.List<String> list = java.util.List.of(names);
        CacheKeyPolicy base = this;
        return exchange -> {
            StringBuilder sb = new StringBuilder(base.primaryKey(exchange));
            for (String name : list) {
                String v = exchange.request().headers().get(name);
                sb.append(' ').append(name.toLowerCase(Locale.ROOT)).append('=').append(v == null ? "" : v);
            }
            return sb.toString();
        };
    }

    /**
     * Chooses the policy by route: {@code choose} gets the exchange's matched route (empty for forward-proxy
     * exchanges) and returns the policy to use.
     */
    static CacheKeyPolicy byRoute(java.util.function.Function<java.util.Optional<io.github.gatehouse.core.Route>, CacheKeyPolicy> choose) {
        java.util.Objects.requireNonNull(choose, "choose");
        return exchange -> choose.apply(exchange.route()).primaryKey(exchange);
    }

    /**
     * The normal form keys start with: lower-case scheme and host, explicit port, raw path ({@code /} at least), raw
     * query when {@code withQuery}; no fragment.
     */
    static String normalize(URI uri, boolean withQuery) {
        String scheme = uri.getScheme() == null ? "http" : uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        int port = uri.getPort() > 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        String query = withQuery && uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "";
        return scheme + "://" + host + ":" + port + path + query;
    }
}
