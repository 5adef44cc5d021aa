package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a pool's active health checks: every interval (plus up to 10% jitter, so checks of many proxies do not
 * align) it sends {@code GET path} to each member and applies the rise/fall thresholds. Members added at runtime
 * are picked up at the next round. Probes go with the pool's client: its protocol and TLS settings (and a PROXY header without addresses when the pool sends PROXY protocol). Stops when {@link #stop()} is called.
 */
final class HealthChecker {
    private static final Logger LOG = LoggerFactory.getLogger(HealthChecker.class);

    private final UpstreamPool pool;
    private final HealthCheck check;
    private final HttpClient client;
    private final org.eclipse.jetty.http.HttpVersion version;
    private final Scheduler scheduler;
    private final Map<UpstreamMember, int[]> streaks = new IdentityHashMap<>();
    private volatile boolean stopped;

    HealthChecker(UpstreamPool pool, HealthCheck check, HttpClient client, org.eclipse.jetty.http.HttpVersion version,
            Scheduler scheduler) {
        this.pool = pool;
        this.check = check;
        this.client = client;
        this.version = version;
        this.scheduler = scheduler;
    }

    void start() {
        scheduleNext(0);
    }

    void stop() {
        stopped = true;
    }

    private void scheduleNext(long delayMs) {
        if (stopped) {
            return;
        }
        scheduler.schedule(this::round, delayMs, TimeUnit.MILLISECONDS);
    }

    private void round() {
        if (stopped) {
            return;
        }
        for (UpstreamMember member : pool.members()) {
            probe(member);
        }
        long interval = check.interval().toMillis();
        scheduleNext(interval + ThreadLocalRandom.current().nextLong(Math.max(1, interval / 10)));
    }

    private void probe(UpstreamMember member) {
        String url = member.upstream().uri() + check.path();
        try {
            org.eclipse.jetty.client.Request probe = client.newRequest(url);
            pool.proxyProtocol().ifPresent(v -> probe.tag(ProxyProtocolHeaders.localTag(v))); // no client: LOCAL
            probe.method("GET")
                    .version(version)
                    .timeout(check.timeout().toMillis(), TimeUnit.MILLISECONDS)
                    .headers(h -> h.put("User-Agent", "gatehouse-health-check"))
                    .send(result -> record(member, result.isSucceeded() && check.isExpected(result.getResponse().getStatus()),
                            result.isSucceeded() ? "status " + result.getResponse().getStatus() : Failures.describe(result.getFailure())));
        } catch (RuntimeException e) {
            record(member, false, Failures.describe(e));
        }
    }

    private synchronized void record(UpstreamMember member, boolean ok, String detail) {
        if (stopped || !(member instanceof MemberState)) {
            return;
        }
        MemberState state = (MemberState) member;
        int[] streak = streaks.computeIfAbsent(member, m -> new int[2]); // [successes, failures]
        if (ok) {
            streak[0]++;
            streak[1] = 0;
            if (!state.isHealthy() && streak[0] >= check.rise()) {
                state.healthy(true);
                LOG.info("upstream {} is up again ({} consecutive successful health checks)", member, streak[0]);
            }
        } else {
            streak[1]++;
            streak[0] = 0;
            if (state.isHealthy() && streak[1] >= check.fall()) {
                state.healthy(false);
                LOG.warn("upstream {} is down: {} consecutive failed health checks, last: {}", member, streak[1], detail);
            }
        }
    }
}
