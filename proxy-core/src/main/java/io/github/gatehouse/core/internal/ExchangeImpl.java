package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.RequestHead;
import io.github.gatehouse.core.Route;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The per-exchange state every phase of the relay shares. Fields are volatile: phases may hop threads. */
final class ExchangeImpl implements Exchange {
    private final String id;
    private final InetSocketAddress clientAddress;
    private final InetSocketAddress localAddress;
    private final Instant startTime;
    private final long startNanos;
    private final String originalTarget;
    private final String method;
    private volatile Mode mode;
    private volatile RequestHeadImpl request;
    private volatile String user;
    private volatile HttpsInspection.Inner intercepted;
    private volatile Route route;
    private volatile io.github.gatehouse.core.CacheStatus cacheStatus;
    private volatile String upstream;
    private volatile String reason;
    private volatile int filtersPassed;
    private volatile int tries;
    private volatile String stickySetCookie;
    private volatile boolean denied;
    private volatile String deniedBy;
    private volatile boolean answeredByProxy;
    private volatile String proxyError;
    private volatile long upstreamHeadNanos = -1;
    private volatile String cachePeer;
    private volatile boolean peerRequest;
    private final java.util.concurrent.atomic.AtomicLong bytesIn = new java.util.concurrent.atomic.AtomicLong();
    private Map<String, Object> attributes;

    ExchangeImpl(String id, String method, InetSocketAddress clientAddress, InetSocketAddress localAddress,
            String originalTarget) {
        this.method = method;
        this.id = id;
        this.clientAddress = clientAddress;
        this.localAddress = localAddress;
        this.startTime = Instant.now();
        this.startNanos = System.nanoTime();
        this.originalTarget = originalTarget;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public java.util.Optional<String> cachePeer() {
        return java.util.Optional.ofNullable(cachePeer);
    }

    /** The home this exchange's miss goes to, or null when it goes to the origin. */
    void cachePeer(String home) {
        this.cachePeer = home;
    }

    @Override
    public boolean isPeerRequest() {
        return peerRequest;
    }

    void peerRequest(boolean peer) {
        this.peerRequest = peer;
    }

    @Override
    public Mode mode() {
        return mode;
    }

    void mode(Mode mode) {
        this.mode = mode;
    }

    @Override
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    @Override
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    @Override
    public Instant startTime() {
        return startTime;
    }

    long startNanos() {
        return startNanos;
    }

    String method() {
        return method;
    }

    String originalTarget() {
        return originalTarget;
    }

    @Override
    public RequestHead request() {
        return request;
    }

    RequestHeadImpl requestImpl() {
        return request;
    }

    void request(RequestHeadImpl request) {
        this.request = request;
    }

    @Override
    public Optional<String> user() {
        return Optional.ofNullable(user);
    }

    /** The intercepted tunnel this exchange arrived in, or null. */
    HttpsInspection.Inner intercepted() {
        return intercepted;
    }

    void intercepted(HttpsInspection.Inner tunnel) {
        this.intercepted = tunnel;
    }

    void user(String user) {
        this.user = user;
    }

    @Override
    public Optional<Route> route() {
        return Optional.ofNullable(route);
    }

    void route(Route route) {
        this.route = route;
    }

    @Override
    public synchronized Map<String, Object> attributes() {
        if (attributes == null) {
            attributes = new ConcurrentHashMap<>(4);
        }
        return attributes;
    }

    @Override
    public Optional<io.github.gatehouse.core.CacheStatus> cacheStatus() {
        return Optional.ofNullable(cacheStatus);
    }

    void cacheStatus(io.github.gatehouse.core.CacheStatus status) {
        this.cacheStatus = status;
    }

    String upstream() {
        return upstream;
    }

    void upstream(String upstream) {
        this.upstream = upstream;
    }

    String reason() {
        return reason;
    }

    void reason(String reason) {
        this.reason = reason;
    }

    /** How many request filters let the request pass (their response callbacks run). */
    int filtersPassed() {
        return filtersPassed;
    }

    void filtersPassed(int n) {
        this.filtersPassed = n;
    }

    String stickySetCookie() {
        return stickySetCookie;
    }

    void stickySetCookie(String value) {
        this.stickySetCookie = value;
    }

    int tries() {
        return tries;
    }

    void tries(int tries) {
        this.tries = tries;
    }

    /** Whether this is a background exchange ({@link BackgroundExchanges}): the cache's own, without a client. */
    boolean isBackground() {
        return clientAddress == BackgroundExchanges.NO_CLIENT;
    }

    /** Whether the proxy refused this exchange by its own rules (see {@link io.github.gatehouse.core.AccessLogEntry#denied()}). */
    boolean denied() {
        return denied;
    }

    /** Marks the exchange as refused by the proxy; set where the relay refuses, before it answers. */
    void deny() {
        this.denied = true;
    }

    long bytesIn() {
        return bytesIn.get();
    }

    /** The name of the request filter that refused the exchange, or null. */
    String deniedBy() {
        return deniedBy;
    }

    void deniedBy(String filterName) {
        this.deniedBy = filterName;
    }

    /** The proxy answered by itself with {@code proxyStatusError} (the RFC 9209 error type, or null for none). */
    void answered(String proxyStatusError) {
        this.answeredByProxy = true;
        this.proxyError = proxyStatusError;
    }

    boolean answeredByProxy() {
        return answeredByProxy;
    }

    String proxyError() {
        return proxyError;
    }

    /** Nanoseconds from sending the last try upstream to its response head; -1 when none arrived. */
    long upstreamHeadNanos() {
        return upstreamHeadNanos;
    }

    void upstreamHeadNanos(long nanos) {
        this.upstreamHeadNanos = nanos;
    }

    void addBytesIn(long n) {
        bytesIn.addAndGet(n);
    }

    @Override
    public String toString() {
        return id + " " + (request != null ? request : originalTarget);
    }
}
