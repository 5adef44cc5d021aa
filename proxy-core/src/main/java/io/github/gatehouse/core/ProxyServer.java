package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.Cidr;
import io.github.gatehouse.core.internal.JettyProxy;
import io.github.gatehouse.core.internal.ProxyConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.concurrent.ThreadLocalRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An HTTP proxy server: forward (absolute-form and {@code CONNECT}), reverse (routes to upstream pools), or both.
 *
 * <p>Build one with {@link #builder()}, then {@link #start()} it; {@link #close()} stops it, letting exchanges in
 * flight finish within the drain time. The configuration is immutable; {@link #reconfigure} swaps in another one while
 * it runs. Several servers may run in one JVM.
 *
 * <pre>{@code
 * try (ProxyServer proxy = ProxyServer.builder().listen(3128).forward().build().start()) {
 *     log.info("proxy on {}", proxy.uri());
 *     ...
 * }
 * }</pre>
 *
 * <p><b>Threading.</b> {@link #start()} and {@link #close()} may be called from any thread; they are
 * synchronized. Accessors are thread-safe.
 */
public final class ProxyServer implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ProxyServer.class);
    /** The configuration in force; {@link #reconfigure} replaces it (under this object's lock). */
    private volatile ProxyConfig config;
    private volatile JettyProxy running; // volatile: the gauges below read it without the lock
    private final io.github.gatehouse.core.internal.ExchangeEvents events = new io.github.gatehouse.core.internal.ExchangeEvents();
    private boolean closed;

    /** The cache-peer routing the configuration in force came with, or null. */
    private volatile CachePeers cachePeersApi;

    private ProxyServer(ProxyConfig config, CachePeers cachePeers) {
        this.config = config;
        this.cachePeersApi = cachePeers;
    }

    /** A new builder with safe defaults: loopback, ephemeral port, no mode (choose forward and/or routes). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Binds the listening sockets (plain HTTP, and HTTPS when {@link Builder#listenTls} was called) and starts
     * serving; when it returns, both accept connections.
     *
     * @return this server, now running
     * @throws IllegalStateException if it was already started or closed
     * @throws UncheckedIOException if the address cannot be bound
     */
    public synchronized ProxyServer start() {
        checkState(running == null && !closed, "proxy server already %s", closed ? "closed" : "started");
        JettyProxy proxy = new JettyProxy(config);
        proxy.events(events);
        try {
            proxy.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        running = proxy;
        if (config.cachePeers() != null) {
            try {
                config.cachePeers().start(config.bindAddress(), proxy.port());
            } catch (RuntimeException e) {
                running = null;
                proxy.stop();
                throw e;
            }
        }
        return this;
    }

    /**
     * Swaps in the configuration {@code next} describes, atomically, while the server runs: it is built and checked
     * completely first, and if anything is wrong nothing changes. Then exchanges that start from now on use it, and
     * exchanges in flight finish on the configuration they started with.
     *
     * <ul>
     *   <li>A listener whose address and port did not change is not rebound, and its connections stay open: one
     *       built with port 0 keeps the port it got. When the plain listener's address or port changed, the new one is
     *       bound first (a failure changes nothing), then the old one stops accepting; connections it had open go on
     *       until they close. The HTTPS listener, client connection limits and timeouts, the destination policy and
     *       the via pseudonym cannot change this way (an {@link IllegalArgumentException} says which changed); a
     *       {@code next} without {@link Builder#via} keeps this server's pseudonym.</li>
     *   <li>Routes, filters, the authenticator, the cache, the access log, the forward mode and its {@code CONNECT}
     *       ports, the upstream timeout, header limits and trusted proxies change.</li>
     *   <li>A pool of the new routes takes over the live member of the pools in use that has the same URL, with its
     *       health, ejection, drain state, load and counters (and its pooled connections, which belong to the
     *       upstream's address); health checks run for the pools in use only.</li>
     *   <li>The previous cache and access log are closed once the last exchange that started on them has ended,
     *       unless {@code next} uses the same instances (hand the same cache to keep its contents).</li>
     * </ul>
     *
     * <p>Before {@link #start()}, it simply replaces the configuration.
     *
     * @throws IllegalStateException if {@code next} does not build (as {@link Builder#build()}), or this server is
     *     closed
     * @throws IllegalArgumentException if {@code next} changes what only a restart can change, or its new listening
     *     address cannot be bound
     */
    public synchronized void reconfigure(Builder next) {
        requireNonNull(next, "next");
        checkState(!closed, "proxy server is closed");
        ProxyConfig candidate = next.config(config.viaName());
        if (running != null) {
            running.reconfigure(candidate);
            if (candidate.cachePeers() != null) {
                candidate.cachePeers().start(candidate.bindAddress(), running.port());
            }
            if (config.cachePeers() != null && config.cachePeers() != candidate.cachePeers()) {
                config.cachePeers().stop();
            }
        }
        config = candidate;
        cachePeersApi = next.cachePeers;
    }

    /**
     * The port it listens on (the actual one when it was built with port 0).
     *
     * @throws IllegalStateException if not running
     */
    public synchronized int port() {
        checkState(running != null && !closed, "proxy server is not running");
        return running.port();
    }

    /** {@code http://host:port} of the listening socket. */
    public synchronized URI uri() {
        return URI.create("http://" + uriHost() + ":" + port());
    }

    /**
     * The port of the HTTPS listener (the actual one when it was built with port 0).
     *
     * @throws IllegalStateException if not running, or built without {@link Builder#listenTls}
     */
    public synchronized int tlsPort() {
        checkState(config.hasTls(), "proxy server has no HTTPS listener (expected: listenTls(port, tls))");
        checkState(running != null && !closed, "proxy server is not running");
        return running.tlsPort();
    }

    /**
     * {@code https://host:port} of the HTTPS listener.
     *
     * @throws IllegalStateException if not running, or built without {@link Builder#listenTls}
     */
    public synchronized URI tlsUri() {
        return URI.create("https://" + uriHost() + ":" + tlsPort());
    }

    /**
     * The port of the SOCKS5 listener (the actual one when it was built with port 0).
     *
     * @throws IllegalStateException if not running, or built without {@link Builder#listenSocks}
     */
    public synchronized int socksPort() {
        checkState(config.fronts().hasSocks(), "proxy server has no SOCKS listener (expected: listenSocks(port))");
        checkState(running != null && !closed, "proxy server is not running");
        return running.socksPort();
    }

    /**
     * {@code socks5://host:port} of the SOCKS5 listener.
     *
     * @throws IllegalStateException if not running, or built without {@link Builder#listenSocks}
     */
    public synchronized URI socksUri() {
        return URI.create("socks5://" + uriHost() + ":" + socksPort());
    }

    /** Whether this server was built with a SOCKS5 listener. */
    public boolean hasSocks() {
        return config.fronts().hasSocks();
    }

    /** Whether this server was built with an HTTPS listener. */
    public boolean hasTls() {
        return config.hasTls();
    }

    /**
     * Reads the HTTPS listener's certificate and key files again now: handshakes from now on get the new
     * certificates, connections already open keep their session. The files are also checked for changes
     * periodically ({@link Tls#checkForChangesEvery}).
     *
     * @throws IllegalStateException if not running, or built without {@link Builder#listenTls}
     * @throws IllegalArgumentException if the files do not parse or a key does not match its certificate; the
     *     certificates in use stay
     */
    public synchronized void reloadTls() {
        checkState(config.hasTls(), "proxy server has no HTTPS listener (expected: listenTls(port, tls))");
        checkState(running != null && !closed, "proxy server is not running");
        running.reloadTls();
    }

    private String uriHost() {
        return config.bindAddress().contains(":") ? "[" + config.bindAddress() + "]" : config.bindAddress();
    }

    /** Whether {@link #start()} succeeded and {@link #close()} was not called. */
    public synchronized boolean isRunning() {
        return running != null && !closed;
    }

    /**
     * The running Jetty connector, for tests in this package that wait on connection events (not API: package-private
     * so that no public signature mentions Jetty).
     *
     * @throws IllegalStateException if not running
     */
    synchronized org.eclipse.jetty.server.ServerConnector connector() {
        checkState(running != null && !closed, "proxy server is not running");
        return running.connector();
    }

    /** The via pseudonym this server uses in {@code Via} and {@code Proxy-Status}. */
    public String viaName() {
        return config.viaName();
    }

    // ---- observation: what metrics and the admin page read -------------------------------------------------

    /**
     * Adds an observer of finished exchanges, before or after {@link #start()}; it sees every exchange that ends from
     * now on. Close the returned handle to remove it.
     */
    public AutoCloseable addListener(ExchangeListener listener) {
        Runnable remove = events.add(requireNonNull(listener, "listener"));
        return remove::run;
    }

    /** The reverse routes, in match order (empty for a forward-only proxy). */
    public List<Route> routes() {
        return config.routes();
    }

    /** The cache, if one was configured. */
    public java.util.Optional<HttpCache> cache() {
        return java.util.Optional.ofNullable(config.cache());
    }

    /** The cache-peer routing, if it was configured ({@link Builder#cachePeers}). */
    public java.util.Optional<CachePeers> cachePeers() {
        return java.util.Optional.ofNullable(cachePeersApi);
    }

    /** The authenticator, if one was configured. */
    public java.util.Optional<Authenticator> authenticator() {
        return java.util.Optional.ofNullable(config.authenticator());
    }

    /** The request filters, in order. */
    public List<ProxyFilter> filters() {
        return config.filters();
    }

    /** Exchanges started and not yet completed (0 when not running). */
    public int activeExchanges() {
        JettyProxy r = running;
        return r == null ? 0 : r.activeExchanges();
    }

    /** Client connections open now on the proxy's listeners (0 when not running). */
    public int openConnections() {
        JettyProxy r = running;
        return r == null ? 0 : r.openConnections();
    }

    /** {@code CONNECT} tunnels open now (0 when not running). */
    public int openTunnels() {
        JettyProxy r = running;
        return r == null ? 0 : r.openTunnels();
    }

    /**
     * Stops accepting connections, waits up to the drain time for exchanges in flight, then closes everything,
     * including the access log and the cache if it is {@link AutoCloseable}. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (config.cachePeers() != null) {
            config.cachePeers().stop(); // first: the others stop sending this instance their misses
        }
        if (running != null) {
            running.stop();
        }
        config.accessLog().close();
        if (config.cache() instanceof AutoCloseable) {
            try {
                ((AutoCloseable) config.cache()).close();
            } catch (Exception e) {
                LOG.warn("cache {} did not close cleanly: {}", config.cache(), e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return "ProxyServer{" + config.bindAddress() + ":" + config.port()
                + (config.hasTls() ? ", tls:" + config.tls().port() : "") + (config.forward() ? ", forward" : "")
                + (config.routes().isEmpty() ? "" : ", routes=" + config.routes()) + "}";
    }

    /**
     * Configures a {@link ProxyServer}. Each setter checks its argument at once. Not thread-safe; {@link #build()}
     * copies the configuration, so a builder may be reused.
     */
    public static final class Builder {
        private String bindAddress = "127.0.0.1";
        private int port = 0;
        private boolean forward;
        private final Set<Integer> connectPorts = new LinkedHashSet<>(List.of(443));
        private final List<Route> routes = new ArrayList<>();
        private final List<ProxyFilter> filters = new ArrayList<>();
        private Authenticator authenticator;
        private HttpCache cache;
        private AccessLog accessLog;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(60);
        private Duration upstreamTimeout = Duration.ofSeconds(60);
        private Duration exchangeTimeout = Duration.ofHours(1);
        private Duration drainTimeout = Duration.ofSeconds(5);
        private Duration requestHeadTimeout = Duration.ofSeconds(30);
        private DataSize minRequestBodyRate = DataSize.bytes(0);
        private DataSize minResponseBodyRate = DataSize.bytes(0);
        private Duration bodyRateGracePeriod = Duration.ofSeconds(10);
        private DataSize maxRequestHeaderSize = DataSize.kibibytes(32);
        private int maxRequestHeaders = 100;
        private DataSize maxResponseHeaderSize = DataSize.kibibytes(64);
        private int maxConnections = 10_000;
        private int maxConnectionsPerUpstream = 1024;
        private String viaName;
        private final List<Cidr> trustedProxies = new ArrayList<>();
        private boolean allowInternalDestinations;
        private final List<String> allowedInternalDestinations = new ArrayList<>();
        private int tlsPort = -1;
        private Tls tls;
        private int maxConcurrentStreams = 128;
        private boolean webSocketOverHttp2 = true;
        private boolean refuseForwardUpgrades;
        private int socksPort = -1;
        private Duration socksHandshakeTimeout = Duration.ofSeconds(10);
        private final List<Cidr> proxyProtocolFrom = new ArrayList<>();
        private boolean ftpGateway;
        private UpstreamTls upstreamTls = UpstreamTls.defaults();
        private Interception interception;
        private CachePeers cachePeers;

        private Builder() {
        }

        /** Listens on {@code port} (0 for an ephemeral port) on the bind address (loopback by default). */
        public Builder listen(int port) {
            checkArgument(port >= 0 && port <= 65535, "port: %s (expected: 0..65535)", port);
            this.port = port;
            return this;
        }

        /**
         * Listens on {@code address} and {@code port}. Binding to anything but loopback exposes the proxy: combine
         * it with an {@link Authenticator} or client-address filter so it does not become an open proxy.
         */
        public Builder listen(String address, int port) {
            bind(address);
            return listen(port);
        }

        /** Binds to {@code address} (an IP literal or host name; {@code 0.0.0.0} for all interfaces). */
        public Builder bind(String address) {
            requireNonNull(address, "address");
            String a = address.trim();
            if (a.startsWith("[") && a.endsWith("]")) {
                a = a.substring(1, a.length() - 1);
            }
            checkArgument(!a.isEmpty() && a.chars().noneMatch(c -> c <= ' '), "bind address: '%s' (expected: an IP address or host name)", address);
            this.bindAddress = a;
            return this;
        }

        /**
         * Adds an HTTPS listener on {@code port} (0 for an ephemeral one) on the bind address, beside the plain HTTP
         * listener of {@link #listen}: TLS 1.2 and 1.3 with {@code tls}'s certificates (chosen by SNI), HTTP/2 and
         * HTTP/1.1 negotiated by ALPN. Requests that arrive on it have the scheme {@code https}, which reverse routes
         * pass upstream in {@code X-Forwarded-Proto} and {@code Forwarded: proto=}. Both listeners serve the same
         * routes, filters and cache; a route may {@linkplain Route#redirectToHttps() redirect} plain requests here.
         *
         * @throws IllegalStateException if an HTTPS listener was already configured
         */
        public Builder listenTls(int port, Tls tls) {
            checkArgument(port >= 0 && port <= 65535, "TLS port: %s (expected: 0..65535)", port);
            checkState(this.tls == null, "TLS listener was already set to port %s with %s", tlsPort, this.tls);
            this.tls = requireNonNull(tls, "tls");
            this.tlsPort = port;
            return this;
        }

        /**
         * The most HTTP/2 streams (requests) one client connection may have open at once (128 by default), on both
         * listeners (h2 over TLS and h2c with prior knowledge).
         */
        public Builder maxConcurrentStreams(int count) {
            checkArgument(count >= 1 && count <= 10_000, "maxConcurrentStreams: %s (expected: 1..10000)", count);
            this.maxConcurrentStreams = count;
            return this;
        }

        /**
         * Whether the HTTP/2 listeners (h2 over TLS and h2c) offer WebSocket over HTTP/2 (RFC 8441): on by default.
         * On, they announce {@code SETTINGS_ENABLE_CONNECT_PROTOCOL}, and an extended {@code CONNECT} with
         * {@code :protocol websocket} goes through the phases as the {@code GET} it stands for (routes, authentication,
         * filters; forward mode takes {@code :scheme} and {@code :authority} as the target), then upstream as an
         * HTTP/1.1 {@code Upgrade}; the upstream's {@code 101} becomes a {@code 200} on the stream, whose DATA frames
         * then carry the WebSocket bytes both ways under HTTP/2 flow control. Off, the listeners do not announce it, and
         * clients (browsers) open an HTTP/1.1 connection for their WebSockets instead.
         */
        public Builder webSocketOverHttp2(boolean enabled) {
            this.webSocketOverHttp2 = enabled;
            return this;
        }

        /**
         * Forward mode: refuses every {@code Upgrade} request (WebSocket in absolute form, or over HTTP/2) with
         * {@code 403} and {@code Proxy-Status: ...; error=http_request_denied}, before anything is dialled. Plain
         * requests and {@code CONNECT} tunnels are not affected ({@code wss://} through {@code CONNECT} still works; use
         * {@link #connectPorts} or a filter for those). Reverse routes use {@link Route#refuseUpgrades()}.
         *
         * @throws IllegalStateException at {@link #build()} if the proxy is not a forward proxy
         */
        public Builder refuseForwardUpgrades() {
            this.refuseForwardUpgrades = true;
            return this;
        }

        /** Acts as a forward proxy: absolute-form {@code http://} and {@code https://} requests, and {@code CONNECT}. */
        public Builder forward() {
            this.forward = true;
            return this;
        }

        /**
         * The ports {@code CONNECT} may reach (443 by default, like Squid's {@code SSL_ports}); others get 403
         * before anything is dialled.
         */
        public Builder connectPorts(int... ports) {
            requireNonNull(ports, "ports");
            checkArgument(ports.length > 0, "connect ports: none (expected: at least one port)");
            Set<Integer> set = new LinkedHashSet<>();
            for (int p : ports) {
                checkArgument(p >= 1 && p <= 65535, "connect port: %s (expected: 1..65535)", p);
                set.add(p);
            }
            connectPorts.clear();
            connectPorts.addAll(set);
            return this;
        }

        /**
         * Adds a reverse route; routes are tried in the order added.
         *
         * @throws IllegalArgumentException if the route has no upstream ({@link Route#to} was not called)
         */
        public Builder route(Route route) {
            requireNonNull(route, "route");
            checkArgument(route.pool().isPresent(), "route %s has no upstream (expected: route.to(...))", route);
            routes.add(route);
            return this;
        }

        /** Adds a filter; filters see requests in the order added. */
        public Builder filter(ProxyFilter filter) {
            filters.add(requireNonNull(filter, "filter"));
            return this;
        }

        /** Requires every request to authenticate with {@code authenticator}. */
        public Builder authenticator(Authenticator authenticator) {
            checkState(this.authenticator == null, "authenticator was already set to %s", this.authenticator);
            this.authenticator = requireNonNull(authenticator, "authenticator");
            return this;
        }

        /** Caches responses with {@code cache}. */
        public Builder cache(HttpCache cache) {
            checkState(this.cache == null, "cache was already set to %s", this.cache);
            this.cache = requireNonNull(cache, "cache");
            return this;
        }

        /**
         * Routes cache misses to their home instance among {@code peers} (CARP): a miss for a key whose home is another
         * instance is fetched from it, with the peers' short timeout and a fall back to the origin; requests of the
         * peers for keys this instance is home to are served from this cache. Needs a {@link #cache}. See
         * {@link CachePeers}.
         */
        public Builder cachePeers(CachePeers peers) {
            checkState(this.cachePeers == null, "cache peers were already set to %s", this.cachePeers);
            this.cachePeers = requireNonNull(peers, "peers");
            return this;
        }

        /** Where finished exchanges are recorded; {@link AccessLog#slf4j()} by default. */
        public Builder accessLog(AccessLog accessLog) {
            this.accessLog = requireNonNull(accessLog, "accessLog");
            return this;
        }

        /** How long to wait for a TCP connection to an upstream or {@code CONNECT} target (10 s by default). */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        /** How long a client connection, upstream connection or tunnel may stay silent (60 s by default). */
        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = positive(timeout, "idleTimeout");
            return this;
        }

        /** How long the upstream may take to send its response head; then the client gets 504 (60 s by default). */
        public Builder upstreamTimeout(Duration timeout) {
            this.upstreamTimeout = positive(timeout, "upstreamTimeout");
            return this;
        }

        /** The longest one exchange may take from request head to last byte (1 h by default). */
        public Builder exchangeTimeout(Duration timeout) {
            this.exchangeTimeout = positive(timeout, "exchangeTimeout");
            return this;
        }

        /**
         * How long a client may take to send a whole request head, from the connection's open or the end of the
         * previous exchange (30 s by default); then the connection is closed. This bounds slowloris-style clients,
         * which the idle timeout alone does not (it restarts on every byte).
         */
        public Builder requestHeadTimeout(Duration timeout) {
            this.requestHeadTimeout = positive(timeout, "requestHeadTimeout");
            return this;
        }

        /**
         * The slowest a client may send a request body, in bytes a second ({@code DataSize.bytes(0)}, the default,
         * turns the check off). This bounds slow-body clients ("slow POST", R.U.D.Y.) that the idle timeout alone
         * does not, as it restarts on every byte; like Apache's {@code mod_reqtimeout body=...,MinRate=...} and
         * Kestrel's {@code MinRequestBodyDataRate}.
         *
         * <p>Only the time the proxy spends waiting for the client's next bytes counts: a slow upstream that is not
         * ready for more of the body does not count against the client. A client may wait up to the
         * {@linkplain #bodyRateGracePeriod grace period}, plus one second for every {@code perSecond} bytes it has
         * sent; past that the exchange ends: {@code 408 Request Timeout} with {@code Connection: close} when no
         * response began, else the connection is closed. The upstream request is aborted either way. Checked about
         * twice a second. {@code CONNECT} tunnels are not checked (their idle timeout bounds them).
         */
        public Builder minRequestBodyRate(DataSize perSecond) {
            requireNonNull(perSecond, "perSecond");
            checkArgument(perSecond.toBytes() <= 1L << 30, "minRequestBodyRate: %s (expected: 0..1GiB a second)", perSecond);
            this.minRequestBodyRate = perSecond;
            return this;
        }

        /**
         * The slowest a client may take a response body, in bytes a second ({@code DataSize.bytes(0)}, the default,
         * turns the check off), counted like {@link #minRequestBodyRate}: only while a write to the client is
         * pending, that is while the client does not read and the socket's buffers are full. A client that reads
         * nothing for the {@linkplain #bodyRateGracePeriod grace period} plus one second for every
         * {@code perSecond} bytes it has taken has its connection closed, and the upstream response is aborted. A
         * stream the upstream sends slowly (server-sent events, long polls) is not affected: the proxy waits on the
         * upstream then, not on the client.
         */
        public Builder minResponseBodyRate(DataSize perSecond) {
            requireNonNull(perSecond, "perSecond");
            checkArgument(perSecond.toBytes() <= 1L << 30, "minResponseBodyRate: %s (expected: 0..1GiB a second)", perSecond);
            this.minResponseBodyRate = perSecond;
            return this;
        }

        /**
         * How long a client may make the proxy wait on a body before {@link #minRequestBodyRate} and
         * {@link #minResponseBodyRate} apply (10 s by default): a start-up allowance for slow starts (TCP slow start,
         * a phone waking its radio).
         */
        public Builder bodyRateGracePeriod(Duration grace) {
            requireNonNull(grace, "bodyRateGracePeriod");
            checkArgument(!grace.isNegative(), "bodyRateGracePeriod: %s (expected: >= 0)", grace);
            this.bodyRateGracePeriod = grace;
            return this;
        }

        /** How long {@link ProxyServer#close()} waits for exchanges in flight (5 s by default). */
        public Builder drainTimeout(Duration timeout) {
            requireNonNull(timeout, "drainTimeout");
            checkArgument(!timeout.isNegative(), "drainTimeout: %s (expected: >= 0)", timeout);
            this.drainTimeout = timeout;
            return this;
        }

        /** The largest request head accepted (32 KiB by default); larger ones get 431. */
        public Builder maxRequestHeaderSize(DataSize size) {
            requireNonNull(size, "size");
            checkArgument(size.toBytes() >= 1024 && size.toBytes() <= 1024 * 1024,
                    "maxRequestHeaderSize: %s (expected: 1KiB..1MiB)", size);
            this.maxRequestHeaderSize = size;
            return this;
        }

        /** The most header fields a request may have (100 by default); more get 431. */
        public Builder maxRequestHeaders(int count) {
            checkArgument(count >= 1 && count <= 10_000, "maxRequestHeaders: %s (expected: 1..10000)", count);
            this.maxRequestHeaders = count;
            return this;
        }

        /** The largest response head accepted from an upstream (64 KiB by default); larger ones give 502. */
        public Builder maxResponseHeaderSize(DataSize size) {
            requireNonNull(size, "size");
            checkArgument(size.toBytes() >= 1024 && size.toBytes() <= 1024 * 1024,
                    "maxResponseHeaderSize: %s (expected: 1KiB..1MiB)", size);
            this.maxResponseHeaderSize = size;
            return this;
        }

        /** The most client connections open at once (10000 by default); further ones wait in the accept queue. */
        public Builder maxConnections(int count) {
            checkArgument(count >= 1, "maxConnections: %s (expected: >= 1)", count);
            this.maxConnections = count;
            return this;
        }

        /** The most connections to one upstream {@code host:port} (1024 by default). */
        public Builder maxConnectionsPerUpstream(int count) {
            checkArgument(count >= 1, "maxConnectionsPerUpstream: %s (expected: >= 1)", count);
            this.maxConnectionsPerUpstream = count;
            return this;
        }

        /**
         * The pseudonym this proxy writes in {@code Via} ({@code 1.1 NAME}) and looks for to detect loops. By
         * default {@code gatehouse-} and eight random hex digits, unique per server.
         */
        public Builder via(String pseudonym) {
            requireNonNull(pseudonym, "pseudonym");
            checkArgument(pseudonym.matches("[A-Za-z0-9._:-]{1,64}"),
                    "via pseudonym: '%s' (expected: 1..64 letters, digits, '.', '_', ':' or '-')", pseudonym);
            this.viaName = pseudonym;
            return this;
        }

        /**
         * Client addresses (CIDR such as {@code 10.0.0.0/8} or single addresses) whose {@code X-Forwarded-*} and
         * {@code Forwarded} headers are kept and extended on reverse routes; from any other client they are
         * replaced. None by default.
         */
        public Builder trustedProxies(String... cidrs) {
            requireNonNull(cidrs, "cidrs");
            for (String c : cidrs) {
                trustedProxies.add(Cidr.parse(c));
            }
            return this;
        }

        /**
         * Lets the forward proxy reach one internal destination: exactly {@code hostPort} ({@code host:port}, or
         * {@code [v6]:port}) as resolved when the server starts. Other ports and other addresses of this host stay
         * denied. By default a forward proxy refuses destinations on the proxy host itself (loopback, its own
         * addresses, {@code 0.0.0.0}), link-local ones (including the cloud metadata address 169.254.169.254) and
         * multicast, with 403, checked after DNS resolution. Reverse routes are not affected.
         */
        public Builder allowInternalDestination(String hostPort) {
            requireNonNull(hostPort, "hostPort");
            io.github.gatehouse.core.internal.DestinationPolicy.checkHostPort(hostPort);
            allowedInternalDestinations.add(hostPort.trim());
            return this;
        }

        /**
         * TLS to upstreams, for every pool without its own ({@link UpstreamPool#tls}), for forward-proxy
         * {@code https://} requests and for HTTPS inspection: extra trusted roots, a client certificate, SNI.
         * {@link UpstreamTls#defaults()} (the JDK's trust store, verification on) unless set.
         */
        public Builder upstreamTls(UpstreamTls tls) {
            this.upstreamTls = requireNonNull(tls, "tls");
            return this;
        }

        /**
         * HTTPS inspection for the forward proxy: {@code CONNECT}s to the destinations {@code interception} names are
         * not tunnelled but terminated with a certificate minted by its CA, and each request inside goes through the
         * relay as an {@code https://} exchange (filters, cache, access log). Off unless set; see {@link Interception}.
         */
        public Builder intercept(Interception interception) {
            checkState(this.interception == null, "interception was already set to %s", this.interception);
            this.interception = requireNonNull(interception, "interception");
            return this;
        }

        /**
         * Lets the forward proxy reach every internal destination (for tests and trusted set-ups only); to let one
         * through, {@link #allowInternalDestination(String)}.
         */
        public Builder allowAllInternalDestinations() {
            this.allowInternalDestinations = true;
            return this;
        }

        /**
         * The former name of {@link #allowAllInternalDestinations()}, one letter away from
         * {@link #allowInternalDestination(String)}.
         *
         * @deprecated use {@link #allowAllInternalDestinations()}; this goes before 1.0
         */
        @Deprecated(since = "0.1.0")
        public Builder allowInternalDestinations() {
            return allowAllInternalDestinations();
        }

        /**
         * Adds a SOCKS5 listener (RFC 1928) on {@code port} (0 for an ephemeral one) on the bind address, beside the
         * HTTP listener; forward mode only. SOCKS5 {@code CONNECT} to a domain name, IPv4 or IPv6 address becomes a
         * tunnel that passes exactly what an HTTP {@code CONNECT} passes: the {@link #connectPorts}, the
         * {@link Authenticator} (as RFC 1929 username/password; the no-authentication method is offered only when
         * no authenticator is set), the filters (host rules, rate limits), the destination policy, and the access
         * log. {@code BIND} and {@code UDP ASSOCIATE} are answered {@code 0x07} (command not supported).
         *
         * @throws IllegalStateException if a SOCKS5 listener was already configured
         */
        public Builder listenSocks(int port) {
            checkArgument(port >= 0 && port <= 65535, "SOCKS port: %s (expected: 0..65535)", port);
            checkState(socksPort < 0, "SOCKS listener was already set to port %s", socksPort);
            this.socksPort = port;
            return this;
        }

        /** How long a SOCKS5 client may take for its whole handshake, up to its request (10 s by default). */
        public Builder socksHandshakeTimeout(Duration timeout) {
            this.socksHandshakeTimeout = positive(timeout, "socksHandshakeTimeout");
            return this;
        }

        /**
         * Accepts PROXY protocol headers (v1 and v2, HAProxy's) on the HTTP listeners from these sources (CIDR such
         * as {@code 10.0.0.0/8} or single addresses; repeatable): the client address a header carries then stands
         * for the connection's peer in access rules, rate limits, logs and {@code X-Forwarded-For}. A trusted source
         * may also connect without a header. From any other source a PROXY header is not honoured: it is read as a
         * malformed HTTP request (400, connection closed). Off by default.
         */
        public Builder proxyProtocolFrom(String... cidrs) {
            requireNonNull(cidrs, "cidrs");
            for (String c : cidrs) {
                proxyProtocolFrom.add(Cidr.parse(c));
            }
            return this;
        }

        /**
         * Serves {@code GET ftp://host/path} (and {@code HEAD}) in forward mode through an FTP client (passive mode,
         * anonymous or the URL's user and password): a file as a streamed {@code 200}, a directory as an HTML
         * listing. The destination policy, filters, authentication, cache and access log apply as for
         * {@code http://}. Off by default (such requests get 400).
         */
        public Builder ftpGateway() {
            this.ftpGateway = true;
            return this;
        }

        /**
         * Builds the server (not started).
         *
         * @throws IllegalStateException if neither {@link #forward()} nor any {@link #route} was configured
         */
        public ProxyServer build() {
            return new ProxyServer(config(null), cachePeers);
        }

        /** The checked configuration; {@code viaIfUnset} (or a random pseudonym when null) unless {@link #via} was given. */
        ProxyConfig config(String viaIfUnset) {
            checkState(forward || !routes.isEmpty(),
                    "no mode configured (expected: forward() and/or at least one route(...))");
            for (Route r : routes) {
                checkState(!r.redirectsToHttps() || tls != null,
                        "route %s redirects to HTTPS but there is no HTTPS listener (expected: listenTls(port, tls))", r);
            }
            checkState(socksPort < 0 || forward, "a SOCKS listener needs forward mode (expected: forward())");
            checkState(socksPort <= 0 || socksPort != port, "SOCKS port %s is the HTTP port too (expected: two different ports)", socksPort);
            checkState(interception == null || forward,
                    "HTTPS inspection is set (%s) but the proxy is not a forward proxy (expected: forward())", interception);
            checkState(!refuseForwardUpgrades || forward,
                    "refuseForwardUpgrades() is set but the proxy is not a forward proxy (expected: forward(), or"
                            + " Route.refuseUpgrades() for reverse routes)");
            checkState(cachePeers == null || cache != null,
                    "cache peers are set (%s) but there is no cache (expected: cache(...))", cachePeers);
            checkState(tls == null || tlsPort == 0 || tlsPort != port,
                    "TLS port %s is the plain HTTP port too (expected: two different ports)", tlsPort);
            String via = viaName != null ? viaName : viaIfUnset != null ? viaIfUnset
                    : "gatehouse-" + String.format("%08x", ThreadLocalRandom.current().nextInt());
            return new ProxyConfig(bindAddress, port, forward, Set.copyOf(connectPorts),
                    List.copyOf(routes), List.copyOf(filters), authenticator, cache,
                    accessLog != null ? accessLog : AccessLog.slf4j(), connectTimeout, idleTimeout, upstreamTimeout,
                    exchangeTimeout, drainTimeout, maxRequestHeaderSize.toBytesCapped(), maxRequestHeaders,
                    maxResponseHeaderSize.toBytesCapped(), maxConnections, maxConnectionsPerUpstream, via,
                    List.copyOf(trustedProxies), allowInternalDestinations, List.copyOf(allowedInternalDestinations), requestHeadTimeout,
                    minRequestBodyRate.toBytes(), minResponseBodyRate.toBytes(), bodyRateGracePeriod,
                    tls == null ? null : new ProxyConfig.Tls(tlsPort, tls.sources(), tls.changeCheckPeriod()),
                    maxConcurrentStreams, new ProxyConfig.FrontDoors(socksPort, socksHandshakeTimeout,
                            List.copyOf(proxyProtocolFrom), ftpGateway), upstreamTls, interception,
                    new ProxyConfig.Upgrades(webSocketOverHttp2, refuseForwardUpgrades),
                    cachePeers == null ? null : cachePeers.routing());
        }

        private static Duration positive(Duration d, String name) {
            requireNonNull(d, name);
            checkArgument(d.compareTo(Duration.ZERO) > 0, "%s: %s (expected: > 0)", name, d);
            return d;
        }
    }
}
