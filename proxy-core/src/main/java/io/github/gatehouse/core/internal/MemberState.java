package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.OutlierDetection;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamStats;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/** The runtime state of one pool member: load, counters, latency samples, health, ejection, drain, slow start. */
public final class MemberState implements UpstreamMember {
    private static final int SAMPLES = 1024;

    private final Upstream upstream;
    private final LongSupplier nanoTime;
    private final Duration slowStart;
    private volatile int weight;
    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder requests = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final AtomicLong ejections = new AtomicLong();
    private final AtomicLongArray latencies = new AtomicLongArray(SAMPLES);
    private final AtomicLong samples = new AtomicLong();
    private volatile boolean healthy = true;
    private volatile boolean draining;
    private volatile long ejectedUntil;
    private volatile long availableSince;
    private final java.util.List<Runnable> healthWatchers = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final String id;

    public MemberState(Upstream upstream, Duration slowStart, LongSupplier nanoTime) {
        this.upstream = upstream;
        this.weight = upstream.weight();
        this.slowStart = slowStart;
        this.nanoTime = nanoTime;
        this.availableSince = nanoTime.getAsLong() - (slowStart == null ? 0 : slowStart.toNanos());
        this.id = com.google.common.hash.Hashing.sha256()
                .hashString(upstream.uri().toString(), java.nio.charset.StandardCharsets.UTF_8).toString().substring(0, 12);
    }

    /** An opaque, stable id for sticky-session cookies: does not reveal the member's address. */
    public String id() {
        return id;
    }

    @Override
    public Upstream upstream() {
        return upstream;
    }

    @Override
    public int weight() {
        return weight;
    }

    public void weight(int weight) {
        this.weight = weight;
    }

    @Override
    public int effectiveWeight() {
        int w = weight;
        if (slowStart == null || slowStart.isZero()) {
            return w;
        }
        long since = Math.max(availableSince, ejectedUntil);
        long elapsed = nanoTime.getAsLong() - since;
        long ramp = slowStart.toNanos();
        if (elapsed >= ramp) {
            return w;
        }
        return (int) Math.max(1, w * Math.max(0, elapsed) / ramp);
    }

    @Override
    public int activeRequests() {
        return active.get();
    }

    @Override
    public boolean isHealthy() {
        return healthy;
    }

    /** Sets the active health state; a member coming back up starts its slow start. */
    public void healthy(boolean up) {
        boolean changed = up != healthy;
        if (up && !healthy) {
            availableSince = nanoTime.getAsLong();
        }
        healthy = up;
        if (changed) {
            healthWatchers.forEach(Runnable::run);
        }
    }

    /**
     * Runs {@code watcher} after each change of the active health state, on the health checker's thread (it must
     * not block): lets a test await a transition instead of polling {@link #isHealthy()}. Not for library code.
     */
    public void watchHealth(Runnable watcher) {
        healthWatchers.add(java.util.Objects.requireNonNull(watcher, "watcher"));
    }

    @Override
    public boolean isEjected() {
        return ejectedUntil - nanoTime.getAsLong() > 0;
    }

    @Override
    public boolean isDraining() {
        return draining;
    }

    public void drain() {
        draining = true;
    }

    /** Ends a drain: the member takes new requests again. */
    public void undrain() {
        draining = false;
    }

    /** A request starts. */
    public void begin() {
        active.incrementAndGet();
        requests.increment();
    }

    /**
     * A request ended: {@code failed} for connect failures, resets, timeouts and 5xx answers; {@code headNanos} is
     * the time to the response head (negative when there was none). Returns whether this ejected the member.
     */
    public boolean end(boolean failed, long headNanos, OutlierDetection outliers, UpstreamPoolAccess pool) {
        active.decrementAndGet();
        if (headNanos >= 0) {
            latencies.set((int) (samples.getAndIncrement() % SAMPLES), headNanos);
        }
        if (!failed) {
            consecutiveFailures.set(0);
            return false;
        }
        errors.increment();
        if (consecutiveFailures.incrementAndGet() < outliers.consecutiveFailures() || isEjected()) {
            return false;
        }
        if (!pool.mayEject()) {
            return false;
        }
        long n = ejections.incrementAndGet();
        consecutiveFailures.set(0);
        ejectedUntil = nanoTime.getAsLong() + outliers.baseEjection().toNanos() * Math.min(n, 10);
        return true;
    }

    @Override
    public UpstreamStats stats() {
        long n = Math.min(samples.get(), SAMPLES);
        long[] sorted = new long[(int) n];
        for (int i = 0; i < n; i++) {
            sorted[i] = latencies.get(i);
        }
        Arrays.sort(sorted);
        Duration p50 = n == 0 ? Duration.ZERO : Duration.ofNanos(sorted[(int) Math.min(n - 1, n * 50 / 100)]);
        Duration p99 = n == 0 ? Duration.ZERO : Duration.ofNanos(sorted[(int) Math.min(n - 1, n * 99 / 100)]);
        return new UpstreamStats(upstream.uri().toString(), weight, healthy, isEjected(), draining, active.get(),
                requests.sum(), errors.sum(), ejections.get(), p50, p99);
    }

    @Override
    public String toString() {
        return upstream.uri().toString();
    }

    /** What a member needs to know of its pool. */
    public interface UpstreamPoolAccess {
        /** Whether one more member may be ejected without passing the pool's max ejection share. */
        boolean mayEject();
    }
}
