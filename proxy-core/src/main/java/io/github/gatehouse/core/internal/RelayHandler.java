package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange.Mode;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * The relay's entry point in Jetty's handler chain: makes an {@link ExchangeContext} for each request and hands it to
 * the {@link ExchangeDriver}, which runs the phases. It also holds what the phases share: the configuration, the
 * upstream clients, the deadline timer, exchange ids and the count of exchanges in flight.
 *
 * <p>The wrapped handler is the tunnel ({@link GatehouseConnectHandler}), reached only through {@link TunnelPhase}.
 *
 * <p><b>Threading.</b> Thread-safe: one instance serves every exchange.
 */
final class RelayHandler extends Handler.Wrapper {
    private final ProxyConfig config;
    private final String via10;
    private final String via11;
    private final String via2;
    private final HttpClient forwardClient;
    private final HttpClient reverseClient;
    private final String idPrefix;
    private final AtomicLong ids;
    private final AtomicInteger inFlight = new AtomicInteger();
    /**
     * A diagnostic, off unless {@code -Dgatehouse.debug.exchanges=true}: the exchanges in flight, listed with their
     * state by Jetty's component dump (the soak dumps it when a client gives up on a stuck exchange).
     */
    private static final boolean TRACK = Boolean.getBoolean("gatehouse.debug.exchanges");
    private final java.util.Set<ExchangeContext> live = TRACK ? java.util.concurrent.ConcurrentHashMap.newKeySet() : null;
    private ExchangeEvents events = new ExchangeEvents(); // set before start, then fixed
    private final Answers answers;
    private final RequestFilterRunner filters;
    private final ExchangeDriver driver;
    private final Scheduler scheduler;
    private volatile Deadlines deadlines;
    private volatile FtpGateway ftp;
    private volatile UpstreamClients upstreamClients;
    private final TunnelPhase tunnels;
    /** Set once the server stops: the last exchange to end then wakes {@link #awaitDrained}. */
    private volatile boolean draining;
    private final Object drained = new Object();
    /** Set by {@link #retire}: the relay of the configuration that replaced this one, and what to do once drained. */
    private volatile RelayHandler successor;
    private volatile Runnable whenRetired;
    private final java.util.concurrent.atomic.AtomicBoolean retired = new java.util.concurrent.atomic.AtomicBoolean();

    private final Http1Upstream forwardLean;
    private final Http1Upstream reverseLean;

    RelayHandler(ProxyConfig config, HttpClient forwardClient, HttpClient reverseClient, Http1Upstream forwardLean,
            Http1Upstream reverseLean, Scheduler scheduler, Handler connectHandler) {
        this(config, forwardClient, reverseClient, forwardLean, reverseLean, scheduler, connectHandler, null);
    }

    /**
     * A relay for {@code config}; with a {@code previous} relay (a reconfiguration), it continues its exchange ids and
     * shares its deadline timer, and is never started itself: {@link RelaySwitch} hands it the new exchanges.
     */
    RelayHandler(ProxyConfig config, HttpClient forwardClient, HttpClient reverseClient, Http1Upstream forwardLean,
            Http1Upstream reverseLean, Scheduler scheduler, Handler connectHandler, RelayHandler previous) {
        super(connectHandler);
        this.forwardLean = forwardLean;
        this.reverseLean = reverseLean;
        this.config = config;
        this.idPrefix = previous != null ? previous.idPrefix
                : String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
        this.ids = previous != null ? previous.ids : new AtomicLong();
        this.deadlines = previous != null ? previous.deadlines : null;
        this.via10 = "1.0 " + config.viaName();
        this.via11 = "1.1 " + config.viaName();
        this.via2 = "2 " + config.viaName();
        this.forwardClient = forwardClient;
        this.reverseClient = reverseClient;
        this.scheduler = scheduler;
        this.answers = new Answers(config);
        this.filters = new RequestFilterRunner(config, answers);
        AuthenticationPhase authentication = new AuthenticationPhase(config, answers);
        CachePhase cache = new CachePhase(config, this);
        UpstreamSelector upstreams = new UpstreamSelector(config, this);
        this.tunnels = new TunnelPhase(connectHandler, answers);
        this.driver = new ExchangeDriver(new RequestHeadCheck(config, answers), new TargetResolver(config, answers),
                authentication, filters, tunnels, cache, upstreams, answers);
        driver.upgrades(new UpgradePhase(this, (GatehouseConnectHandler) connectHandler));
        authentication.driver(driver);
        cache.driver(driver);
        upstreams.driver(driver);
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        deadlines = new Deadlines(scheduler);
        deadlines.start();
    }

    @Override
    protected void doStop() throws Exception {
        Deadlines d = deadlines;
        if (d != null) {
            d.stop();
        }
        super.doStop();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        inFlight.incrementAndGet();
        RelayHandler next = successor;
        if (next != null) { // reconfigured while this exchange came in: it starts on the new configuration
            exchangeEnded();
            return next.handle(request, response, callback);
        }
        TargetFormConnectionFactory.headReceived(request);
        String rawTarget = TargetFormConnectionFactory.rawTarget(request);
        if (rawTarget == null && config.forward()) {
            rawTarget = Http2Requests.forwardTarget(request, config); // h2: :scheme and :authority name the target
        }
        ExchangeImpl exchange = new ExchangeImpl(nextId(), request.getMethod(),
                address(request.getConnectionMetaData().getRemoteSocketAddress()),
                address(request.getConnectionMetaData().getLocalSocketAddress()),
                withoutUserInfo(rawTarget != null ? rawTarget : request.getHttpURI().asString()));
        ExchangeContext x = new ExchangeContext(this, exchange, request, response, callback, rawTarget);
        if (TRACK) {
            live.add(x);
        }
        x.upgrade = UpgradePhase.requested(request);
        driver.advance(x);
        return true;
    }

    /** A new exchange id: this server's random prefix and a counter. */
    String nextId() {
        return idPrefix + "-" + ids.incrementAndGet();
    }

    /** Exchanges started and not yet completed (CONNECT tunnels count until established). */
    int inFlight() {
        return inFlight.get();
    }

    /** The tracked exchange {@code x} ended (see {@link #TRACK}). */
    void untrack(ExchangeContext x) {
        if (TRACK) {
            live.remove(x);
        }
    }

    @Override
    public void dump(Appendable out, String indent) throws java.io.IOException {
        if (TRACK) {
            out.append(String.valueOf(this)).append(" exchanges in flight: ").append(String.valueOf(live.size())).append('\n');
            for (ExchangeContext x : live) {
                out.append(indent).append(" +> ").append(x.toString()).append('\n');
            }
        } else {
            super.dump(out, indent);
        }
    }

    /** An exchange reached its end ({@link ExchangeContext}). */
    void exchangeEnded() {
        if (inFlight.decrementAndGet() == 0) {
            if (draining) {
                synchronized (drained) {
                    drained.notifyAll();
                }
            }
            if (successor != null) {
                retired();
            }
        }
    }

    /**
     * This relay's configuration was replaced: exchanges that arrive from now on go to {@code next}, and
     * {@code whenDrained} runs once the last exchange in flight here has ended (at once when none is).
     */
    void retire(RelayHandler next, Runnable whenDrained) {
        whenRetired = whenDrained;
        successor = next;
        if (inFlight.get() == 0) {
            retired();
        }
    }

    private void retired() {
        Runnable r = whenRetired;
        if (r != null && retired.compareAndSet(false, true)) {
            r.run();
        }
    }

    /**
     * Waits until no exchange is in flight, at most {@code timeoutNanos}; the shutdown path only (it blocks).
     * Returns whether none is left.
     */
    boolean awaitDrained(long timeoutNanos) throws InterruptedException {
        draining = true;
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (drained) {
            for (long left = timeoutNanos; inFlight.get() > 0 && left > 0; left = deadline - System.nanoTime()) {
                java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(drained, left);
            }
        }
        return inFlight.get() == 0;
    }

    ExchangeEvents events() {
        return events;
    }

    /** Observers of finished exchanges; set before the server starts. */
    void events(ExchangeEvents events) {
        this.events = events;
    }

    Deadlines deadlines() {
        return deadlines;
    }

    /** The FTP gateway, or null when {@code ftp://} is not served. */
    FtpGateway ftp() {
        return ftp;
    }

    void ftp(FtpGateway gateway) {
        this.ftp = gateway;
    }

    ProxyConfig config() {
        return config;
    }

    Answers answers() {
        return answers;
    }

    RequestFilterRunner filters() {
        return filters;
    }

    ExchangeDriver driver() {
        return driver;
    }

    /** This proxy's {@code Via} element for a message of HTTP/1.0 or HTTP/1.1, built once. */
    String via(boolean http10) {
        return http10 ? via10 : via11;
    }

    /** This proxy's {@code Via} element for a request received as {@code protocol} (RFC 9110 §7.6.3: "2" for h2). */
    String via(String protocol) {
        if ("HTTP/2.0".equals(protocol)) {
            return via2;
        }
        return "HTTP/1.0".equals(protocol) ? via10 : via11;
    }

    /** HTTPS inspection, when configured; set once, before the server starts. */
    void inspection(HttpsInspection inspection) {
        tunnels.inspection(inspection);
    }

    /** Set once, before the server starts. */
    void upstreamClients(UpstreamClients clients) {
        this.upstreamClients = clients;
    }

    /** The upstream client and request version for {@code x}: its pool's, or the forward client. */
    UpstreamClients.Choice upstream(ExchangeContext x) {
        return x.tries != null ? upstreamClients.forPool(x.tries.pool) : upstreamClients.forward();
    }

    /** The lean HTTP/1.1 transport for cleartext upstreams of {@code mode}, or null where jetty-client carries them. */
    Http1Upstream lean(Mode mode) {
        return mode == Mode.REVERSE ? reverseLean : forwardLean;
    }

    /** The upstream client for a mode: forward requests go through the destination policy, reverse ones do not. */
    HttpClient client(Mode mode) {
        return mode == Mode.REVERSE ? reverseClient : forwardClient;
    }

    /**
     * The target as logged: an absolute-form target's user info ({@code ftp://user:password@host/}) is dropped, so
     * credentials in URLs never reach a log line.
     */
    static String withoutUserInfo(String target) {
        int at = target.indexOf('@');
        int scheme = target.indexOf("://");
        if (at < 0 || scheme < 0) {
            return target;
        }
        int authorityEnd = target.indexOf('/', scheme + 3);
        if (authorityEnd < 0) {
            authorityEnd = target.length();
        }
        int lastAt = target.lastIndexOf('@', authorityEnd - 1);
        return lastAt > scheme ? target.substring(0, scheme + 3) + target.substring(lastAt + 1) : target;
    }

    static InetSocketAddress address(SocketAddress address) {
        return address instanceof InetSocketAddress ? (InetSocketAddress) address
                : InetSocketAddress.createUnresolved("0.0.0.0", 0);
    }
}
