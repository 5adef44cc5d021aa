package io.github.gatehouse.filter.internal;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import io.github.gatehouse.core.cluster.Cluster;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Token buckets shared by the instances of a {@link Cluster}: one bucket per key in the grid ({@code perSecond}, up to
 * {@code burst}), from which each instance leases a few tokens at a time into a local allowance. A request takes a
 * token from the local allowance without a network round trip; when the allowance runs low, a lease for more is
 * asked for in the background (an entry processor on the key's owner, which refills the bucket by its own clock).
 *
 * <p><b>Accuracy.</b> Over any interval the cluster admits at most what one bucket admits, plus, per instance that
 * sees the key, one token granted before its first lease answers and the unused part of its last two leases (at most
 * one and a half {@link #leaseSize}). The next lease is asked for when half an allowance is left, so that it is usually back before
 * the allowance runs out; a request that still finds its instance's allowance empty while a lease is in flight is
 * refused although the grid may have tokens: under a steady rate near the limit, or right after a join while the
 * grid is slow, the cluster may admit slightly less than the limit. When the grid does not answer within the cluster's operation timeout the instance falls back to a
 * local bucket with the full limit (the limit is then per instance, as without a cluster) until it answers again;
 * the change is logged once each way.
 *
 * <p><b>Threading.</b> Thread-safe; {@link #tryAcquire} never blocks.
 */
public final class SharedTokenBuckets implements KeyedLimiter {
    private static final Logger LOG = LoggerFactory.getLogger(SharedTokenBuckets.class);

    private final String what;
    private final double perSecond;
    private final int burst;
    private final Cluster cluster;
    private final IMap<String, double[]> buckets;
    private final TokenBuckets fallback;
    private final ConcurrentHashMap<String, Allowance> allowances = new ConcurrentHashMap<>();
    private final int maxKeys;
    private final long timeoutMillis;
    private final AtomicBoolean troubled = new AtomicBoolean();
    private final AtomicLong troubledSinceNanos = new AtomicLong();

    private static final class Allowance {
        double tokens = 1; // one optimistic token before the first lease answers
        boolean pending;
        Duration wait;
    }

    /** Shared buckets for keys of kind {@code what} ("client", "user"), named {@code name} in the grid. */
    public SharedTokenBuckets(Cluster cluster, String name, String what, double perSecond, int burst, int maxKeys,
            Clock clock) {
        this.what = what;
        this.perSecond = perSecond;
        this.burst = burst;
        this.cluster = cluster;
        this.maxKeys = maxKeys;
        this.buckets = io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster).getMap("gatehouse-limits-" + name + "-" + what);
        this.fallback = new TokenBuckets(what, perSecond, burst, maxKeys, clock);
        this.timeoutMillis = cluster.config().operationTimeout().toMillis();
    }

    /** Tokens an instance leases at a time: a share of the burst, so that several instances can hold some. */
    int leaseSize() {
        int members = Math.max(1, cluster.isRunning() ? cluster.members().size() : 1);
        return Math.max(1, burst / (4 * members));
    }

    @Override
    public Duration tryAcquire(String key) {
        if (troubled.get() && System.nanoTime() - troubledSinceNanos.get() < TimeUnit.SECONDS.toNanos(5)) {
            return fallback.tryAcquire(key);
        }
        Allowance a = allowances.get(key);
        if (a == null) {
            if (allowances.size() >= maxKeys) {
                allowances.clear(); // leased tokens are forgotten: at worst a refused request, never an extra one
            }
            a = allowances.computeIfAbsent(key, k -> new Allowance());
        }
        synchronized (a) {
            if (a.tokens >= 1) {
                a.tokens -= 1;
                // lease ahead, at half an allowance: the next lease is usually back before the allowance is empty
                if (a.tokens < Math.max(1, leaseSize() / 2.0) && !a.pending) {
                    lease(key, a);
                }
                return null;
            }
            if (!a.pending) {
                lease(key, a);
            }
            return a.wait != null ? a.wait : Duration.ofNanos((long) Math.ceil(1e9 / perSecond));
        }
    }

    private void lease(String key, Allowance a) {
        a.pending = true;
        int n = leaseSize();
        try {
            buckets.submitToKey(key, new Take(n, perSecond, burst)).toCompletableFuture().copy()
                    .orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).whenComplete((r, f) -> {
                        synchronized (a) {
                            a.pending = false;
                            if (f != null) {
                                trouble(f);
                                return;
                            }
                            fine();
                            long granted = r[0];
                            a.tokens += granted;
                            a.wait = granted > 0 ? null : Duration.ofMillis(Math.max(1, r[1]));
                        }
                    });
        } catch (RuntimeException e) {
            a.pending = false;
            trouble(e);
        }
    }

    private void trouble(Throwable f) {
        troubledSinceNanos.set(System.nanoTime());
        if (troubled.compareAndSet(false, true)) {
            LOG.warn("shared {} rate limit: the cluster did not answer ({}); limiting per instance until it does",
                    what, f.toString());
        }
    }

    private void fine() {
        if (troubled.compareAndSet(true, false)) {
            LOG.info("shared {} rate limit: the cluster answers again", what);
        }
    }

    /**
     * Refills the key's bucket by the owner's clock, takes up to {@code n} tokens; returns {granted, millis until the
     * next token}. The bucket expires once it would be full again, so idle keys leave the grid.
     */
    record Take(int n, double perSecond, int burst) implements EntryProcessor<String, double[], long[]> {
        @Override
        public long[] process(Map.Entry<String, double[]> entry) {
            long now = System.currentTimeMillis();
            double[] b = entry.getValue();
            double tokens = b == null ? burst : Math.min(burst, b[0] + (now - (long) b[1]) / 1000.0 * perSecond);
            long granted = (long) Math.min(n, Math.floor(tokens));
            tokens -= granted;
            long idleToFull = (long) Math.ceil((burst - tokens) / perSecond * 1000) + 1000;
            ((ExtendedMapEntry<String, double[]>) entry).setValue(new double[] {tokens, now}, idleToFull,
                    TimeUnit.MILLISECONDS);
            long wait = granted > 0 ? 0 : (long) Math.ceil((1 - tokens) / perSecond * 1000);
            return new long[] {granted, wait};
        }
    }
}
