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
    private final String idPrefix = String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    private final AtomicLong ids = new AtomicLong();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Answers answers;
    private final RequestFilterRunner filters;
    private final ExchangeDriver driver;
    private final Scheduler scheduler;
    private volatile Deadlines deadlines;
    /** Set once the server stops: the last exchange to end then wakes {@link #awaitDrained}. */
    private volatile boolean draining;
    private final Object drained = new Object();

    RelayHandler(ProxyConfig config, HttpClient forwardClient, HttpClient reverseClient, Scheduler scheduler,
            Handler connectHandler) {
        super(connectHandler);
        this.config = config;
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
        this.driver = new ExchangeDriver(new RequestHeadCheck(config, answers), new TargetResolver(config, answers),
                authentication, filters, new TunnelPhase(connectHandler, answers), cache, upstreams, answers);
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
        TargetFormConnectionFactory.headReceived(request);
        String rawTarget = TargetFormConnectionFactory.rawTarget(request);
        if (rawTarget == null && config.forward()) {
            rawTarget = Http2Requests.forwardTarget(request, config); // h2: :scheme and :authority name the target
        }
        ExchangeImpl exchange = new ExchangeImpl(nextId(), request.getMethod(),
                address(request.getConnectionMetaData().getRemoteSocketAddress()),
                address(request.getConnectionMetaData().getLocalSocketAddress()),
                rawTarget != null ? rawTarget : request.getHttpURI().asString());
        inFlight.incrementAndGet();
        ExchangeContext x = new ExchangeContext(this, exchange, request, response, callback, rawTarget);
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

    /** An exchange reached its end ({@link ExchangeContext}). */
    void exchangeEnded() {
        if (inFlight.decrementAndGet() == 0 && draining) {
            synchronized (drained) {
                drained.notifyAll();
            }
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

    Deadlines deadlines() {
        return deadlines;
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

    /** The upstream client for a mode: forward requests go through the destination policy, reverse ones do not. */
    HttpClient client(Mode mode) {
        return mode == Mode.REVERSE ? reverseClient : forwardClient;
    }

    static InetSocketAddress address(SocketAddress address) {
        return address instanceof InetSocketAddress ? (InetSocketAddress) address
                : InetSocketAddress.createUnresolved("0.0.0.0", 0);
    }
}
