package io.github.gatehouse.examples;

import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.OutlierDetection;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamStats;
import java.time.Duration;
import java.util.List;

/**
 * A load balancer in front of three similar servers: least outstanding requests, active health checks, passive
 * ejection of failing members, retries of idempotent requests on another member, and slow start for members that
 * come back. Prints each member's counters every 10 seconds; a member can be drained before maintenance with
 * {@code pool.drain(url)}.
 */
public final class LoadBalancerExample {
    private LoadBalancerExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        UpstreamPool pool = UpstreamPool.builder(List.of(
                        Upstream.of("http://127.0.0.1:9001", 2),
                        Upstream.of("http://127.0.0.1:9002"),
                        Upstream.of("http://127.0.0.1:9003")))
                .balance(LoadBalancing.leastRequests())
                .healthCheck(HealthCheck.get("/health").every(Duration.ofSeconds(5)).rise(2).fall(3))
                .outlierDetection(OutlierDetection.defaults().consecutiveFailures(5).baseEjection(Duration.ofSeconds(30)))
                .retries(RetryPolicy.defaults().retries(2).budgetPercent(20))
                .slowStart(Duration.ofSeconds(30))
                .maxRequestsPerMember(500)
                .build();
        try (ProxyServer proxy = ProxyServer.builder().listen(8080).route(Route.any().to(pool)).build().start()) {
            while (true) {
                Thread.sleep(10_000);
                for (UpstreamStats s : pool.stats()) {
                    System.out.printf("%s healthy=%s ejected=%s active=%d requests=%d errors=%d p99=%sms%n", s.upstream(),
                            s.healthy(), s.ejected(), s.activeRequests(), s.requests(), s.errors(), s.latencyP99().toMillis());
                }
            }
        }
    }
}
