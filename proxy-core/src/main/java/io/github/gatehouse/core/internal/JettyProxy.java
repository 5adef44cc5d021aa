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

    private final ProxyConfig config;
    private Server server;
    private final java.util.List<HealthChecker> healthCheckers = new java.util.ArrayList<>();
    private ServerConnector connector;
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
        QueuedThreadPool threads = new QueuedThreadPool(256, 4);
        threads.setName("gatehouse-" + config.viaName());
        // Threads above the minimum that a burst started end once idle for the pool's idle timeout (60 s). Jetty's
        // default lets one go per idle timeout, so 20 extra threads would take 20 minutes to go.
        threads.setMaxEvictCount(threads.getMaxThreads());
        // No pooled buffers on the server side either: a 10-minute soak still saw a request parsed from a buffer
        // that another party had changed after its release (a valid request answered 400 "Bad HostPort"), after the
        // known jetty-client path was closed. Without reuse, a stale reference can corrupt nothing another
        // connection reads. Revisit with the A/B runs of the relay-core issue once Jetty's buffer bugs are fixed.
        server = new Server(threads, null, org.eclipse.jetty.io.ByteBufferPool.NON_POOLING);

        HttpConfiguration http = new HttpConfiguration();
        http.setRequestHeaderSize(config.maxRequestHeaderSize());
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setSendDateHeader(false);
        // No leniency: bare-LF line endings, obs-fold, duplicate Content-Length and the like are all 400s. The one
        // exception: a Host that differs from an absolute-form or CONNECT target (Apache HttpClient 4.5 sends
        // "CONNECT host:443" with "Host: host"). RFC 9112 §3.2.2: a proxy ignores that Host; the relay routes by the
        // target and regenerates Host from it.
        http.setHttpCompliance(org.eclipse.jetty.http.HttpCompliance.STRICT.with("GATEHOUSE",
                org.eclipse.jetty.http.HttpCompliance.Violation.MISMATCHED_AUTHORITY));
        // Jetty's per-connection field cache matches values without regard to case, and would hand a later
        // "Cache-Control: MaX-aGe=1" to the relay in an earlier request's spelling: values must pass byte for byte.
        http.setHeaderCacheCaseSensitive(true);
        http.setUseInputDirectByteBuffers(false);   // heap buffers: unpooled direct buffers are costly to allocate
        http.setUseOutputDirectByteBuffers(false);
        http.setIdleTimeout(config.idleTimeout().toMillis());

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
            tlsConnector = new ServerConnector(server,
                    new SslConnectionFactory(tlsListener.factory(), alpn.getProtocol()), alpn,
                    http2Limits(new HTTP2ServerConnectionFactory(https)),
                    new TargetFormConnectionFactory(https, config.requestHeadTimeout(), () -> relayHandler.deadlines()));
            tlsConnector.setHost(config.bindAddress());
            tlsConnector.setPort(config.tls().port());
            tlsConnector.setIdleTimeout(config.idleTimeout().toMillis());
            tlsConnector.setAcceptQueueSize(1024);
            ServerConnector tls = tlsConnector;
            http.addCustomizer(new HttpsRedirect(tls::getLocalPort)); // after the copy: the plain listener's only
        }
        // the plain listener: HTTP/1.1, and h2c for a client that starts with the HTTP/2 preface (prior knowledge) or
        // asks for "Upgrade: h2c"
        connector = new ServerConnector(server,
                new TargetFormConnectionFactory(http, config.requestHeadTimeout(), () -> relayHandler.deadlines()),
                http2Limits(new HTTP2CServerConnectionFactory(http)));
        connector.setHost(config.bindAddress());
        connector.setPort(config.port());
        connector.setIdleTimeout(config.idleTimeout().toMillis());
        connector.setAcceptQueueSize(1024);
        server.addConnector(connector);
        if (tlsConnector != null) {
            server.addConnector(tlsConnector);
        }
        server.addBean(new NetworkConnectionLimit(config.maxConnections(), server));

        DestinationPolicy policy;
        try {
            policy = DestinationPolicy.create(config.allowInternalDestinations(), config.allowedInternalDestinations());
        } catch (java.net.UnknownHostException e) {
            throw new IOException("cannot resolve an allowed internal destination: " + e.getMessage(), e);
        }
        org.eclipse.jetty.util.thread.Scheduler scheduler =
                new org.eclipse.jetty.util.thread.ScheduledExecutorScheduler("gatehouse-scheduler", true);
        server.addBean(scheduler);
        // Only the clients a mode needs: each one initialises its own TLS context at start.
        HttpClient forwardClient = null;
        if (config.forward()) {
            forwardClient = newClient(threads, scheduler, "forward");
            forwardClient.setSocketAddressResolver(new GuardedResolver(
                    new org.eclipse.jetty.util.SocketAddressResolver.Async(threads, scheduler,
                            config.connectTimeout().toMillis()), policy));
            server.addBean(forwardClient);
        }
        HttpClient reverseClient = null;
        if (!config.routes().isEmpty()) {
            reverseClient = newClient(threads, scheduler, "reverse");
            server.addBean(reverseClient);
        }

        GatehouseConnectHandler connect = new GatehouseConnectHandler(config.viaName(), policy);
        connect.setConnectTimeout(config.connectTimeout().toMillis());
        connect.setIdleTimeout(config.idleTimeout().toMillis());
        RelayHandler relay = new RelayHandler(config, forwardClient, reverseClient, scheduler, connect);
        relay.events(events);
        connectHandler = connect;
        relayHandler = relay;
        org.eclipse.jetty.server.Handler chain = new Http2Requests(relay);
        if (config.minRequestBodyRate() > 0 || config.minResponseBodyRate() > 0) {
            server.setHandler(new BodyRateHandler(chain, config.minRequestBodyRate(), config.minResponseBodyRate(),
                    config.bodyRateGracePeriod(), relay::deadlines));
        } else {
            server.setHandler(chain);
        }
        server.setErrorHandler(new PlainErrorHandler(config.viaName(), config.accessLog(), relay::nextId));
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
                client.getContentDecoderFactories().clear();
                client.getProtocolHandlers().clear();
                client.getProtocolHandlers().put(new InterimResponses());
            }
        }
        java.util.Set<io.github.gatehouse.core.UpstreamPool> pools =
                java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (io.github.gatehouse.core.Route route : config.routes()) {
            route.pool().ifPresent(pools::add);
        }
        HttpClient healthClient = reverseClient;
        for (io.github.gatehouse.core.UpstreamPool pool : pools) {
            pool.healthCheck().ifPresent(check -> {
                HealthChecker checker = new HealthChecker(pool, check, healthClient, scheduler);
                healthCheckers.add(checker);
                checker.start();
            });
        }
        if (tlsListener != null) {
            tlsListener.watch(scheduler, config.tls().checkInterval().toMillis());
            LOG.info("gatehouse {} listening for HTTPS (h2, http/1.1) on {}:{}", config.viaName(), config.bindAddress(), tlsPort());
        }
        LOG.info("gatehouse {} listening on {}:{}{}{}", config.viaName(), config.bindAddress(), port(),
                config.forward() ? " (forward proxy)" : "", config.routes().isEmpty() ? "" : " (" + config.routes().size() + " routes)");
    }

    private HttpClient newClient(QueuedThreadPool threads, org.eclipse.jetty.util.thread.Scheduler scheduler, String name) {
        // HTTP/1.1 only, without the dynamic (ALPN-ready) transport's per-destination protocol negotiation
        ResetAwareClientConnector clientConnector = new ResetAwareClientConnector();
        clientConnector.setSelectors(1);
        org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP transport =
                new org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP(clientConnector);
        // field values pass byte for byte on reused connections (see the server side)
        transport.setHeaderCacheCaseSensitive(true);
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
        return client;
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
        for (ServerConnector c : new ServerConnector[] {connector, tlsConnector}) {
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
     * bound what one client can make the proxy buffer (256 KiB a stream, 1 MiB a connection); and no extended CONNECT
     * (RFC 8441), as WebSocket over HTTP/2 is not relayed.
     */
    private <F extends org.eclipse.jetty.http2.server.AbstractHTTP2ServerConnectionFactory> F http2Limits(F f) {
        f.setMaxConcurrentStreams(config.maxConcurrentStreams());
        f.setRateControlFactory(new org.eclipse.jetty.http2.WindowRateControl.Factory(128));
        f.setMaxDecoderTableCapacity(4096);
        f.setMaxEncoderTableCapacity(4096);
        f.setInitialStreamRecvWindow(256 * 1024);
        f.setInitialSessionRecvWindow(1024 * 1024);
        f.setMaxSettingsKeys(64);
        f.setConnectProtocolEnabled(false);
        f.setUseInputDirectByteBuffers(false);
        f.setUseOutputDirectByteBuffers(false);
        return f;
    }

    /** Stops gracefully within the drain time. */
    public void stop() {
        healthCheckers.forEach(HealthChecker::stop);
        // Drain: stop accepting, then let exchanges in flight finish within the drain time. Counting exchanges in
        // the relay replaces Jetty's GracefulHandler, which wraps every request and callback on the hot path.
        if (tlsListener != null) {
            tlsListener.stop();
        }
        for (ServerConnector c : new ServerConnector[] {connector, tlsConnector}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (RuntimeException e) {
                LOG.debug("closing the listening socket failed", e);
            }
        }
        RelayHandler relay = relayHandler;
        if (relay != null) {
            try {
                relay.awaitDrained(config.drainTimeout().toNanos());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (relay != null && relay.inFlight() > 0) {
            LOG.info("gatehouse {} stopping with {} exchanges still in flight after the {} drain time",
                    config.viaName(), relay.inFlight(), config.drainTimeout());
        }
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("gatehouse {} did not stop cleanly: {}", config.viaName(), Failures.describe(e));
        }
    }
}
