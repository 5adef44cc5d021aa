package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import io.github.gatehouse.core.internal.ApiAccess;
import io.github.gatehouse.core.internal.MemberState;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The upstream servers of a reverse route, how requests are spread over them, and how they are checked and
 * retried: a live, thread-safe pool.
 *
 * <p><b>Configuration</b> is fixed when the pool is built: {@link #builder(String...)} takes the members, the
 * balancing strategy, health checks, outlier detection, retries, slow start, the per-member request limit, TLS, the
 * protocol and PROXY protocol, and {@link Builder#build()} makes the pool. {@link #toBuilder()} starts a builder
 * from a pool's configuration, for a {@link ProxyServer#reconfigure}: members whose URLs are in a running pool keep
 * their health, drain state, load and counters. <b>Runtime changes</b> ({@link #add}, {@link #remove},
 * {@link #drain}, {@link #weight(String, int)}) change a pool in place while it serves traffic, without a restart.
 *
 * <pre>{@code
 * UpstreamPool pool = UpstreamPool.builder("http://10.0.0.1:8080", "http://10.0.0.2:8080")
 *         .balance(LoadBalancing.leastRequests())
 *         .healthCheck(HealthCheck.get("/health").every(Duration.ofSeconds(5)))
 *         .retries(RetryPolicy.defaults().retries(2))
 *         .build();
 * }</pre>
 *
 * <p>The configuring methods on the pool itself ({@link #balance}, {@link #retries}...) are deprecated: each
 * returns a new pool with fresh runtime state, and once a server uses a pool they throw rather than silently drop
 * that state.
 */
public final class UpstreamPool {
    private final LoadBalancer balancer;
    private final HealthCheck healthCheck;
    private final OutlierDetection outliers;
    private final RetryPolicy retries;
    private final Duration slowStart;
    private final int maxRequestsPerMember;
    /** The time source of slow start and outlier ejection; {@code null} for {@link System#nanoTime()}. */
    private final Clock clock;
    private final CopyOnWriteArrayList<MemberState> members = new CopyOnWriteArrayList<>();
    private final AtomicLong retryTokens = new AtomicLong(1_000);
    /** Set only on a new pool, before it is returned: {@link #tls}, {@link #protocol}, {@link #carry}. */
    private UpstreamTls tls;
    private UpstreamProtocol protocol = UpstreamProtocol.HTTP_1_1;
    private ProxyProtocolVersion proxyProtocol;
    private final java.util.concurrent.atomic.LongAdder retriesMade = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder rejected = new java.util.concurrent.atomic.LongAdder();

    private UpstreamPool(Collection<Upstream> upstreams, LoadBalancer balancer, HealthCheck healthCheck,
            OutlierDetection outliers, RetryPolicy retries, Duration slowStart, int maxRequestsPerMember, Clock clock) {
        this.balancer = balancer;
        this.clock = clock;
        this.healthCheck = healthCheck;
        this.outliers = outliers;
        this.retries = retries;
        this.slowStart = slowStart;
        this.maxRequestsPerMember = maxRequestsPerMember;
        for (Upstream u : upstreams) {
            members.add(newMember(u));
        }
    }

    /**
     * A pool of the given base URLs with every default: {@code builder(urls).build()}. Each member has weight 1;
     * round robin, no active health check, default outlier detection and retry policy.
     *
     * @throws IllegalArgumentException if no URL is given or one is not a valid upstream URL
     */
    public static UpstreamPool of(String... urls) {
        requireNonNull(urls, "urls");
        List<Upstream> list = new ArrayList<>();
        for (String url : urls) {
            list.add(Upstream.of(url));
        }
        return of(list);
    }

    /** A pool of the given members with every default: {@code builder(members).build()}. */
    public static UpstreamPool of(List<Upstream> members) {
        requireNonNull(members, "members");
        checkArgument(!members.isEmpty(), "members: empty (expected: at least one upstream)");
        return new UpstreamPool(members, LoadBalancing.roundRobin(), null, OutlierDetection.defaults(),
                RetryPolicy.defaults(), null, 0, null);
    }

    /**
     * A builder of a pool of the given base URLs, each with weight 1.
     *
     * @throws IllegalArgumentException if no URL is given or one is not a valid upstream URL
     */
    @CheckReturnValue
    public static Builder builder(String... urls) {
        requireNonNull(urls, "urls");
        List<Upstream> list = new ArrayList<>();
        for (String url : urls) {
            list.add(Upstream.of(url));
        }
        return builder(list);
    }

    /** A builder of a pool of the given members (weights as given). */
    @CheckReturnValue
    public static Builder builder(List<Upstream> members) {
        requireNonNull(members, "members");
        checkArgument(!members.isEmpty(), "members: empty (expected: at least one upstream)");
        return new Builder(List.copyOf(members));
    }

    /**
     * A builder with this pool's configuration and its members' URLs and weights now (not their runtime state: a
     * {@link ProxyServer#reconfigure} hands that over to the members of the new pool with the same URLs).
     */
    @CheckReturnValue
    public Builder toBuilder() {
        Builder b = new Builder(upstreams());
        b.balancer = balancer;
        b.healthCheck = healthCheck;
        b.outliers = outliers;
        b.retries = retries;
        b.slowStart = slowStart;
        b.maxRequestsPerMember = maxRequestsPerMember;
        b.clock = clock;
        b.tls = tls;
        b.protocol = protocol;
        b.proxyProtocol = proxyProtocol;
        return b;
    }

    /**
     * The configuration of a pool, then {@link #build()}. Each setter replaces the value set before.
     *
     * <p>Not thread-safe: configure on one thread; the built pool is thread-safe.
     */
    public static final class Builder {
        private final List<Upstream> upstreams;
        private LoadBalancer balancer = LoadBalancing.roundRobin();
        private HealthCheck healthCheck;
        private OutlierDetection outliers = OutlierDetection.defaults();
        private RetryPolicy retries = RetryPolicy.defaults();
        private Duration slowStart;
        private int maxRequestsPerMember;
        private Clock clock;
        private UpstreamTls tls;
        private UpstreamProtocol protocol = UpstreamProtocol.HTTP_1_1;
        private ProxyProtocolVersion proxyProtocol;

        private Builder(List<Upstream> upstreams) {
            this.upstreams = upstreams;
        }

        /** The balancing strategy (default round robin). */
        public Builder balance(LoadBalancer balancer) {
            this.balancer = requireNonNull(balancer, "balancer");
            return this;
        }

        /** Active health checks (default none: passive outlier detection only). */
        public Builder healthCheck(HealthCheck healthCheck) {
            this.healthCheck = requireNonNull(healthCheck, "healthCheck");
            return this;
        }

        /** Passive outlier detection ({@link OutlierDetection#off()} to disable). */
        public Builder outlierDetection(OutlierDetection outliers) {
            this.outliers = requireNonNull(outliers, "outliers");
            return this;
        }

        /** The retry policy ({@link RetryPolicy#none()} to disable). */
        public Builder retries(RetryPolicy retries) {
            this.retries = requireNonNull(retries, "retries");
            return this;
        }

        /** Members that come (back) up get a share of traffic that ramps up linearly over {@code duration}. */
        public Builder slowStart(Duration duration) {
            requireNonNull(duration, "duration");
            checkArgument(!duration.isNegative(), "slowStart: %s (expected: >= 0)", duration);
            this.slowStart = duration;
            return this;
        }

        /**
         * Circuit breaking: at most {@code n} requests in flight per member; when every available member is at its
         * limit, new requests get 503 at once instead of queueing.
         */
        public Builder maxRequestsPerMember(int n) {
            checkArgument(n >= 1, "maxRequestsPerMember: %s (expected: >= 1)", n);
            this.maxRequestsPerMember = n;
            return this;
        }

        /**
         * The clock that times slow start and outlier ejections (default: the JVM's monotonic {@link System#nanoTime()}).
         * For tests: a {@code SettableClock} from {@code io.github.gatehouse.core.testing} moves a member through
         * its slow-start ramp or to the end of its ejection without waiting. Active health checks still run every
         * {@link HealthCheck#interval()} of real time: they send real probes.
         */
        public Builder clock(Clock clock) {
            this.clock = requireNonNull(clock, "clock");
            return this;
        }

        /** TLS settings of its own for {@code https://} members, instead of the server's. */
        public Builder tls(UpstreamTls tls) {
            this.tls = requireNonNull(tls, "tls");
            return this;
        }

        /**
         * The protocol to the members (HTTP/1.1 by default). {@link UpstreamProtocol#H2} needs {@code https://}
         * members, {@link UpstreamProtocol#H2C} {@code http://} ones (checked by {@link #build()}).
         */
        public Builder protocol(UpstreamProtocol protocol) {
            this.protocol = requireNonNull(protocol, "protocol");
            return this;
        }

        /** A PROXY protocol header of {@code version} at the start of each connection to the members. */
        public Builder proxyProtocol(ProxyProtocolVersion version) {
            this.proxyProtocol = requireNonNull(version, "version");
            return this;
        }

        /**
         * The pool.
         *
         * @throws IllegalArgumentException if a member's scheme does not fit the protocol
         */
        public UpstreamPool build() {
            for (Upstream u : upstreams) {
                checkSchemeFits(u, protocol);
            }
            UpstreamPool pool = new UpstreamPool(upstreams, balancer, healthCheck, outliers, retries, slowStart,
                    maxRequestsPerMember, clock);
            pool.tls = tls;
            pool.protocol = protocol;
            pool.proxyProtocol = proxyProtocol;
            return pool;
        }
    }

    private MemberState newMember(Upstream u) {
        return new MemberState(u, slowStart, timeSource());
    }

    private java.util.function.LongSupplier timeSource() {
        Clock c = clock;
        if (c == null) {
            return System::nanoTime;
        }
        return () -> {
            java.time.Instant now = c.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        };
    }

    private List<Upstream> upstreams() {
        List<Upstream> list = new ArrayList<>();
        for (MemberState m : members) {
            list.add(m.upstream());
        }
        return list;
    }

    // ---- configuration (deprecated: returns a new pool) ----

    /** Set once a server uses this pool: from then on, the deprecated configuring methods throw. */
    private volatile boolean inUse;

    private void checkNotInUse(String method) {
        if (inUse) {
            throw new IllegalStateException(method + "(...) on a pool a server uses would return a new pool without "
                    + "its runtime state (expected: UpstreamPool.builder(...)." + method + "(...).build(), or "
                    + "toBuilder() and ProxyServer.reconfigure)");
        }
    }


    /**
     * This pool with another balancing strategy.
     *
     * @deprecated use {@link Builder#balance} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool balance(LoadBalancer balancer) {
        checkNotInUse("balance");
        return carry(new UpstreamPool(upstreams(), requireNonNull(balancer, "balancer"), healthCheck, outliers, retries, slowStart, maxRequestsPerMember, clock));
    }

    /**
     * This pool with active health checks.
     *
     * @deprecated use {@link Builder#healthCheck} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool healthCheck(HealthCheck healthCheck) {
        checkNotInUse("healthCheck");
        return carry(new UpstreamPool(upstreams(), balancer, requireNonNull(healthCheck, "healthCheck"), outliers, retries, slowStart, maxRequestsPerMember, clock));
    }

    /**
     * This pool with other passive outlier detection ({@link OutlierDetection#off()} to disable).
     *
     * @deprecated use {@link Builder#outlierDetection} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool outlierDetection(OutlierDetection outliers) {
        checkNotInUse("outlierDetection");
        return carry(new UpstreamPool(upstreams(), balancer, healthCheck, requireNonNull(outliers, "outliers"), retries, slowStart, maxRequestsPerMember, clock));
    }

    /**
     * This pool with another retry policy ({@link RetryPolicy#none()} to disable).
     *
     * @deprecated use {@link Builder#retries} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool retries(RetryPolicy retries) {
        checkNotInUse("retries");
        return carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, requireNonNull(retries, "retries"), slowStart, maxRequestsPerMember, clock));
    }

    /**
     * Members that come (back) up get a share of traffic that ramps up linearly over {@code duration}.
     *
     * @deprecated use {@link Builder#slowStart} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool slowStart(Duration duration) {
        checkNotInUse("slowStart");
        requireNonNull(duration, "duration");
        checkArgument(!duration.isNegative(), "slowStart: %s (expected: >= 0)", duration);
        return carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, retries, duration, maxRequestsPerMember, clock));
    }

    /**
     * Circuit breaking: at most {@code n} requests in flight per member; when every available member is at its
     * limit, new requests get 503 at once instead of queueing.
     *
     * @deprecated use {@link Builder#maxRequestsPerMember} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool maxRequestsPerMember(int n) {
        checkNotInUse("maxRequestsPerMember");
        checkArgument(n >= 1, "maxRequestsPerMember: %s (expected: >= 1)", n);
        return carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, retries, slowStart, n, clock));
    }

    /**
     * This pool with its own TLS settings for {@code https://} members, instead of the server's
     * ({@link ProxyServer.Builder#upstreamTls}).
     *
     * @deprecated use {@link Builder#tls} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool tls(UpstreamTls tls) {
        checkNotInUse("tls");
        requireNonNull(tls, "tls");
        UpstreamPool next = carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, retries, slowStart, maxRequestsPerMember, clock));
        next.tls = tls;
        return next;
    }

    /**
     * This pool speaking {@code protocol} to its members (HTTP/1.1 by default). {@link UpstreamProtocol#H2} needs
     * {@code https://} members, {@link UpstreamProtocol#H2C} {@code http://} ones; health checks use it too.
     *
     * @throws IllegalArgumentException if a member's scheme does not fit the protocol
     *
     * @deprecated use {@link Builder#protocol} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @CheckReturnValue
    @Deprecated(since = "0.1.0")
    public UpstreamPool protocol(UpstreamProtocol protocol) {
        checkNotInUse("protocol");
        requireNonNull(protocol, "protocol");
        for (Upstream u : upstreams()) {
            checkSchemeFits(u, protocol);
        }
        UpstreamPool next = carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, retries, slowStart, maxRequestsPerMember, clock));
        next.protocol = protocol;
        return next;
    }

    private static void checkSchemeFits(Upstream u, UpstreamProtocol protocol) {
        String scheme = u.uri().getScheme();
        checkArgument(protocol != UpstreamProtocol.H2 || scheme.equals("https"),
                "upstream %s: protocol H2 (h2 over TLS) needs an https:// member (expected: https://, or H2C for cleartext)", u);
        checkArgument(protocol != UpstreamProtocol.H2C || scheme.equals("http"),
                "upstream %s: protocol H2C (cleartext HTTP/2) needs an http:// member (expected: http://, or H2 over TLS)", u);
    }

    /**
     * This pool sending a PROXY protocol header of {@code version} at the start of each connection to its members, so
     * they see the client's address and port (and the address the client connected to) as if it had connected to them
     * directly. Such a connection carries one client's requests only: members that want PROXY get a connection per
     * client connection (each closes when it idles out). Health checks send a header without addresses (v1
     * {@code UNKNOWN}, v2 {@code LOCAL}). Upgraded connections (WebSocket) send it too.
     *
     * @deprecated use {@link Builder#proxyProtocol} on {@link #builder(String...)} or {@link #toBuilder()}
     */
    @Deprecated(since = "0.1.0")
    public UpstreamPool proxyProtocol(ProxyProtocolVersion version) {
        checkNotInUse("proxyProtocol");
        requireNonNull(version, "version");
        UpstreamPool next = carry(new UpstreamPool(upstreams(), balancer, healthCheck, outliers, retries, slowStart, maxRequestsPerMember, clock));
        next.proxyProtocol = version;
        return next;
    }

    /** {@code next} with this pool's TLS settings, protocol and PROXY protocol. */
    private UpstreamPool carry(UpstreamPool next) {
        next.tls = tls;
        next.protocol = protocol;
        next.proxyProtocol = proxyProtocol;
        return next;
    }

    // ---- runtime changes (in place) ----

    /** Adds a member now; it starts in slow start if the pool has one. */
    public UpstreamPool add(Upstream upstream) {
        requireNonNull(upstream, "upstream");
        checkSchemeFits(upstream, protocol);
        MemberState m = new MemberState(upstream, slowStart, timeSource());
        if (slowStart != null) {
            m.healthy(false);
            m.healthy(true);
        }
        members.add(m);
        return this;
    }

    /** Removes the member with this URL now; requests in flight to it finish. Returns whether it was there. */
    public boolean remove(String url) {
        Optional<MemberState> m = find(url);
        m.ifPresent(members::remove);
        return m.isPresent();
    }

    /** Stops sending new requests to the member with this URL; requests in flight finish. */
    public boolean drain(String url) {
        Optional<MemberState> m = find(url);
        m.ifPresent(MemberState::drain);
        return m.isPresent();
    }

    /** Ends the drain of the member with this URL: it takes new requests again. Returns whether it was there. */
    public boolean undrain(String url) {
        Optional<MemberState> m = find(url);
        m.ifPresent(MemberState::undrain);
        return m.isPresent();
    }

    /** Changes a member's weight now (1..1000). */
    public boolean weight(String url, int weight) {
        checkArgument(weight >= 1 && weight <= 1000, "weight: %s (expected: 1..1000)", weight);
        Optional<MemberState> m = find(url);
        m.ifPresent(s -> s.weight(weight));
        return m.isPresent();
    }

    private Optional<MemberState> find(String url) {
        String normalized = Upstream.of(url).uri().toString();
        for (MemberState m : members) {
            if (m.upstream().uri().toString().equals(normalized)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    // ---- views ----

    /** The members now, in the order added. */
    public List<UpstreamMember> members() {
        return List.copyOf(members);
    }

    /** A snapshot of every member's counters. */
    public List<UpstreamStats> stats() {
        List<UpstreamStats> list = new ArrayList<>();
        for (MemberState m : members) {
            list.add(m.stats());
        }
        return list;
    }

    /**
     * The pool's own counters: retries made, the retry budget left (in retries), and requests refused with 503
     * because every available member was at its {@linkplain #maxRequestsPerMember request limit} (circuit breaking).
     */
    public Counters counters() {
        return new Counters(retriesMade.sum(), retryTokens.get() / 100.0, rejected.sum());
    }

    /**
     * A snapshot of a pool's counters. Immutable.
     *
     * @param retries retries made on another member since the pool was built
     * @param retryBudgetLeft retries the budget allows now (up to 10; fractional as requests earn it)
     * @param circuitBreakerRejections requests answered 503 because every available member was at its request limit
     */
    public record Counters(long retries, double retryBudgetLeft, long circuitBreakerRejections) {
    }

    public LoadBalancer balancer() {
        return balancer;
    }

    public Optional<HealthCheck> healthCheck() {
        return Optional.ofNullable(healthCheck);
    }

    public OutlierDetection outlierDetection() {
        return outliers;
    }

    public RetryPolicy retryPolicy() {
        return retries;
    }

    /** The pool's own TLS settings, if any (else the server's). */
    public Optional<UpstreamTls> tls() {
        return Optional.ofNullable(tls);
    }

    /** The protocol spoken to the members. */
    public UpstreamProtocol protocol() {
        return protocol;
    }

    /** The PROXY protocol version sent to the members, if any ({@link #proxyProtocol(ProxyProtocolVersion)}). */
    public Optional<ProxyProtocolVersion> proxyProtocol() {
        return Optional.ofNullable(proxyProtocol);
    }

    public int maxRequestsPerMember() {
        return maxRequestsPerMember;
    }

    /**
     * Picks a member for {@code exchange} as the relay does: among available members not in {@code tried} and
     * below the per-member request limit. Empty when none may take it.
     */
    Optional<UpstreamMember> select(Exchange exchange, Collection<UpstreamMember> tried) {
        List<UpstreamMember> candidates = new ArrayList<>(members.size());
        for (MemberState m : members) {
            if (m.isAvailable() && !tried.contains(m)
                    && (maxRequestsPerMember == 0 || m.activeRequests() < maxRequestsPerMember)) {
                candidates.add(m);
            }
        }
        if (candidates.isEmpty()) {
            return Optional.empty();
        }
        UpstreamMember picked = balancer.pick(candidates, exchange);
        return Optional.ofNullable(picked);
    }

    /** Whether one more member may be ejected without passing the max ejection share. */
    boolean mayEject() {
        int ejected = 0;
        for (MemberState m : members) {
            if (m.isEjected()) {
                ejected++;
            }
        }
        return (ejected + 1) * 100 <= outliers.maxEjectionPercent() * members.size();
    }

    /**
     * Records a request for the retry budget. The budget is kept in hundredths of a retry: every request earns
     * {@code budgetPercent} of them, a retry costs 100, and at most 10 retries' worth is ever banked (which is also
     * the starting reserve), so a burst of failures cannot turn into a storm of retries.
     */
    void earnRetryBudget() {
        retryTokens.updateAndGet(t -> Math.min(t + retries.budgetPercent(), 1_000));
    }

    /** Spends the budget for one retry; false when the budget is exhausted. */
    boolean spendRetryBudget() {
        while (true) {
            long t = retryTokens.get();
            if (t < 100) {
                return false;
            }
            if (retryTokens.compareAndSet(t, t - 100)) {
                retriesMade.increment();
                return true;
            }
        }
    }

    static {
        ApiAccess.setPools(new ApiAccess.Pools() {
            @Override
            public Optional<UpstreamMember> select(UpstreamPool pool, Exchange exchange,
                    Collection<UpstreamMember> tried) {
                return pool.select(exchange, tried);
            }

            @Override
            public boolean mayEject(UpstreamPool pool) {
                return pool.mayEject();
            }

            @Override
            public void earnRetryBudget(UpstreamPool pool) {
                pool.earnRetryBudget();
            }

            @Override
            public boolean spendRetryBudget(UpstreamPool pool) {
                return pool.spendRetryBudget();
            }

            @Override
            public void rejected(UpstreamPool pool) {
                pool.rejected.increment();
            }

            @Override
            public void markInUse(UpstreamPool pool) {
                pool.inUse = true;
            }

            @Override
            public int adoptMembers(UpstreamPool pool, Collection<? extends UpstreamMember> live) {
                return UpstreamPool.adoptMembers(pool, live);
            }
        });
    }


    /** Whether {@code pool} may eject one more member. */
    private static boolean mayEject(UpstreamPool pool) {
        return pool.mayEject();
    }

    /** Counts one request toward the retry budget. */
    private static void earnRetryBudget(UpstreamPool pool) {
        pool.earnRetryBudget();
    }

    /** Counts a request refused because every available member was at its request limit. */
    private static void rejected(UpstreamPool pool) {
        pool.rejected.increment();
    }

    /** Takes one retry from the budget, if there is one. */
    private static boolean spendRetryBudget(UpstreamPool pool) {
        return pool.spendRetryBudget();
    }

    /**
     * A reconfiguration: each member of {@code pool} whose URL is that of one of {@code live} (members of the pools
     * in use) is replaced by that live member, which keeps its health, ejection, drain state, load and counters,
     * and takes the weight {@code pool} gives it. Call before {@code pool} serves. Returns how many were adopted.
     */
    private static int adoptMembers(UpstreamPool pool, Collection<? extends UpstreamMember> live) {
        java.util.Map<String, MemberState> byUrl = new java.util.HashMap<>();
        for (UpstreamMember m : live) {
            if (m instanceof MemberState) {
                byUrl.putIfAbsent(m.upstream().uri().toString(), (MemberState) m);
            }
        }
        int adopted = 0;
        for (int i = 0; i < pool.members.size(); i++) {
            MemberState fresh = pool.members.get(i);
            MemberState old = byUrl.get(fresh.upstream().uri().toString());
            if (old != null && old != fresh && !pool.members.contains(old)) {
                old.weight(fresh.upstream().weight());
                pool.members.set(i, old);
                adopted++;
            }
        }
        return adopted;
    }

    @Override
    public String toString() {
        return "UpstreamPool" + members;
    }
}
