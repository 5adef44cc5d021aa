package io.github.gatehouse.core.metrics;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.AuthCounters;
import io.github.gatehouse.core.Authenticator;
import io.github.gatehouse.core.CacheCounters;
import io.github.gatehouse.core.ExchangeEvent;
import io.github.gatehouse.core.ExchangeListener;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Publishes a {@link ProxyServer}'s metrics to a Micrometer {@link MeterRegistry}.
 *
 * <pre>{@code
 * ProxyServer proxy = ProxyServer.builder()...build();
 * GatehouseMetrics.bindTo(registry, proxy);     // before or after start()
 * }</pre>
 *
 * <p>Meters (names in Micrometer's dotted form; Prometheus shows {@code gatehouse_requests_seconds} and so on). Every
 * tag value comes from a small, fixed set: a route's {@linkplain Route#label() label}, a member's configured URL, a
 * method class, a status class, an outcome kind, a filter's {@linkplain ProxyFilter#name() name}. Never a request URL
 * or a user name.
 * <ul>
 *   <li>{@code gatehouse.requests} (timer with a percentile histogram): each finished exchange, tagged {@code route},
 *   {@code method} ({@link ExchangeEvent#methodClass()}), {@code status} ({@code 2xx}...) and {@code outcome}
 *   ({@code ok}, {@code denied}, {@code aborted}, {@code answered} or the RFC 9209 error type of a proxy error);</li>
 *   <li>{@code gatehouse.upstream.latency} (timer with a percentile histogram): time to the response head, for each
 *   {@code route} and {@code member};</li>
 *   <li>{@code gatehouse.exchanges.active}, {@code gatehouse.connections.open}, {@code gatehouse.tunnels.open}
 *   (gauges);</li>
 *   <li>{@code gatehouse.bytes.in}, {@code gatehouse.bytes.out} (counters, bytes): body bytes from and to clients, by
 *   {@code route};</li>
 *   <li>with a cache that reports {@link HttpCache#counters()}: {@code gatehouse.cache.hits}, {@code .misses},
 *   {@code .stale}, {@code .revalidations}, {@code .evictions}, {@code gatehouse.cache.stored} (bytes committed) as
 *   counters, {@code gatehouse.cache.entries} and {@code gatehouse.cache.size} (bytes) as gauges;</li>
 *   <li>for each reverse route's pool: {@code gatehouse.upstream.available} (1 when healthy, not ejected, not
 *   draining), {@code gatehouse.upstream.active}, {@code gatehouse.upstream.weight} (gauges) and
 *   {@code gatehouse.upstream.errors}, {@code gatehouse.upstream.ejections} (counters) per {@code member};
 *   {@code gatehouse.pool.retries}, {@code gatehouse.pool.circuit.rejections} (counters) and
 *   {@code gatehouse.pool.retry.budget} (gauge, retries left) per {@code route};</li>
 *   <li>with an authenticator that reports {@link Authenticator#counters()}: {@code gatehouse.auth.successes},
 *   {@code gatehouse.auth.failures}, {@code gatehouse.auth.lockouts};</li>
 *   <li>{@code gatehouse.filter.denials} (counter) by {@code filter}: requests a request filter refused.</li>
 * </ul>
 * Pool members are registered when bound: a member added later with {@link UpstreamPool#add} has request and latency
 * meters, but no gauges of its own until bound again.
 *
 * <p><b>Cost.</b> The per-exchange meters are fed by an {@link ExchangeListener}: one timer update and two counter
 * increments per exchange, plus one for the upstream latency. Everything else is read when the registry is scraped.
 *
 * <p><b>Threading.</b> Thread-safe. {@link #close()} stops the per-exchange meters (the listener is removed); the
 * meters stay registered until the registry removes them.
 */
public final class GatehouseMetrics implements MeterBinder, AutoCloseable {
    private final ProxyServer server;
    private volatile AutoCloseable registration;

    /** A binding for {@code server}; call {@link #bindTo(MeterRegistry)} to publish. */
    public GatehouseMetrics(ProxyServer server) {
        this.server = requireNonNull(server, "server");
    }

    /** Binds {@code server}'s meters to {@code registry} and returns the binding (close it to stop counting). */
    public static GatehouseMetrics bindTo(MeterRegistry registry, ProxyServer server) {
        GatehouseMetrics metrics = new GatehouseMetrics(server);
        metrics.bindTo(registry);
        return metrics;
    }

    @Override
    public synchronized void bindTo(MeterRegistry registry) {
        requireNonNull(registry, "registry");
        if (registration != null) {
            throw new IllegalStateException("GatehouseMetrics for " + server + " is already bound");
        }
        ProxyServer s = server;
        Gauge.builder("gatehouse.exchanges.active", s, ProxyServer::activeExchanges)
                .description("exchanges started and not yet completed").register(registry);
        Gauge.builder("gatehouse.connections.open", s, ProxyServer::openConnections)
                .description("client connections open on the proxy's listeners").register(registry);
        Gauge.builder("gatehouse.tunnels.open", s, ProxyServer::openTunnels)
                .description("CONNECT tunnels open").register(registry);

        s.cache().ifPresent(cache -> bindCache(registry, cache));
        s.authenticator().ifPresent(auth -> bindAuth(registry, auth));
        for (Route route : s.routes()) {
            route.pool().ifPresent(pool -> bindPool(registry, route.label(), pool));
        }
        Recorder recorder = new Recorder(registry);
        for (ProxyFilter f : s.filters()) {
            recorder.denials(f.name()); // present at 0 from the start
        }
        registration = s.addListener(recorder);
    }

    private static void bindCache(MeterRegistry registry, HttpCache cache) {
        if (cache.counters().isEmpty()) {
            return;
        }
        cacheCounter(registry, cache, "gatehouse.cache.hits", "responses served from the cache", CacheCounters::hits);
        cacheCounter(registry, cache, "gatehouse.cache.misses", "lookups that went upstream without a usable entry",
                CacheCounters::misses);
        cacheCounter(registry, cache, "gatehouse.cache.stale", "stale responses served", CacheCounters::stale);
        cacheCounter(registry, cache, "gatehouse.cache.revalidations", "conditional requests sent upstream",
                CacheCounters::revalidations);
        cacheCounter(registry, cache, "gatehouse.cache.evictions", "entries dropped to stay within capacity",
                CacheCounters::evictions);
        FunctionCounter.builder("gatehouse.cache.stored", cache, c -> cacheValue(c, CacheCounters::bytesStored))
                .baseUnit("bytes").description("body bytes committed to the cache").register(registry);
        Gauge.builder("gatehouse.cache.entries", cache, c -> cacheValue(c, CacheCounters::entries))
                .description("entries stored").register(registry);
        Gauge.builder("gatehouse.cache.size", cache, c -> cacheValue(c, CacheCounters::sizeBytes))
                .baseUnit("bytes").description("bytes stored").register(registry);
    }

    private static void cacheCounter(MeterRegistry registry, HttpCache cache, String name, String description,
            ToLongFunction<CacheCounters> value) {
        FunctionCounter.builder(name, cache, c -> cacheValue(c, value)).description(description).register(registry);
    }

    private static double cacheValue(HttpCache cache, ToLongFunction<CacheCounters> value) {
        Optional<CacheCounters> c = cache.counters();
        return c.isPresent() ? value.applyAsLong(c.get()) : Double.NaN;
    }

    private static void bindAuth(MeterRegistry registry, Authenticator auth) {
        if (auth.counters().isEmpty()) {
            return;
        }
        authCounter(registry, auth, "gatehouse.auth.successes", "credentials accepted", AuthCounters::successes);
        authCounter(registry, auth, "gatehouse.auth.failures", "credentials refused", AuthCounters::failures);
        authCounter(registry, auth, "gatehouse.auth.lockouts", "clients or users locked out", AuthCounters::lockouts);
    }

    private static void authCounter(MeterRegistry registry, Authenticator auth, String name, String description,
            ToLongFunction<AuthCounters> value) {
        FunctionCounter.builder(name, auth, a -> a.counters().map(value::applyAsLong).orElse(0L).doubleValue())
                .description(description).register(registry);
    }

    private static void bindPool(MeterRegistry registry, String route, UpstreamPool pool) {
        Tags routeTag = Tags.of("route", route);
        FunctionCounter.builder("gatehouse.pool.retries", pool, p -> p.counters().retries()).tags(routeTag)
                .description("retries made on another member").register(registry);
        FunctionCounter.builder("gatehouse.pool.circuit.rejections", pool,
                p -> p.counters().circuitBreakerRejections()).tags(routeTag)
                .description("requests refused because every available member was at its request limit")
                .register(registry);
        Gauge.builder("gatehouse.pool.retry.budget", pool, p -> p.counters().retryBudgetLeft()).tags(routeTag)
                .description("retries the retry budget allows now").register(registry);
        for (UpstreamMember m : pool.members()) {
            Tags tags = routeTag.and("member", m.upstream().uri().toString());
            memberGauge(registry, "gatehouse.upstream.available", m, tags,
                    "1 when healthy, not ejected and not draining", x -> x.isAvailable() ? 1 : 0);
            memberGauge(registry, "gatehouse.upstream.active", m, tags, "requests in flight", UpstreamMember::activeRequests);
            memberGauge(registry, "gatehouse.upstream.weight", m, tags, "current weight", UpstreamMember::weight);
            FunctionCounter.builder("gatehouse.upstream.errors", m, x -> x.stats().errors()).tags(tags)
                    .description("failed requests (connect failure, reset, timeout, 5xx)").register(registry);
            FunctionCounter.builder("gatehouse.upstream.ejections", m, x -> x.stats().ejections()).tags(tags)
                    .description("times outlier detection ejected the member").register(registry);
        }
    }

    private static void memberGauge(MeterRegistry registry, String name, UpstreamMember m, Tags tags,
            String description, ToDoubleFunction<UpstreamMember> value) {
        Gauge.builder(name, m, value).tags(tags).description(description).register(registry);
    }

    /** Stops the per-exchange meters. Idempotent. */
    @Override
    public synchronized void close() {
        AutoCloseable r = registration;
        if (r != null) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** The per-exchange meters, fed by exchange events. */
    private static final class Recorder implements ExchangeListener {
        private final MeterRegistry registry;
        private final Map<RequestKey, Timer> requests = new ConcurrentHashMap<>();
        private final Map<String, Counter[]> bytes = new ConcurrentHashMap<>();
        private final Map<MemberKey, Timer> upstream = new ConcurrentHashMap<>();
        private final Map<String, Counter> denials = new ConcurrentHashMap<>();

        Recorder(MeterRegistry registry) {
            this.registry = registry;
        }

        @Override
        public void exchangeCompleted(ExchangeEvent e) {
            String route = e.route();
            requests.computeIfAbsent(new RequestKey(route, e.methodClass(), e.statusClass(), e.outcome()),
                    k -> Timer.builder("gatehouse.requests")
                            .tags("route", k.route, "method", k.method, "status", k.status, "outcome", k.outcome)
                            .description("finished exchanges").publishPercentileHistogram().register(registry))
                    .record(e.duration());
            Counter[] io = bytes.computeIfAbsent(route, r -> new Counter[] {
                Counter.builder("gatehouse.bytes.in").tags("route", r).baseUnit("bytes")
                        .description("body bytes read from clients").register(registry),
                Counter.builder("gatehouse.bytes.out").tags("route", r).baseUnit("bytes")
                        .description("body bytes written to clients").register(registry)});
            if (e.bytesIn() > 0) {
                io[0].increment(e.bytesIn());
            }
            if (e.bytesOut() > 0) {
                io[1].increment(e.bytesOut());
            }
            if (e.member() != null && e.upstreamLatency() != null) {
                upstream.computeIfAbsent(new MemberKey(route, e.member()),
                        k -> Timer.builder("gatehouse.upstream.latency").tags("route", k.route, "member", k.member)
                                .description("time from sending a request upstream to its response head")
                                .publishPercentileHistogram().register(registry))
                        .record(e.upstreamLatency());
            }
            if (e.deniedBy() != null) {
                denials(e.deniedBy()).increment();
            }
        }

        Counter denials(String filter) {
            return denials.computeIfAbsent(filter, f -> Counter.builder("gatehouse.filter.denials").tags("filter", f)
                    .description("requests a request filter refused").register(registry));
        }

        private record RequestKey(String route, String method, String status, String outcome) {
        }

        private record MemberKey(String route, String member) {
        }
    }
}
