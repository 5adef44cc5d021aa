package io.github.gatehouse.cache.metrics;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.cache.SharedTierStats;
import io.github.gatehouse.core.CachePeerStats;
import io.github.gatehouse.core.ProxyServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * Micrometer meters of a cache shared by several instances, beside {@link
 * io.github.gatehouse.core.metrics.GatehouseMetrics}' cache meters (which the launcher's {@code /metrics} shows too): the cluster's
 * members ({@code gatehouse.cluster.members}, a gauge) and where this instance's lookups were answered, as counters:
 * {@code gatehouse.cache.near.hits} (this instance's near tier), {@code gatehouse.cache.grid.hits} and
 * {@code .grid.misses} (grid reads), {@code gatehouse.cache.grid.writes}, {@code gatehouse.cache.grid.failures}
 * (grid operations that failed or timed out: the request went on without the grid) and
 * {@code gatehouse.cache.lease.waits} (misses that waited for another instance's fill). Bound only when the proxy's
 * cache is shared ({@code HttpCaches.Builder.cluster}); each scrape reads the proxy's current cache, so a reload
 * that swaps it is followed. With cache-peer routing ({@code CachePeers}), whether the cache is shared or not:
 * {@code gatehouse.cache.peer.members} (a gauge), and the counters {@code gatehouse.cache.peer.fetches},
 * {@code .peer.hits}, {@code .peer.fallbacks}, {@code .peer.served} and {@code .peer.refused} (see
 * {@code CachePeerStats}).
 *
 * <p><b>Threading.</b> The meters are read on the scraping thread; {@link #close} may be called from any thread.
 */
public final class SharedCacheMetrics implements AutoCloseable {
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();

    private SharedCacheMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /**
     * Binds the meters to {@code registry}: the shared tier's when {@code proxy}'s cache is shared, the cache peers'
     * when it routes to cache peers; else binds nothing. {@link #close} removes them again.
     */
    public static SharedCacheMetrics bindTo(MeterRegistry registry, ProxyServer proxy) {
        java.util.Objects.requireNonNull(registry, "registry");
        java.util.Objects.requireNonNull(proxy, "proxy");
        SharedCacheMetrics m = new SharedCacheMetrics(registry);
        if (proxy.cachePeers().isPresent()) {
            m.meters.add(Gauge.builder("gatehouse.cache.peer.members", proxy, p -> peer(p, s -> s.members().size()))
                    .description("instances the cache keys are spread over (CARP), this one included").register(registry));
            m.peerCounter(proxy, "gatehouse.cache.peer.fetches", "misses sent to their home instance",
                    CachePeerStats::peerFetches);
            m.peerCounter(proxy, "gatehouse.cache.peer.hits", "peer fetches the home answered from its cache",
                    CachePeerStats::peerHits);
            m.peerCounter(proxy, "gatehouse.cache.peer.fallbacks",
                    "peer fetches whose home failed, refused or timed out: sent to the origin", CachePeerStats::peerFallbacks);
            m.peerCounter(proxy, "gatehouse.cache.peer.served", "other instances' requests served as their key's home",
                    CachePeerStats::peerRequestsServed);
            m.peerCounter(proxy, "gatehouse.cache.peer.refused", "requests marked as a peer's that were not (403)",
                    CachePeerStats::peerRequestsRefused);
        }
        if (stats(proxy).isEmpty()) {
            return m;
        }
        m.meters.add(Gauge.builder("gatehouse.cluster.members", proxy, p -> value(p, s -> s.members().size()))
                .description("cluster members this instance sees, itself included").register(registry));
        m.counter(proxy, "gatehouse.cache.near.hits", "lookups this instance's near tier answered without a grid read",
                SharedTierStats::nearHits);
        m.counter(proxy, "gatehouse.cache.grid.hits", "lookups that read an entry from the grid", SharedTierStats::gridHits);
        m.counter(proxy, "gatehouse.cache.grid.misses", "lookups the grid had nothing for", SharedTierStats::gridMisses);
        m.counter(proxy, "gatehouse.cache.grid.writes", "entries written to the grid", SharedTierStats::gridWrites);
        m.counter(proxy, "gatehouse.cache.grid.failures", "grid operations that failed or timed out",
                SharedTierStats::gridFailures);
        m.counter(proxy, "gatehouse.cache.lease.waits", "misses that waited for another instance's fill",
                SharedTierStats::remoteWaits);
        return m;
    }

    private void counter(ProxyServer proxy, String name, String description, ToLongFunction<SharedTierStats> value) {
        meters.add(FunctionCounter.builder(name, proxy, p -> value(p, value)).description(description).register(registry));
    }

    private void peerCounter(ProxyServer proxy, String name, String description, ToLongFunction<CachePeerStats> value) {
        meters.add(FunctionCounter.builder(name, proxy, p -> peer(p, value)).description(description).register(registry));
    }

    private static double peer(ProxyServer proxy, ToLongFunction<CachePeerStats> value) {
        return proxy.cachePeers().map(c -> (double) value.applyAsLong(c.stats())).orElse(Double.NaN);
    }

    private static Optional<SharedTierStats> stats(ProxyServer proxy) {
        return proxy.cache().filter(c -> c instanceof SharedCache).flatMap(c -> ((SharedCache) c).sharedTier());
    }

    private static double value(ProxyServer proxy, ToLongFunction<SharedTierStats> value) {
        return stats(proxy).map(s -> (double) value.applyAsLong(s)).orElse(Double.NaN);
    }

    /** Removes the meters from the registry. Idempotent. */
    @Override
    public void close() {
        meters.forEach(registry::remove);
        meters.clear();
    }
}
