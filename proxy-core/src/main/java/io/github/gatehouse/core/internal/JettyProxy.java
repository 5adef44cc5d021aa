package io.github.gatehouse.core.internal;

import java.io.IOException;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The Jetty server, connector, upstream client and handler chain behind one {@code ProxyServer}. */
public final class JettyProxy {
    private static final Logger LOG = LoggerFactory.getLogger(JettyProxy.class);

    /** The configuration in force: the one built, then each one {@link #reconfigure} swapped in. */
    private volatile ProxyConfig config;
    private Server server;
    /** The health checker of each pool in use, by identity: a pool kept by a reconfiguration keeps its checker. */
    private final java.util.Map<io.github.gatehouse.core.UpstreamPool, HealthChecker> healthCheckers =
            new java.util.IdentityHashMap<>();
    private QueuedThreadPool threads;
    private org.eclipse.jetty.util.thread.Scheduler scheduler;
    private DestinationPolicy policy;
    private HttpClient forwardClient;
    private HttpClient reverseClient;
    /** The lean HTTP/1.1 transports for cleartext upstreams (null where jetty-client carries them, see TRANSPORT_PROPERTY). */
    private Http1Upstream forwardLean;
    private Http1Upstream reverseLean;
    private GuardedResolver forwardResolver;
    private ServerConnector socksConnector;
    private volatile UpstreamClients upstreamClients;
    private UpstreamClients.Spec defaultSpec;
    private HttpsInspection inspection;
    private FtpGateway ftpGateway;
    private final java.util.List<HttpClient> poolClients = new java.util.concurrent.CopyOnWriteArrayList<>();
    private RelaySwitch relaySwitch;
    private HttpConfiguration plainHttp;
    private NetworkConnectionLimit connectionLimit;
    /** Relays of replaced configurations with exchanges still in flight. */
    private final java.util.Map<RelayHandler, Runnable> retiring = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile ServerConnector connector;
    private ServerConnector tlsConnector;
    private TlsListener tlsListener;
    private volatile RelayHandler relayHandler;
    private volatile GatehouseConnectHandler connectHandler;
    private ExchangeEvents events = new ExchangeEvents();

    /** Creates the proxy for {@code config}; nothing is bound until {@link #start()}. */
    public JettyProxy(ProxyConfig config) {
        this.config = config;
    }

    /**
     * Binds and starts.
     *
     * @throws IOException if the address cannot be bound or a component fails to start
     */
    public void start() throws IOException {
        threads = new QueuedThreadPool(256, 4);
        threads.setName("gatehouse-" + config.viaName());
        // Threads above the minimum that a burst started end once idle for the pool's idle timeout (60 s). Jetty's
        // default lets one go per idle timeout, so 20 extra threads would take 20 minutes to go.
        threads.setMaxEvictCount(threads.getMaxThreads());
        // Server buffers are pooled (Jetty's ArrayByteBufferPool, direct buffers). They were unpooled until the user of
        // a released request buffer was found (Jetty's own refusal of Transfer-Encoding with Content-Length, now
        // refused by the relay instead, see below); a 300 s soak on pooled buffers then passed, and reverse 1 KiB
        // allocates about 17 KB an exchange instead of 110 KB.
        // gatehouse.server.buffers=unpooled: fresh heap buffers each time, the former default (a fallback)
        // gatehouse.server.buffers=guarded: never reused, poisoned on release, checked for use after release
        String buffers = System.getProperty(SERVER_BUFFERS_PROPERTY, "pooled");
        boolean guarded = "guarded".equals(buffers);
        boolean pooled = !guarded && !"unpooled".equals(buffers);
        server = new Server(threads, null, pooled ? new org.eclipse.jetty.io.ArrayByteBufferPool()
                : guarded ? new GuardedBufferPool() : org.eclipse.jetty.io.ByteBufferPool.NON_POOLING);

        HttpConfiguration http = new HttpConfiguration();
        http.setRequestHeaderSize(config.maxRequestHeaderSize());
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setSendDateHeader(false);
        // No leniency: bare-LF line endings, obs-fold, duplicate Content-Length and the like are all 400s. The one
        // exception: a Host that differs from an absolute-form or CONNECT target (Apache HttpClient 4.5 sends
        // "CONNECT host:443" with "Host: host"). RFC 9112 §3.2.2: a proxy ignores that Host; the relay routes by the
        // target and regenerates Host from it.
        // Transfer-Encoding with Content-Length passes Jetty's parser only to be refused by the relay itself
        // (RequestHeadCheck: 400, connection closed, RFC 9112 §6.1). Jetty 12.1.14's own refusal of it races: its
        // error task consumes the request body (filling the request buffer) while onFillable's exception path has
        // released that buffer, a use after release that the guarded buffer pool catches within seconds.
        http.setHttpCompliance(org.eclipse.jetty.http.HttpCompliance.STRICT.with("GATEHOUSE",
                org.eclipse.jetty.http.HttpCompliance.Violation.MISMATCHED_AUTHORITY,
                org.eclipse.jetty.http.HttpCompliance.Violation.TRANSFER_ENCODING_WITH_CONTENT_LENGTH));
        // Jetty's per-connection field cache matches values without regard to case, and would hand a later
        // "Cache-Control: MaX-aGe=1" to the relay in an earlier request's spelling: values must pass byte for byte.
        http.setHeaderCacheCaseSensitive(true);
        http.setUseInputDirectByteBuffers(pooled);   // heap buffers: unpooled direct buffers are costly to allocate
        http.setUseOutputDirectByteBuffers(pooled);
        http.setIdleTimeout(config.idleTimeout().toMillis());
        if (config.forward() && config.fronts().ftpGateway()) {
            // ftp://user:password@host/ carries an FTP login; TargetResolver still refuses user info in http(s) URLs
            http.setUriCompliance(org.eclipse.jetty.http.UriCompliance.DEFAULT.with("GATEHOUSE-FTP",
                    org.eclipse.jetty.http.UriCompliance.Violation.USER_INFO));
        }
        // the inner connections of HTTPS inspection: TLS is put on by HttpsInspection, then ALPN as on the HTTPS listener
        HttpConfiguration inspected = null;
        if (config.interception() != null) {
            inspected = new HttpConfiguration(http);
            SecureRequestCustomizer secure = new SecureRequestCustomizer(false);
            secure.setSniHostCheck(false);
            inspected.addCustomizer(secure);
        }

        if (config.hasTls()) {
            // the HTTPS listener: TLS, then ALPN choosing h2 or http/1.1 (http/1.1 for a client that offers neither)
            tlsListener = new TlsListener(config.tls().sources());
            HttpConfiguration https = new HttpConfiguration(http);
            SecureRequestCustomizer secure = new SecureRequestCustomizer(false);
            // Routing is by Host, as in nginx: a Host that none of the certificates names is no error (a client that
            // sent no SNI, or an IP address, gets the default certificate and is still served)
            secure.setSniHostCheck(false);
            https.addCustomizer(secure);
            ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
            alpn.setDefaultProtocol("http/1.1");
            tlsConnector = new ServerConnector(server, withProxyProtocol(
                    new SslConnectionFactory(tlsListener.factory(), alpn.getProtocol()), alpn,
                    http2Limits(new HTTP2ServerConnectionFactory(https)),
                    new TargetFormConnectionFactory(https, config.requestHeadTimeout(), () -> relayHandler.deadlines())));
            tlsConnector.setHost(config.bindAddress());
            tlsConnector.setPort(config.tls().port());
            tlsConnector.setIdleTimeout(config.idleTimeout().toMillis());
            tlsConnector.setAcceptQueueSize(1024);
            ServerConnector tls = tlsConnector;
            http.addCustomizer(new HttpsRedirect(tls::getLocalPort)); // after the copy: the plain listener's only
        }
        // the plain listener: HTTP/1.1, and h2c for a client that starts with the HTTP/2 preface (prior knowledge) or
        // asks for "Upgrade: h2c"
        plainHttp = http;
        connector = newPlainConnector(config.bindAddress(), config.port());
        server.addConnector(connector);
        if (tlsConnector != null) {
            server.addConnector(tlsConnector);
        }
        if (config.fronts().hasSocks()) {
            // SOCKS5 front door: the handshake, then an HTTP/1.1 CONNECT on the same endpoint (Socks5Connection)
            HttpConfiguration socksHttp = new HttpConfiguration(http);
            socksHttp.addCustomizer(new Socks5Replies());
            TargetFormConnectionFactory socksTunnels = new TargetFormConnectionFactory(socksHttp,
                    config.requestHeadTimeout(), () -> relayHandler.deadlines());
            socksConnector = new ServerConnector(server, new Socks5ConnectionFactory(socksTunnels,
                    config.authenticator(), config.fronts().socksHandshakeTimeout(), () -> relayHandler), socksTunnels);
            socksConnector.setHost(config.bindAddress());
            socksConnector.setPort(config.fronts().socksPort());
            socksConnector.setIdleTimeout(config.idleTimeout().toMillis());
            socksConnector.setAcceptQueueSize(1024);
            server.addConnector(socksConnector);
        }
        connectionLimit = new NetworkConnectionLimit(config.maxConnections(), server);
        server.addBean(connectionLimit);

        try {
            policy = DestinationPolicy.create(config.allowInternalDestinations(), config.allowedInternalDestinations());
        } catch (java.net.UnknownHostException e) {
            throw new IOException("cannot resolve an allowed internal destination: " + e.getMessage(), e);
        }
        scheduler = new org.eclipse.jetty.util.thread.ScheduledExecutorScheduler("gatehouse-scheduler", true);
        server.addBean(scheduler);
        // Only the clients a mode needs: each one initialises its own TLS context at start. Pools with TLS settings or a
        // protocol of their own get their clients from upstreamClients, after the start.
        defaultSpec = new UpstreamClients.Spec(config.upstreamTls(), io.github.gatehouse.core.UpstreamProtocol.HTTP_1_1);
        forwardResolver = new GuardedResolver(new org.eclipse.jetty.util.SocketAddressResolver.Async(threads, scheduler,
                config.connectTimeout().toMillis()), policy);
        if (config.forward()) {
            forwardClient = newForwardClient();
            server.addBean(forwardClient);
            forwardLean = newLean("forward", forwardResolver);
            if (forwardLean != null) {
                server.addBean(forwardLean);
            }
        }
        if (!config.routes().isEmpty() || config.cachePeers() != null) { // cache peers: reached without a destination policy
            reverseClient = newClient(threads, scheduler, "reverse", defaultSpec);
            server.addBean(reverseClient);
            reverseLean = newLean("reverse", new org.eclipse.jetty.util.SocketAddressResolver.Async(threads, scheduler,
                    config.connectTimeout().toMillis()));
            if (reverseLean != null) {
                server.addBean(reverseLean);
            }
        }

        GatehouseConnectHandler connect = new GatehouseConnectHandler(config.viaName(), policy);
        connectHandler = connect;
        connect.setConnectTimeout(config.connectTimeout().toMillis());
        connect.setIdleTimeout(config.idleTimeout().toMillis());
        RelayHandler relay = new RelayHandler(config, forwardClient, reverseClient, forwardLean, reverseLean, scheduler,
                connect);
        relayHandler = relay;
        if (config.forward() && config.fronts().ftpGateway()) {
            ftpGateway = new FtpGateway(relay, policy, config.connectTimeout(), config.upstreamTimeout());
            server.addBean(ftpGateway);
        }
        if (inspected != null) {
            inspection = new HttpsInspection(config.interception(), config.upstreamTls(), policy, new Answers(config),
                    (int) config.connectTimeout().toMillis());
            ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
            alpn.setDefaultProtocol("http/1.1");
            org.eclipse.jetty.server.LocalConnector inner = new org.eclipse.jetty.server.LocalConnector(server, null, null, null, -1, alpn,
                    http2Limits(new HTTP2ServerConnectionFactory(inspected)),
                    new TargetFormConnectionFactory(inspected, config.requestHeadTimeout(), () -> relayHandler.deadlines()));
            inner.setIdleTimeout(config.idleTimeout().toMillis());
            server.addConnector(inner);
            server.addBean(inspection.serverSsl());
            inspection.innerConnector(inner);
            LOG.info("HTTPS inspection on: intercepting {}, never {}; CA {}", config.interception().interceptPatterns(),
                    config.interception().neverInterceptPatterns(), config.interception().caFiles());
        }
        upstreamClients = new UpstreamClients(config.upstreamTls(), forwardClient, spec -> startedClient(spec));
        if (reverseClient != null) {
            upstreamClients.register(defaultSpec, reverseClient);
        }
        wire(relay);
        relaySwitch = new RelaySwitch(relay);
        org.eclipse.jetty.server.Handler chain = new Http2Requests(relaySwitch);
        if (config.minRequestBodyRate() > 0 || config.minResponseBodyRate() > 0) {
            server.setHandler(new BodyRateHandler(chain, config.minRequestBodyRate(), config.minResponseBodyRate(),
                    config.bodyRateGracePeriod(), relay::deadlines));
        } else {
            server.setHandler(chain);
        }
        // the access log of the configuration in force, for the requests Jetty itself refuses
        io.github.gatehouse.core.AccessLog errorLog = entry -> relaySwitch.current().config().accessLog().log(entry);
        server.setErrorHandler(new PlainErrorHandler(config.viaName(), errorLog, relay::nextId));
        server.setStopTimeout(0);
        try {
            server.start();
        } catch (Exception e) {
            try {
                server.stop();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IOException("cannot start proxy on " + config.bindAddress() + ":" + config.port()
                    + (config.hasTls() ? " and " + config.tls().port() + " (TLS)" : ""), e);
        }
        // HttpClient.doStart() puts back the content decoders (it would send Accept-Encoding and decode gzip behind the
        // relay's back) and its protocol handlers (redirects, authentication, upgrade): both go after the start.
        for (HttpClient client : new HttpClient[] {forwardClient, reverseClient}) {
            if (client != null) {
                afterClientStart(client);
            }
        }
        startHealthChecks(config);
        if (tlsListener != null) {
            tlsListener.watch(scheduler, config.tls().checkInterval().toMillis());
            LOG.info("gatehouse {} listening for HTTPS (h2, http/1.1) on {}:{}", config.viaName(), config.bindAddress(), tlsPort());
        }
        if (socksConnector != null) {
            LOG.info("gatehouse {} listening for SOCKS5 on {}:{}", config.viaName(), config.bindAddress(), socksPort());
        }
        LOG.info("gatehouse {} listening on {}:{}{}{}", config.viaName(), config.bindAddress(), port(),
                config.forward() ? " (forward proxy)" : "", config.routes().isEmpty() ? "" : " (" + config.routes().size() + " routes)");
    }

    /** The plain listener: HTTP/1.1, and h2c (prior knowledge or {@code Upgrade: h2c}); not started. */
    private ServerConnector newPlainConnector(String host, int port) {
        org.eclipse.jetty.server.ConnectionFactory[] factories = withProxyProtocol(
                new TargetFormConnectionFactory(plainHttp, config.requestHeadTimeout(), () -> relayHandler.deadlines()),
                http2Limits(new HTTP2CServerConnectionFactory(plainHttp)));
        ServerConnector c = server.getByteBufferPool() instanceof GuardedBufferPool
                ? ((GuardedBufferPool) server.getByteBufferPool()).connector(server, factories)
                : new ServerConnector(server, factories);
        c.setHost(host);
        c.setPort(port);
        c.setIdleTimeout(config.idleTimeout().toMillis());
        c.setAcceptQueueSize(1024);
        return c;
    }

    /**
     * Binds the plain listener of {@code next} beside the running one; the caller closes the old one once the new
     * configuration is in force.
     *
     * @throws IllegalArgumentException if it cannot be bound
     */
    private ServerConnector bindPlain(ProxyConfig next) {
        ServerConnector fresh = newPlainConnector(next.bindAddress(), next.port());
        fresh.addBean(connectionLimit, false);
        server.addConnector(fresh);
        try {
            fresh.start();
        } catch (Exception e) {
            server.removeConnector(fresh);
            try {
                fresh.stop();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IllegalArgumentException("cannot listen on " + next.bindAddress() + ":" + next.port() + ": "
                    + Failures.describe(e), e);
        }
        return fresh;
    }

    private static void afterClientStart(HttpClient client) {
        client.getContentDecoderFactories().clear();
        client.getProtocolHandlers().clear();
        client.getProtocolHandlers().put(new InterimResponses());
    }

    private HttpClient newForwardClient() {
        HttpClient client = newClient(threads, scheduler, "forward", defaultSpec);
        client.setSocketAddressResolver(forwardResolver);
        return client;
    }

    /** Hands a relay (the first, or one a reconfiguration built) the parts that outlive configurations. */
    private void wire(RelayHandler relay) {
        relay.events(events);
        if (ftpGateway != null) {
            relay.ftp(ftpGateway);
        }
        if (inspection != null) {
            relay.inspection(inspection);
        }
        relay.upstreamClients(upstreamClients);
        if (relay.config().cache() != null) {
            try {
                relay.config().cache().attach(new BackgroundExchanges(() -> relayHandler)); // the relay in force at each send
            } catch (RuntimeException e) {
                LOG.error("cache {} failed to attach; it cannot revalidate in the background", relay.config().cache(), e);
            }
        }
    }

    /**
     * The system property that picks the transport for cleartext HTTP/1.1 upstreams: the lean {@link Http1Upstream}
     * by default, {@code jetty-client} for jetty-client (the transport of earlier releases, kept as a fallback).
     */
    public static final String TRANSPORT_PROPERTY = "gatehouse.upstream.transport";

    /**
     * The system property that picks the server side's buffers: {@code pooled} (the default: Jetty's pool, direct
     * buffers), {@code unpooled} (fresh heap buffers, the former default, a fallback) or {@code guarded} (a diagnostic
     * that finds uses of released buffers; see the README's performance section).
     */
    public static final String SERVER_BUFFERS_PROPERTY = "gatehouse.server.buffers";

    /**
     * A lean transport, or null when the transport property asks for jetty-client instead.
     */
    private Http1Upstream newLean(String name, org.eclipse.jetty.util.SocketAddressResolver resolver) {
        if ("jetty-client".equals(System.getProperty(TRANSPORT_PROPERTY))) {
            return null;
        }
        return new Http1Upstream(name, threads, scheduler, resolver, config.connectTimeout(), config.idleTimeout(),
                config.maxConnectionsPerUpstream(), config.maxResponseHeaderSize());
    }

    /** A client for a pool's own TLS settings or protocol, started now; {@link #stop} stops it. */
    private HttpClient startedClient(UpstreamClients.Spec spec) {
        HttpClient client = newClient(threads, scheduler, "reverse-" + spec.protocol().name().toLowerCase(java.util.Locale.ROOT)
                + "-" + poolClients.size(), spec);
        try {
            client.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the upstream client for " + spec + ": " + Failures.describe(e), e);
        }
        afterClientStart(client);
        poolClients.add(client);
        return client;
    }

    /** Starts the health checks of the pools of {@code next} that have none running; stops those of other pools. */
    private void startHealthChecks(ProxyConfig next) {
        java.util.Set<io.github.gatehouse.core.UpstreamPool> pools =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (io.github.gatehouse.core.Route route : next.routes()) {
            route.pool().ifPresent(pools::add);
        }
        pools.forEach(ApiAccess.pools()::markInUse);
        synchronized (healthCheckers) {
            healthCheckers.entrySet().removeIf(e -> {
                if (pools.contains(e.getKey())) {
                    return false;
                }
                e.getValue().stop();
                return true;
            });
            for (io.github.gatehouse.core.UpstreamPool pool : pools) {
                if (!healthCheckers.containsKey(pool)) {
                    UpstreamClients.Choice poolClient = upstreamClients.forPool(pool); // made now, not at the first request
                    pool.healthCheck().ifPresent(check -> {
                        HealthChecker checker = new HealthChecker(pool, check, poolClient.client(), poolClient.version(),
                                scheduler);
                        healthCheckers.put(pool, checker);
                        checker.start();
                    });
                }
            }
        }
    }

    private HttpClient newClient(QueuedThreadPool threads, org.eclipse.jetty.util.thread.Scheduler scheduler, String name,
            UpstreamClients.Spec spec) {
        ResetAwareClientConnector clientConnector = new ResetAwareClientConnector();
        clientConnector.setSelectors(1);
        clientConnector.setSslContextFactory(UpstreamClients.sslContextFactory(spec.tls()));
        org.eclipse.jetty.client.HttpClientTransport transport;
        if (spec.protocol() == io.github.gatehouse.core.UpstreamProtocol.HTTP_1_1) {
            // HTTP/1.1 only, without the dynamic (ALPN-ready) transport's per-destination protocol negotiation
            org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP h1 =
                    new org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP(clientConnector);
            // field values pass byte for byte on reused connections (see the server side)
            h1.setHeaderCacheCaseSensitive(true);
            transport = h1;
        } else {
            // h2 (ALPN over TLS) or h2c (prior knowledge): the request's version (HTTP/2) and scheme pick which
            org.eclipse.jetty.http2.client.HTTP2Client http2 = new org.eclipse.jetty.http2.client.HTTP2Client(clientConnector);
            http2.setUseInputDirectByteBuffers(false);
            http2.setUseOutputDirectByteBuffers(false);
            transport = new org.eclipse.jetty.client.transport.HttpClientTransportDynamic(clientConnector,
                    new org.eclipse.jetty.http2.client.transport.ClientConnectionFactoryOverHTTP2.HTTP2(http2));
        }
        HttpClient client = new HttpClient(transport);
        client.setScheduler(scheduler);
        // Upstream I/O buffers are not pooled. jetty-client 12.1.14 can still touch a network or request-head buffer
        // after returning it to its pool, around an upstream that closes mid-response: the connection that took the
        // buffer next then fails its write or read with "IllegalArgumentException: newPosition > limit (198 > 0)"
        // or parses garbage ("bad response", "head too large"). With every buffer freshly allocated (on the heap,
        // for cheap allocation) a late touch reaches only a buffer nobody else holds. See the soak run.
        client.setByteBufferPool(org.eclipse.jetty.io.ByteBufferPool.NON_POOLING);
        client.setUseInputDirectByteBuffers(false);
        client.setUseOutputDirectByteBuffers(false);
        client.setName("gatehouse-" + name + "-client");
        client.setExecutor(threads);
        client.setConnectTimeout(config.connectTimeout().toMillis());
        client.setIdleTimeout(config.idleTimeout().toMillis());
        client.setFollowRedirects(false);
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        client.setUserAgentField(null);
        client.setMaxConnectionsPerDestination(config.maxConnectionsPerUpstream());
        client.setMaxRequestsQueuedPerDestination(Math.max(4096, config.maxConnectionsPerUpstream() * 4));
        client.setMaxResponseHeadersSize(config.maxResponseHeaderSize());
        client.setRequestBufferSize(16 * 1024);
        client.setResponseBufferSize(16 * 1024);
        if (spec.proxyProtocol()) {
            // one destination per client address (PROXY headers differ): drop each once its connections are gone
            client.setDestinationIdleTimeout(Math.max(1_000, 2 * config.idleTimeout().toMillis()));
        }
        return client;
    }

    /**
     * Swaps in {@code next}, atomically: exchanges that start from now on run on it, those in flight finish on the
     * configuration they started with. The plain listener is bound anew only when its address or port changed (the
     * old one then stops accepting; its open connections go on); pools of {@code next} take over the live members of
     * the pools in use that have the same URL (their health, load and counters), health checks follow the pools, and
     * the cache and access log of the old configuration are closed once its last exchange ended, unless {@code next}
     * uses the same ones. Called by one thread at a time ({@code ProxyServer} is synchronized).
     *
     * @throws IllegalArgumentException if {@code next} changes what only a restart can change (the HTTPS listener,
     *     connection limits, the destination policy, the via pseudonym, timeouts of the upstream client), or its new
     *     address cannot be bound; nothing changed then
     */
    public void reconfigure(ProxyConfig next) {
        ProxyConfig now = config;
        java.util.List<String> restart = restartNeeded(now, next);
        if (!restart.isEmpty()) {
            throw new IllegalArgumentException("cannot change without a restart: " + String.join(", ", restart));
        }
        // clients a new mode needs (a forward proxy that gains routes, a reverse proxy that starts forwarding)
        try {
            if (next.forward() && forwardClient == null) {
                forwardClient = startClient(newForwardClient());
                upstreamClients.forward(forwardClient);
                forwardLean = startLean(newLean("forward", forwardResolver));
            }
            if ((!next.routes().isEmpty() || next.cachePeers() != null) && reverseClient == null) {
                reverseClient = startClient(newClient(threads, scheduler, "reverse", defaultSpec));
                upstreamClients.register(defaultSpec, reverseClient);
                reverseLean = startLean(newLean("reverse", new org.eclipse.jetty.util.SocketAddressResolver.Async(threads,
                        scheduler, config.connectTimeout().toMillis())));
            }
        } catch (Exception e) {
            throw new IllegalArgumentException("cannot start the upstream client: " + Failures.describe(e), e);
        }
        java.util.List<io.github.gatehouse.core.UpstreamMember> live = new java.util.ArrayList<>();
        java.util.Set<io.github.gatehouse.core.UpstreamPool> oldPools =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (io.github.gatehouse.core.Route route : now.routes()) {
            route.pool().ifPresent(p -> {
                if (oldPools.add(p)) {
                    live.addAll(p.members());
                }
            });
        }
        int adopted = 0;
        java.util.Set<io.github.gatehouse.core.UpstreamPool> newPools =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (io.github.gatehouse.core.Route route : next.routes()) {
            io.github.gatehouse.core.UpstreamPool p = route.pool().orElseThrow();
            if (!oldPools.contains(p) && newPools.add(p)) {
                adopted += ApiAccess.pools().adoptMembers(p, live);
            }
        }
        // a plain listener whose address or port changed is bound before anything changes; an unchanged one (port 0
        // included) stays as it is, with its connections
        ServerConnector fresh = now.bindAddress().equals(next.bindAddress()) && now.port() == next.port() ? null
                : bindPlain(next);
        RelayHandler old = relaySwitch.current();
        RelayHandler relay = new RelayHandler(next, forwardClient, reverseClient, forwardLean, reverseLean, scheduler,
                connectHandler, old);
        wire(relay);
        config = next;
        relayHandler = relay;
        relaySwitch.swap(relay);
        if (fresh != null) {
            ServerConnector previous = connector;
            int previousPort = previous.getLocalPort();
            connector = fresh;
            previous.close(); // no new connections; those open go on (on the new relay) until they close
            LOG.info("gatehouse {} now listening on {}:{} instead of {}:{}", next.viaName(), next.bindAddress(),
                    fresh.getLocalPort(), now.bindAddress(), previousPort);
        }
        startHealthChecks(next);
        retiring.put(old, () -> closeReplaced(old.config(), next));
        old.retire(relay, () -> {
            Runnable close = retiring.remove(old);
            if (close != null) {
                close.run();
            }
        });
        LOG.info("gatehouse {} reconfigured: {}{} routes, {} filters, {} members kept with their state; {} exchanges"
                + " finish on the previous configuration", next.viaName(), next.forward() ? "forward proxy, " : "",
                next.routes().size(), next.filters().size(), adopted, old.inFlight());
    }

    private Http1Upstream startLean(Http1Upstream lean) throws Exception {
        if (lean != null) {
            server.addBean(lean, true);
            lean.start();
        }
        return lean;
    }

    private HttpClient startClient(HttpClient client) throws Exception {
        server.addBean(client, true);
        client.start();
        afterClientStart(client);
        return client;
    }

    /** Closes what {@code old} used and {@code next} does not: its cache and access log. */
    private void closeReplaced(ProxyConfig old, ProxyConfig next) {
        if (old.accessLog() != next.accessLog()) {
            try {
                old.accessLog().close();
            } catch (RuntimeException e) {
                LOG.warn("the replaced access log {} did not close cleanly: {}", old.accessLog(), Failures.describe(e));
            }
        }
        if (old.cache() != null && old.cache() != next.cache() && old.cache() instanceof AutoCloseable) {
            try {
                ((AutoCloseable) old.cache()).close();
            } catch (Exception e) {
                LOG.warn("the replaced cache {} did not close cleanly: {}", old.cache(), Failures.describe(e));
            }
        }
    }

    /** What differs between {@code a} and {@code b} that the running server cannot change, as "name a -> b". */
    static java.util.List<String> restartNeeded(ProxyConfig a, ProxyConfig b) {
        java.util.List<String> changes = new java.util.ArrayList<>();
        if (a.hasTls() || b.hasTls()) { // the HTTPS listener binds the same address
            differs(changes, "bind address (with an HTTPS listener)", a.bindAddress(), b.bindAddress());
        }
        if (!tlsKey(a).equals(tlsKey(b))) {
            changes.add("TLS listener (port, certificate files or check interval)");
        }
        differs(changes, "connect timeout", a.connectTimeout(), b.connectTimeout());
        differs(changes, "idle timeout", a.idleTimeout(), b.idleTimeout());
        differs(changes, "request head timeout", a.requestHeadTimeout(), b.requestHeadTimeout());
        differs(changes, "max request header size", a.maxRequestHeaderSize(), b.maxRequestHeaderSize());
        differs(changes, "max response header size", a.maxResponseHeaderSize(), b.maxResponseHeaderSize());
        differs(changes, "max connections", a.maxConnections(), b.maxConnections());
        differs(changes, "max connections per upstream", a.maxConnectionsPerUpstream(), b.maxConnectionsPerUpstream());
        differs(changes, "max concurrent streams", a.maxConcurrentStreams(), b.maxConcurrentStreams());
        differs(changes, "min request body rate", a.minRequestBodyRate(), b.minRequestBodyRate());
        differs(changes, "min response body rate", a.minResponseBodyRate(), b.minResponseBodyRate());
        differs(changes, "body rate grace period", a.bodyRateGracePeriod(), b.bodyRateGracePeriod());
        differs(changes, "via pseudonym", a.viaName(), b.viaName());
        differs(changes, "internal destinations allowed", a.allowInternalDestinations(), b.allowInternalDestinations());
        differs(changes, "internal destinations allowed", a.allowedInternalDestinations(), b.allowedInternalDestinations());
        differs(changes, "SOCKS5 listener", a.fronts().socksPort() + "/" + a.fronts().socksHandshakeTimeout(),
                b.fronts().socksPort() + "/" + b.fronts().socksHandshakeTimeout());
        differs(changes, "PROXY protocol sources", String.valueOf(a.fronts().proxyProtocolFrom()),
                String.valueOf(b.fronts().proxyProtocolFrom()));
        differs(changes, "FTP gateway", a.fronts().ftpGateway(), b.fronts().ftpGateway());
        differs(changes, "default upstream TLS", a.upstreamTls(), b.upstreamTls());
        differs(changes, "HTTPS inspection", interceptionKey(a), interceptionKey(b));
        return changes;
    }

    private static Object interceptionKey(ProxyConfig c) {
        io.github.gatehouse.core.Interception i = c.interception();
        return i == null ? null : java.util.List.of(i.interceptPatterns(), i.neverInterceptPatterns(), i.caFiles(),
                i.mintedCertificateCacheSize());
    }

    private static void differs(java.util.List<String> changes, String name, Object a, Object b) {
        if (!java.util.Objects.equals(a, b)) {
            changes.add(name + " " + a + " -> " + b);
        }
    }

    private static java.util.List<Object> tlsKey(ProxyConfig c) {
        java.util.List<Object> key = new java.util.ArrayList<>();
        if (c.hasTls()) {
            key.add(c.tls().port());
            key.add(c.tls().checkInterval());
            for (TlsMaterial.Source s : c.tls().sources()) {
                key.add(java.util.Arrays.asList(s.certificate(), s.key(), s.keyStore(),
                        s.password() == null ? null : new String(s.password())));
            }
        }
        return key;
    }

    /** Observers of finished exchanges, from {@code ProxyServer}; call before {@link #start()}. */
    public void events(ExchangeEvents events) {
        this.events = events;
    }

    /** Exchanges started and not yet completed; 0 before start. */
    public int activeExchanges() {
        RelayHandler r = relayHandler;
        return r == null ? 0 : r.inFlight();
    }

    /** Client connections open now, on both listeners. */
    public int openConnections() {
        int n = 0;
        for (ServerConnector c : new ServerConnector[] {connector, tlsConnector, socksConnector}) {
            if (c != null) {
                n += c.getConnectedEndPoints().size();
            }
        }
        return n;
    }

    /** {@code CONNECT} tunnels open now. */
    public int openTunnels() {
        GatehouseConnectHandler c = connectHandler;
        return c == null ? 0 : c.openTunnels();
    }

    /** The bound port. */
    public int port() {
        return connector.getLocalPort();
    }

    /**
     * The listening connector, so that a test can count the connections it opens and closes (a Jetty
     * {@code Connection.Listener}) instead of polling; reached through {@code ProxyServer}'s package-private
     * accessor. Not for library code.
     */
    public ServerConnector connector() {
        return connector;
    }

    /** The bound port of the SOCKS5 listener. */
    public int socksPort() {
        return socksConnector.getLocalPort();
    }

    /**
     * {@code factories}, behind the trusted-source PROXY protocol factory when PROXY protocol is configured
     * ({@link TrustedProxyProtocol}).
     */
    private org.eclipse.jetty.server.ConnectionFactory[] withProxyProtocol(
            org.eclipse.jetty.server.ConnectionFactory... factories) {
        if (config.fronts().proxyProtocolFrom().isEmpty()) {
            return factories;
        }
        org.eclipse.jetty.server.ConnectionFactory[] all = new org.eclipse.jetty.server.ConnectionFactory[factories.length + 1];
        all[0] = new TrustedProxyProtocol(config.fronts().proxyProtocolFrom(), factories[0].getProtocol());
        System.arraycopy(factories, 0, all, 1, factories.length);
        return all;
    }

    /** The bound port of the HTTPS listener. */
    public int tlsPort() {
        return tlsConnector.getLocalPort();
    }

    /**
     * Reads the certificate files again (see {@code ProxyServer.reloadTls}).
     *
     * @throws IllegalArgumentException if they cannot be used; the certificates in use stay
     */
    public void reloadTls() {
        tlsListener.reload();
    }

    /**
     * Jetty's HTTP/2 bounds, set explicitly: concurrent streams per connection; at most 128 control events a second
     * per connection (the rate control that also counts the HEADERS + RST_STREAM pairs of a rapid reset,
     * CVE-2023-44487, and empty or tiny frames), beyond which the connection gets GOAWAY ENHANCE_YOUR_CALM; a header
     * list bounded by the request header size, CONTINUATION frames included; HPACK tables of 4 KiB; receive windows that
     * bound what one client can make the proxy buffer (256 KiB a stream, 1 MiB a connection); and extended CONNECT
     * (RFC 8441, WebSocket over HTTP/2, {@link UpgradePhase}) announced unless the builder turned it off.
     */
    private <F extends org.eclipse.jetty.http2.server.AbstractHTTP2ServerConnectionFactory> F http2Limits(F f) {
        f.setMaxConcurrentStreams(config.maxConcurrentStreams());
        f.setRateControlFactory(new org.eclipse.jetty.http2.WindowRateControl.Factory(128));
        f.setMaxDecoderTableCapacity(4096);
        f.setMaxEncoderTableCapacity(4096);
        f.setInitialStreamRecvWindow(256 * 1024);
        f.setInitialSessionRecvWindow(1024 * 1024);
        f.setMaxSettingsKeys(64);
        f.setConnectProtocolEnabled(config.upgrades().overHttp2());
        f.setUseInputDirectByteBuffers(false);
        f.setUseOutputDirectByteBuffers(false);
        return f;
    }

    /** Stops gracefully within the drain time. */
    public void stop() {
        synchronized (healthCheckers) {
            healthCheckers.values().forEach(HealthChecker::stop);
        }
        // Drain: stop accepting, then let exchanges in flight finish within the drain time. Counting exchanges in
        // the relay replaces Jetty's GracefulHandler, which wraps every request and callback on the hot path.
        if (tlsListener != null) {
            tlsListener.stop();
        }
        for (ServerConnector c : new ServerConnector[] {connector, tlsConnector, socksConnector}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (RuntimeException e) {
                LOG.debug("closing the listening socket failed", e);
            }
        }
        RelayHandler relay = relayHandler;
        long drainEnd = System.nanoTime() + config.drainTimeout().toNanos();
        int left = 0;
        java.util.List<RelayHandler> relays = new java.util.ArrayList<>(retiring.keySet());
        if (relay != null) {
            relays.add(relay);
        }
        for (RelayHandler r : relays) {
            try {
                r.awaitDrained(Math.max(0, drainEnd - System.nanoTime()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            left += r.inFlight();
        }
        if (left > 0) {
            LOG.info("gatehouse {} stopping with {} exchanges still in flight after the {} drain time",
                    config.viaName(), left, config.drainTimeout());
        }
        for (RelayHandler r : new java.util.ArrayList<>(retiring.keySet())) {
            Runnable close = retiring.remove(r);
            if (close != null) {
                close.run();
            }
        }
        if (inspection != null) {
            inspection.stop();
        }
        // the pools' own clients run on the server's threads: they stop first
        for (HttpClient client : poolClients) {
            try {
                client.stop();
            } catch (Exception e) {
                LOG.debug("an upstream client did not stop cleanly", e);
            }
        }
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("gatehouse {} did not stop cleanly: {}", config.viaName(), Failures.describe(e));
        }
    }
}
