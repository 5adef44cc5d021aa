package io.github.gatehouse.examples;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.core.ExchangeEvent;
import io.github.gatehouse.core.ExchangeListener;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.internal.Cidr;
import io.github.gatehouse.core.metrics.GatehouseMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener of a {@link ProxyServer}: a status page, a JSON API and Prometheus metrics, on a port of its
 * own (loopback by default, never the proxy's port), always behind a bearer token.
 *
 * <pre>{@code
 * AdminServer admin = AdminServer.builder(proxy).port(9090).build().start();
 * log.info("admin on {} (token {})", admin.uri(), admin.token());
 * }</pre>
 *
 * <p><b>Endpoints.</b> Each needs {@code Authorization: Bearer TOKEN}; a missing or wrong token gets 401 with
 * {@code WWW-Authenticate: Bearer}. A browser may instead open {@code /login?token=TOKEN} once: it sets an
 * {@code HttpOnly}, {@code SameSite=Strict} cookie that the read-only {@code GET} endpoints accept (the page, stats,
 * errors, metrics); changes ({@code POST}) always need the header. With {@link Builder#allow} client addresses outside
 * the given CIDRs get 403 before the token is even looked at: the CIDRs narrow access, they never replace the token.
 * <ul>
 *   <li>{@code GET /}: the status page (HTML rendered on the server, no script, no external asset, refreshing
 *   itself every {@link Builder#refresh} seconds);</li>
 *   <li>{@code GET /metrics}: Prometheus text of the registry ({@link GatehouseMetrics} bound to it, and the cluster
 *   meters of {@code SharedCacheMetrics} when the cache is shared by several instances);</li>
 *   <li>{@code GET /api/stats}: routes, pools and members, cache, totals, as JSON;</li>
 *   <li>{@code GET /api/errors?limit=N}: the last errors (status 5xx, or aborted), newest first;</li>
 *   <li>{@code POST /api/purge?url=U | prefix=P | tag=T [&mode=hard|soft]}: purges the cache;</li>
 *   <li>{@code POST /api/members/drain?member=URL[&route=LABEL]}, {@code .../undrain}, and
 *   {@code .../weight?member=URL&weight=N}: change a pool member at runtime;</li>
 *   <li>{@code POST /api/reload}: runs the {@link Builder#onReload reload action} (501 when there is none).</li>
 * </ul>
 *
 * <p><b>Threading.</b> Requests run on the admin listener's own small thread pool, never on the proxy's.
 * {@link #start()} and {@link #close()} are synchronized; accessors are thread-safe.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    static final String COOKIE = "gatehouse_admin";

    private final ProxyServer proxy;
    private final String bind;
    private final int port;
    private final String token;
    private final byte[] tokenBytes;
    private final boolean tokenGenerated;
    private final List<Cidr> allowed;
    private final Supplier<String> reload;
    private final PrometheusMeterRegistry registry;
    private final int refreshSeconds;
    private final Totals totals;
    private Server server;
    private ServerConnector connector;
    private GatehouseMetrics metrics;
    private io.github.gatehouse.cache.metrics.SharedCacheMetrics clusterMeters;
    private AutoCloseable totalsRegistration;
    private boolean closed;

    private AdminServer(Builder b) {
        this.proxy = b.proxy;
        this.bind = b.bind;
        this.port = b.port;
        this.tokenGenerated = b.token == null;
        this.token = b.token != null ? b.token : newToken();
        this.tokenBytes = token.getBytes(StandardCharsets.UTF_8);
        this.allowed = List.copyOf(b.allowed);
        this.reload = b.reload;
        this.registry = b.registry != null ? b.registry : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.refreshSeconds = b.refreshSeconds;
        this.totals = new Totals(b.recentErrors);
    }

    /** A builder for an admin listener of {@code proxy}: loopback, port 9090, a generated token. */
    public static Builder builder(ProxyServer proxy) {
        return new Builder(requireNonNull(proxy, "proxy"));
    }

    /** A new random token: 32 bytes from {@link SecureRandom}, base64url without padding. */
    static String newToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /**
     * Binds and starts the admin listener, and binds {@link GatehouseMetrics} to its registry.
     *
     * @throws IllegalStateException if already started or closed, or the port is the proxy's own
     * @throws UncheckedIOException if the address cannot be bound
     */
    public synchronized AdminServer start() {
        if (server != null || closed) {
            throw new IllegalStateException("admin server already " + (closed ? "closed" : "started"));
        }
        if (port != 0 && proxy.isRunning() && (port == proxy.port() || proxy.hasTls() && port == proxy.tlsPort())) {
            throw new IllegalStateException("admin port " + port + " is the proxy's own port (expected: another port)");
        }
        QueuedThreadPool threads = new QueuedThreadPool(8, 1);
        threads.setName("gatehouse-admin");
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(bind);
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(new AdminHandler());
        metrics = GatehouseMetrics.bindTo(registry, proxy);
        clusterMeters = io.github.gatehouse.cache.metrics.SharedCacheMetrics.bindTo(registry, proxy);
        totalsRegistration = proxy.addListener(totals);
        try {
            server.start();
        } catch (Exception e) {
            closeQuietly();
            throw new UncheckedIOException(new IOException("cannot listen on " + bind + ":" + port + ": " + e.getMessage(), e));
        }
        if (port == 0 && proxy.isRunning() && connector.getLocalPort() == proxy.port()) {
            closeQuietly(); // cannot happen while the proxy holds its port, but never serve the admin there
            throw new IllegalStateException("admin listener got the proxy's port");
        }
        LOG.info("admin listener on {} ({} token)", uri(), tokenGenerated ? "generated" : "given");
        return this;
    }

    /** {@code http://host:port} of the admin listener. */
    public synchronized URI uri() {
        if (server == null) {
            throw new IllegalStateException("admin server is not running");
        }
        String h = bind.contains(":") ? "[" + bind + "]" : bind;
        return URI.create("http://" + h + ":" + connector.getLocalPort());
    }

    /** The bound port. */
    public synchronized int port() {
        return uri().getPort();
    }

    /** The bearer token (the one given, or the one generated). */
    public String token() {
        return token;
    }

    /** Whether the token was generated because none was given. */
    public boolean isTokenGenerated() {
        return tokenGenerated;
    }

    /** The registry {@code /metrics} serves. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Stops the listener and the metrics binding (the proxy keeps running). Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            if (server != null) {
                server.stop();
            }
        } catch (Exception e) {
            LOG.warn("admin listener did not stop cleanly: {}", e.toString());
        }
        if (metrics != null) {
            metrics.close();
        }
        if (clusterMeters != null) {
            clusterMeters.close();
        }
        if (totalsRegistration != null) {
            try {
                totalsRegistration.close();
            } catch (Exception e) {
                LOG.warn("admin listener could not remove its listener: {}", e.toString());
            }
        }
    }

    // ---- requests ------------------------------------------------------------------------------------------

    private final class AdminHandler extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            try {
                serve(request, response, callback);
            } catch (RuntimeException e) {
                LOG.error("admin {} {} failed", request.getMethod(), request.getHttpURI().getPath(), e);
                text(response, callback, 500, "admin request failed: " + e);
            }
            return true;
        }
    }

    private void serve(Request request, Response response, Callback callback) {
        String path = request.getHttpURI().getCanonicalPath();
        String method = request.getMethod();
        InetAddress client = remoteAddress(request);
        if (!allowed.isEmpty() && (client == null || allowed.stream().noneMatch(c -> c.contains(client)))) {
            LOG.info("admin {} {} from {} refused: not in --admin-allow", method, path, client);
            text(response, callback, 403, "client address " + (client == null ? "?" : client.getHostAddress())
                    + " is not allowed on the admin listener");
            return;
        }
        boolean read = "GET".equals(method) || "HEAD".equals(method);
        Fields query = Request.extractQueryParameters(request, StandardCharsets.UTF_8);
        if ("/login".equals(path) && read) {
            String given = query.getValue("token");
            if (given == null || !tokenMatches(given)) {
                unauthorized(request, response, callback, path);
                return;
            }
            response.setStatus(303);
            response.getHeaders().put(HttpHeader.LOCATION, "/");
            Response.addCookie(response, HttpCookie.build(COOKIE, token).path("/").httpOnly(true)
                    .sameSite(HttpCookie.SameSite.STRICT).build());
            text(response, callback, 303, "logged in; see /");
            return;
        }
        if (!authorized(request, read)) {
            unauthorized(request, response, callback, path);
            return;
        }
        switch (path == null ? "" : path) {
            case "/":
                if (needs(read, "GET", request, response, callback)) {
                    send(response, callback, 200, "text/html; charset=utf-8",
                            AdminPage.render(proxy, totals, refreshSeconds));
                }
                return;
            case "/metrics":
                if (needs(read, "GET", request, response, callback)) {
                    send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
                }
                return;
            case "/api/stats":
                if (needs(read, "GET", request, response, callback)) {
                    json(response, callback, 200, AdminPage.statsJson(proxy, totals));
                }
                return;
            case "/api/errors":
                if (needs(read, "GET", request, response, callback)) {
                    errors(query, response, callback);
                }
                return;
            case "/api/purge":
                if (needs("POST".equals(method), "POST", request, response, callback)) {
                    purge(query, response, callback);
                }
                return;
            case "/api/members/drain":
            case "/api/members/undrain":
            case "/api/members/weight":
                if (needs("POST".equals(method), "POST", request, response, callback)) {
                    member(path.substring("/api/members/".length()), query, response, callback);
                }
                return;
            case "/api/reload":
                if (needs("POST".equals(method), "POST", request, response, callback)) {
                    reload(response, callback);
                }
                return;
            default:
                text(response, callback, 404, "no such admin endpoint: " + path);
        }
    }

    private boolean authorized(Request request, boolean read) {
        String h = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return tokenMatches(h.substring(7).trim());
        }
        if (read) {
            for (HttpCookie c : Request.getCookies(request)) {
                if (COOKIE.equals(c.getName()) && tokenMatches(c.getValue())) {
                    return true;
                }
            }
        }
        return false;
    }

    private boolean tokenMatches(String given) {
        return MessageDigest.isEqual(tokenBytes, given.getBytes(StandardCharsets.UTF_8));
    }

    private void unauthorized(Request request, Response response, Callback callback, String path) {
        LOG.info("admin {} {} from {}: 401, missing or wrong token", request.getMethod(), path, remoteAddress(request));
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"gatehouse-admin\"");
        text(response, callback, 401, "admin token required (Authorization: Bearer TOKEN)");
    }

    private static boolean needs(boolean ok, String allow, Request request, Response response, Callback callback) {
        if (!ok) {
            response.getHeaders().put(HttpHeader.ALLOW, allow.equals("GET") ? "GET, HEAD" : allow);
            text(response, callback, 405, request.getMethod() + " is not allowed here (expected: " + allow + ")");
        }
        return ok;
    }

    private void errors(Fields query, Response response, Callback callback) {
        int limit;
        try {
            String l = query.getValue("limit");
            limit = l == null ? 50 : Integer.parseInt(l.trim());
        } catch (NumberFormatException e) {
            text(response, callback, 400, "limit: '" + query.getValue("limit") + "' (expected: a number)");
            return;
        }
        AdminJson j = new AdminJson().beginObject().name("errors").beginArray();
        for (ExchangeEvent e : totals.recentErrors(Math.max(0, limit))) {
            AdminPage.errorJson(j, e);
        }
        json(response, callback, 200, j.endArray().endObject().toString());
    }

    private void purge(Fields query, Response response, Callback callback) {
        if (proxy.cache().isEmpty() || !(proxy.cache().get() instanceof SharedCache)) {
            text(response, callback, 501, "this proxy has no purgeable cache");
            return;
        }
        SharedCache cache = (SharedCache) proxy.cache().get();
        String url = query.getValue("url");
        String prefix = query.getValue("prefix");
        String tag = query.getValue("tag");
        int given = (url != null ? 1 : 0) + (prefix != null ? 1 : 0) + (tag != null ? 1 : 0);
        if (given != 1) {
            text(response, callback, 400, "purge needs exactly one of url=, prefix= or tag=");
            return;
        }
        String m = query.getValue("mode");
        PurgeMode mode;
        if (m == null || m.equalsIgnoreCase("hard")) {
            mode = PurgeMode.HARD;
        } else if (m.equalsIgnoreCase("soft")) {
            mode = PurgeMode.SOFT;
        } else {
            text(response, callback, 400, "mode: '" + m + "' (expected: hard or soft)");
            return;
        }
        long purged;
        try {
            purged = url != null ? cache.purge(URI.create(url), mode)
                    : prefix != null ? cache.purgePrefix(URI.create(prefix), mode)
                    : cache.purgeTag(tag, mode);
        } catch (IllegalArgumentException e) {
            text(response, callback, 400, e.getMessage());
            return;
        }
        LOG.info("admin purge {}={} ({}): {} entries", url != null ? "url" : prefix != null ? "prefix" : "tag",
                url != null ? url : prefix != null ? prefix : tag, mode.name().toLowerCase(Locale.ROOT), purged);
        json(response, callback, 200, new AdminJson().beginObject().field("purged", purged)
                .field("mode", mode.name().toLowerCase(Locale.ROOT)).endObject().toString());
    }

    private void member(String action, Fields query, Response response, Callback callback) {
        String member = query.getValue("member");
        String route = query.getValue("route");
        if (member == null) {
            text(response, callback, 400, action + " needs member=URL");
            return;
        }
        int weight = 0;
        if (action.equals("weight")) {
            String w = query.getValue("weight");
            try {
                weight = Integer.parseInt(w == null ? "" : w.trim());
            } catch (NumberFormatException e) {
                text(response, callback, 400, "weight: '" + w + "' (expected: 1..1000)");
                return;
            }
            if (weight < 1 || weight > 1000) {
                text(response, callback, 400, "weight: " + weight + " (expected: 1..1000)");
                return;
            }
        }
        List<String> changed = new ArrayList<>();
        try {
            for (Route r : proxy.routes()) {
                if (route != null && !route.equals(r.label()) || r.pool().isEmpty()) {
                    continue;
                }
                UpstreamPool pool = r.pool().get();
                boolean found = action.equals("drain") ? pool.drain(member)
                        : action.equals("undrain") ? pool.undrain(member)
                        : pool.weight(member, weight);
                if (found) {
                    changed.add(r.label());
                }
            }
        } catch (IllegalArgumentException e) {
            text(response, callback, 400, "member: " + e.getMessage());
            return;
        }
        if (changed.isEmpty()) {
            text(response, callback, 404, "no pool has member " + member + (route != null ? " on route " + route : ""));
            return;
        }
        LOG.info("admin {} {}{} on routes {}", action, member, action.equals("weight") ? " to " + weight : "", changed);
        AdminJson j = new AdminJson().beginObject().field("member", member).field("action", action);
        if (action.equals("weight")) {
            j.field("weight", weight);
        }
        j.name("routes").beginArray();
        changed.forEach(j::value);
        json(response, callback, 200, j.endArray().endObject().toString());
    }

    private void reload(Response response, Callback callback) {
        if (reload == null) {
            text(response, callback, 501, "no reload action is configured (the proxy was not started from a file)");
            return;
        }
        String result;
        try {
            result = reload.get();
        } catch (IllegalArgumentException e) {
            LOG.info("admin reload refused: {}", e.getMessage());
            text(response, callback, 400, "reload refused, nothing changed: " + e.getMessage());
            return;
        } catch (RuntimeException e) {
            LOG.warn("admin reload failed", e);
            text(response, callback, 500, "reload failed: " + e);
            return;
        }
        LOG.info("admin reload: {}", result);
        json(response, callback, 200, new AdminJson().beginObject().field("reloaded", true).field("result", result)
                .endObject().toString());
    }

    private static InetAddress remoteAddress(Request request) {
        SocketAddress a = request.getConnectionMetaData().getRemoteSocketAddress();
        return a instanceof InetSocketAddress ? ((InetSocketAddress) a).getAddress() : null;
    }

    private static void text(Response response, Callback callback, int status, String text) {
        send(response, callback, status, "text/plain; charset=utf-8", text + "\n");
    }

    private static void json(Response response, Callback callback, int status, String json) {
        send(response, callback, status, "application/json", json);
    }

    private static void send(Response response, Callback callback, int status, String type, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.getHeaders().put("X-Content-Type-Options", "nosniff");
        if (type.startsWith("text/html")) {
            // no script, no external asset, no framing: the page is one self-contained document
            response.getHeaders().put("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
            response.getHeaders().put("X-Frame-Options", "DENY");
        }
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
    }

    // ---- what the page counts itself ----------------------------------------------------------------------

    /** Totals since the admin listener started, and the last errors (5xx or aborted), for the page and the API. */
    static final class Totals implements ExchangeListener {
        final LongAdder requests = new LongAdder();
        final LongAdder[] byClass = {new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder()};
        final LongAdder errors = new LongAdder();
        final LongAdder denied = new LongAdder();
        private final int capacity;
        private final ArrayDeque<ExchangeEvent> recent;

        Totals(int capacity) {
            this.capacity = capacity;
            this.recent = new ArrayDeque<>(capacity);
        }

        @Override
        public void exchangeCompleted(ExchangeEvent e) {
            requests.increment();
            if (e.status() >= 100 && e.status() <= 599) {
                byClass[e.status() / 100 - 1].increment();
            }
            if (ExchangeEvent.DENIED.equals(e.outcome())) {
                denied.increment();
            }
            if (e.status() >= 500 || ExchangeEvent.ABORTED.equals(e.outcome())) {
                errors.increment();
                if (capacity > 0) {
                    synchronized (recent) {
                        if (recent.size() == capacity) {
                            recent.removeLast();
                        }
                        recent.addFirst(e);
                    }
                }
            }
        }

        /** The last {@code limit} errors, newest first. */
        List<ExchangeEvent> recentErrors(int limit) {
            synchronized (recent) {
                List<ExchangeEvent> list = new ArrayList<>(Math.min(limit, recent.size()));
                for (ExchangeEvent e : recent) {
                    if (list.size() >= limit) {
                        break;
                    }
                    list.add(e);
                }
                return list;
            }
        }
    }

    /**
     * Configures an {@link AdminServer}. Not thread-safe; each setter checks its argument.
     */
    public static final class Builder {
        private final ProxyServer proxy;
        private String bind = "127.0.0.1";
        private int port = 9090;
        private String token;
        private final List<Cidr> allowed = new ArrayList<>();
        private Supplier<String> reload;
        private PrometheusMeterRegistry registry;
        private int refreshSeconds = 5;
        private int recentErrors = 100;

        private Builder(ProxyServer proxy) {
            this.proxy = proxy;
        }

        /** The address to listen on (127.0.0.1 by default; anything else exposes the admin API to the network). */
        public Builder bind(String address) {
            requireNonNull(address, "address");
            String a = address.trim();
            if (a.startsWith("[") && a.endsWith("]")) {
                a = a.substring(1, a.length() - 1);
            }
            if (a.isEmpty() || a.chars().anyMatch(c -> c <= ' ')) {
                throw new IllegalArgumentException("admin bind address: '" + address + "' (expected: an IP address or host name)");
            }
            this.bind = a;
            return this;
        }

        /** The port (9090 by default; 0 for a free one). It may not be the proxy's own. */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("admin port: " + port + " (expected: 0..65535)");
            }
            this.port = port;
            return this;
        }

        /**
         * The bearer token clients must send; without one a random token is generated at start (read it with
         * {@link AdminServer#token()}).
         */
        public Builder token(String token) {
            requireNonNull(token, "token");
            if (token.length() < 16 || !token.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
                throw new IllegalArgumentException("admin token: " + token.length()
                        + " characters (expected: at least 16 visible ASCII characters)");
            }
            this.token = token;
            return this;
        }

        /** Admits only clients in {@code cidr} (repeatable; on top of the token, never instead of it). */
        public Builder allow(String cidr) {
            allowed.add(Cidr.parse(requireNonNull(cidr, "cidr")));
            return this;
        }

        /**
         * What {@code POST /api/reload} runs: it reloads the configuration and returns a one-line summary, or throws
         * {@link IllegalArgumentException} when the new configuration is invalid (then nothing changed: 400).
         * Without one the endpoint answers 501.
         */
        public Builder onReload(Supplier<String> action) {
            this.reload = requireNonNull(action, "action");
            return this;
        }

        /** {@link #onReload(Supplier)} for an action with nothing to report. */
        public Builder onReload(Runnable action) {
            requireNonNull(action, "action");
            return onReload(() -> {
                action.run();
                return "reloaded";
            });
        }

        /**
         * The registry {@code /metrics} serves (one is made by default). {@link GatehouseMetrics} for the proxy is
         * bound to it at start, so it must not hold the proxy's Gatehouse meters already.
         */
        public Builder registry(PrometheusMeterRegistry registry) {
            this.registry = requireNonNull(registry, "registry");
            return this;
        }

        /** How often the status page reloads itself (5 s by default; 1..3600). */
        public Builder refresh(int seconds) {
            if (seconds < 1 || seconds > 3600) {
                throw new IllegalArgumentException("refresh: " + seconds + " (expected: 1..3600 seconds)");
            }
            this.refreshSeconds = seconds;
            return this;
        }

        /** How many recent errors the page and {@code /api/errors} keep (100 by default; 0..10000). */
        public Builder recentErrors(int count) {
            if (count < 0 || count > 10_000) {
                throw new IllegalArgumentException("recentErrors: " + count + " (expected: 0..10000)");
            }
            this.recentErrors = count;
            return this;
        }

        /** The admin server, not started. */
        public AdminServer build() {
            return new AdminServer(this);
        }
    }
}
