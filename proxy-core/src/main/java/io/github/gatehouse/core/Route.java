package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.util.Locale;
import java.util.Optional;

/**
 * A reverse-proxy route: which requests it takes (host and path prefix) and where it sends them.
 *
 * <p>Routes are tried in the order they were added to the builder; the first match wins. A route matches when its
 * host pattern matches the request's host (exact, case-insensitive, a trailing dot ignored; {@code *.example.com}
 * matches any subdomain of {@code example.com} but not {@code example.com} itself; {@code *} or no pattern matches
 * every host) and its path prefix matches whole path segments ({@code /api} matches {@code /api} and
 * {@code /api/x}, not {@code /apix}).
 *
 * <p>Immutable and thread-safe: each method returns a new route.
 *
 * <pre>{@code
 * Route api = Route.host("shop.example").pathPrefix("/api").stripPrefix()
 *         .to(UpstreamPool.of("http://10.0.0.1:8080", "http://10.0.0.2:8080"));
 * }</pre>
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class Route {
    static {
        io.github.gatehouse.core.internal.ApiAccess.setRoutes(new io.github.gatehouse.core.internal.ApiAccess.Routes() {
            @Override
            public boolean matches(Route route, String host, String path) {
                return route.matches(host, path);
            }

            @Override
            public String rewritePath(Route route, String path) {
                return route.rewritePath(path);
            }
        });
    }

    /** What the {@code Host} header sent upstream is. */
    public enum HostHeader {
        /** The client's {@code Host}, unchanged (the default; virtual hosting upstream keeps working). */
        PRESERVE,
        /** The upstream's own {@code host:port}. */
        UPSTREAM,
        /** A fixed value set with {@link #hostHeader(String)}. */
        FIXED
    }

    private final String hostPattern;
    private final String pathPrefix;
    private final String prefixReplacement;
    private final HostHeader hostHeader;
    private final String fixedHost;
    private final UpstreamPool pool;
    private final String stickyCookie;
    private final boolean redirectToHttps;
    private final boolean upgradesRefused;

    private Route(String hostPattern, String pathPrefix, String prefixReplacement, HostHeader hostHeader,
            String fixedHost, UpstreamPool pool, String stickyCookie) {
        this(hostPattern, pathPrefix, prefixReplacement, hostHeader, fixedHost, pool, stickyCookie, false, false);
    }

    private Route(String hostPattern, String pathPrefix, String prefixReplacement, HostHeader hostHeader,
            String fixedHost, UpstreamPool pool, String stickyCookie, boolean redirectToHttps, boolean upgradesRefused) {
        this.upgradesRefused = upgradesRefused;
        this.redirectToHttps = redirectToHttps;
        this.stickyCookie = stickyCookie;
        this.hostPattern = hostPattern;
        this.pathPrefix = pathPrefix;
        this.prefixReplacement = prefixReplacement;
        this.hostHeader = hostHeader;
        this.fixedHost = fixedHost;
        this.pool = pool;
    }

    /** A route for every request. */
    public static Route any() {
        return new Route(null, "/", null, HostHeader.PRESERVE, null, null, null);
    }

    /**
     * A route for requests to {@code pattern}: a host name, {@code *.suffix}, or {@code *}.
     *
     * @throws IllegalArgumentException if the pattern is empty or has a port, a path or spaces
     */
    public static Route host(String pattern) {
        return any().withHost(pattern);
    }

    private Route withHost(String pattern) {
        requireNonNull(pattern, "pattern");
        String p = pattern.trim().toLowerCase(Locale.ROOT);
        if (p.endsWith(".")) {
            p = p.substring(0, p.length() - 1);
        }
        checkArgument(!p.isEmpty() && p.indexOf('/') < 0 && p.indexOf(' ') < 0 && p.indexOf(':') < 0
                        && (p.indexOf('*') < 0 || p.equals("*") || (p.startsWith("*.") && p.indexOf('*', 1) < 0)),
                "host pattern: %s (expected: a host name, *.suffix or *)", pattern);
        return new Route(p.equals("*") ? null : p, pathPrefix, prefixReplacement, hostHeader, fixedHost, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /**
     * This route limited to paths under {@code prefix} (which starts with {@code /}).
     *
     * @throws IllegalArgumentException if {@code prefix} does not start with {@code /} or has a query
     */
    public Route pathPrefix(String prefix) {
        requireNonNull(prefix, "prefix");
        checkArgument(prefix.startsWith("/") && prefix.indexOf('?') < 0 && prefix.indexOf('#') < 0,
                "path prefix: %s (expected: a path starting with /)", prefix);
        String p = prefix.length() > 1 && prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
        return new Route(hostPattern, p, prefixReplacement, hostHeader, fixedHost, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Removes the path prefix before the request goes upstream ({@code /api/x} becomes {@code /x}). */
    public Route stripPrefix() {
        return new Route(hostPattern, pathPrefix, "", hostHeader, fixedHost, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Replaces the path prefix by {@code replacement} ({@code /api/x} becomes {@code /v2/x}). */
    public Route rewritePrefix(String replacement) {
        requireNonNull(replacement, "replacement");
        checkArgument(replacement.isEmpty() || replacement.startsWith("/"),
                "prefix replacement: %s (expected: empty or a path starting with /)", replacement);
        String r = replacement.endsWith("/") ? replacement.substring(0, replacement.length() - 1) : replacement;
        return new Route(hostPattern, pathPrefix, r, hostHeader, fixedHost, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Sends the client's {@code Host} upstream unchanged (the default). */
    public Route preserveHost() {
        return new Route(hostPattern, pathPrefix, prefixReplacement, HostHeader.PRESERVE, null, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Sends the chosen upstream's {@code host:port} as {@code Host}. */
    public Route upstreamHost() {
        return new Route(hostPattern, pathPrefix, prefixReplacement, HostHeader.UPSTREAM, null, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Sends {@code host} as the {@code Host} header. */
    public Route hostHeader(String host) {
        requireNonNull(host, "host");
        checkArgument(!host.isBlank() && host.chars().noneMatch(c -> c <= ' ' || c == 127),
                "host header: %s (expected: host[:port])", host);
        return new Route(hostPattern, pathPrefix, prefixReplacement, HostHeader.FIXED, host, pool, stickyCookie, redirectToHttps, upgradesRefused);
    }

    /** Sends matching requests to {@code pool}. */
    public Route to(UpstreamPool pool) {
        checkState(this.pool == null, "route already sends to %s", this.pool);
        return new Route(hostPattern, pathPrefix, prefixReplacement, hostHeader, fixedHost, requireNonNull(pool, "pool"), stickyCookie, redirectToHttps, upgradesRefused);
    }

    /**
     * Answers this route's requests on the plain HTTP listener with {@code 308 Permanent Redirect} to the same host
     * and path on the HTTPS listener ({@link ProxyServer.Builder#listenTls}); on the HTTPS listener the route proxies
     * as usual. The redirect comes before authentication, so no credentials are asked for in clear text. The
     * {@code Location} has the TLS listener's port unless it is 443.
     */
    public Route redirectToHttps() {
        return new Route(hostPattern, pathPrefix, prefixReplacement, hostHeader, fixedHost, pool, stickyCookie, true, upgradesRefused);
    }

    /**
     * Refuses requests that ask to switch protocols ({@code Upgrade: websocket} and the like) on this route: they
     * get {@code 403} with {@code Proxy-Status}, and the upstream never sees them. By default a route carries
     * upgrades: the upstream's {@code 101} turns the connection into a byte tunnel.
     */
    public Route refuseUpgrades() {
        return new Route(hostPattern, pathPrefix, prefixReplacement, hostHeader, fixedHost, pool, stickyCookie,
                redirectToHttps, true);
    }

    /** Whether this route refuses {@code Upgrade} requests ({@link #refuseUpgrades()}). */
    public boolean refusesUpgrades() {
        return upgradesRefused;
    }

    /** Whether plain-HTTP requests for this route are redirected to HTTPS. */
    public boolean redirectsToHttps() {
        return redirectToHttps;
    }

    /**
     * Sends matching requests to the given upstream URLs, balanced round robin.
     *
     * @deprecated one way to make a pool: {@code to(UpstreamPool.of(urls))}, which also reads where the pool's
     *     balancing, health checks and retries go
     */
    @Deprecated(since = "0.1.0")
    public Route to(String... urls) {
        return to(UpstreamPool.of(urls));
    }

    /**
     * Sticky sessions: the proxy sets cookie {@code name} to an opaque id of the member that served a client, and
     * sends later requests carrying it to the same member while it is available; otherwise the pool's balancer
     * picks a member and the cookie is replaced.
     *
     * @throws IllegalArgumentException if {@code name} is not a cookie-name token
     */
    public Route stickySessions(String name) {
        requireNonNull(name, "name");
        checkArgument(name.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+"), "sticky cookie name: '%s' (expected: a token)", name);
        return new Route(hostPattern, pathPrefix, prefixReplacement, hostHeader, fixedHost, pool, name, redirectToHttps, upgradesRefused);
    }

    /** The sticky-session cookie name, if sticky sessions are on. */
    public Optional<String> stickyCookie() {
        return Optional.ofNullable(stickyCookie);
    }

    /** The host pattern, or empty for any host. */
    public Optional<String> hostPattern() {
        return Optional.ofNullable(hostPattern);
    }

    /** The path prefix ({@code /} for all). */
    public String pathPrefix() {
        return pathPrefix;
    }

    /** The replacement of the path prefix, or empty when the path goes upstream unchanged. */
    public Optional<String> prefixReplacement() {
        return Optional.ofNullable(prefixReplacement);
    }

    /** The Host header policy. */
    public HostHeader hostHeaderPolicy() {
        return hostHeader;
    }

    /** The fixed Host value, for {@link HostHeader#FIXED}. */
    public Optional<String> fixedHost() {
        return Optional.ofNullable(fixedHost);
    }

    /** The pool, once {@link #to} was called. */
    public Optional<UpstreamPool> pool() {
        return Optional.ofNullable(pool);
    }

    /** Whether this route takes a request for {@code host} (normalised, no port) and raw {@code path}. */
    boolean matches(String host, String path) {
        return matchesHost(host) && matchesPath(path);
    }

    private boolean matchesHost(String host) {
        if (hostPattern == null) {
            return true;
        }
        String h = host;
        if (!isNormalized(h)) { // the relay passes normalised hosts; only other callers pay for this
            h = h.toLowerCase(Locale.ROOT);
            if (h.endsWith(".")) {
                h = h.substring(0, h.length() - 1);
            }
        }
        if (hostPattern.startsWith("*.")) {
            String suffix = hostPattern.substring(1);
            return h.length() > suffix.length() && h.endsWith(suffix);
        }
        return h.equals(hostPattern);
    }

    private static boolean isNormalized(String host) {
        if (host.endsWith(".")) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return false;
            }
        }
        return true;
    }

    private boolean matchesPath(String path) {
        if (pathPrefix.equals("/")) {
            return true;
        }
        if (!path.startsWith(pathPrefix)) {
            return false;
        }
        return path.length() == pathPrefix.length() || path.charAt(pathPrefix.length()) == '/';
    }

    /** The path to send upstream for a matched request path (prefix rewritten as configured). */
    String rewritePath(String path) {
        if (prefixReplacement == null || pathPrefix.equals("/") && prefixReplacement.isEmpty()) {
            return path;
        }
        String rest = pathPrefix.equals("/") ? path : path.substring(pathPrefix.length());
        String result = prefixReplacement + rest;
        return result.isEmpty() ? "/" : (result.startsWith("/") ? result : "/" + result);
    }

    /**
     * A short label for the route, such as {@code shop.example/api} or {@code *}{@code /}: the host pattern and path prefix,
     * fixed for the route's life (metric tags and the admin page use it).
     */
    public String label() {
        return (hostPattern == null ? "*" : hostPattern) + pathPrefix;
    }

    @Override
    public String toString() {
        return "Route{" + (hostPattern == null ? "*" : hostPattern) + pathPrefix
                + (pool == null ? "" : " -> " + pool.members()) + "}";
    }
}
