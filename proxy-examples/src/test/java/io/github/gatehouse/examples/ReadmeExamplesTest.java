package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.OutlierDetection;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.filter.AccessConditions;
import io.github.gatehouse.filter.AccessRules;
import io.github.gatehouse.filter.BasicAuthenticator;
import io.github.gatehouse.filter.HostRules;
import io.github.gatehouse.filter.KeywordFilter;
import io.github.gatehouse.filter.RateLimits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's code, kept compiling and building (the servers are built but not started). */
class ReadmeExamplesTest {

    @Test
    void embeddingExample(@TempDir Path dir) {
        ProxyServer proxy = ProxyServer.builder()
                .listen(3128)
                .forward()
                .filter(exchange -> exchange.request().host().endsWith(".ads.example")
                        ? Verdict.deny("ads are blocked") : Verdict.proceed())
                .accessLog(AccessLog.squidNative(dir.resolve("access.log")))
                .build();
        assertThat(proxy.isRunning()).isFalse();
        proxy.close();
    }

    @Test
    void loadBalancingExample() {
        UpstreamPool pool = UpstreamPool.of(List.of(Upstream.of("http://10.0.0.1:8080", 2), Upstream.of("http://10.0.0.2:8080")))
                .balance(LoadBalancing.leastRequests())
                .healthCheck(HealthCheck.get("/health").every(Duration.ofSeconds(5)).rise(2).fall(3))
                .outlierDetection(OutlierDetection.defaults())
                .retries(RetryPolicy.defaults().retries(2))
                .slowStart(Duration.ofSeconds(30))
                .maxRequestsPerMember(500);
        pool.drain("http://10.0.0.2:8080");
        assertThat(pool.stats()).hasSize(2);
        assertThat(ProxyServer.builder().listen(8080).route(Route.any().to(pool).stickySessions("GH_STICKY")).build()).isNotNull();
    }

    @Test
    void cachingAndFilteringExamples(@TempDir Path dir) throws Exception {
        SharedCache cache = HttpCaches.builder()
                .memory(DataSize.mebibytes(256))
                .disk(dir.resolve("cache"), DataSize.gibibytes(10))
                .maxObjectSize(DataSize.mebibytes(64))
                .build();
        Path users = Files.writeString(dir.resolve("users.htpasswd"), "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
        Path blacklist = Files.writeString(dir.resolve("blacklist.txt"), "# none yet\n");
        ProxyServer lanProxy = ProxyServer.builder()
                .listen("0.0.0.0", 3128).forward()
                .authenticator(BasicAuthenticator.htpasswd(users))
                .filter(RateLimits.perUser(50))
                .filter(HostRules.denyFile(blacklist))
                .filter(AccessRules.builder()
                        .allow("staff", AccessConditions.group("staff", Set.of("alice", "bob")))
                        .deny("after hours", AccessConditions.time(Clock.systemDefaultZone(), LocalTime.of(19, 0), LocalTime.of(7, 0)))
                        .otherwiseAllow().build())
                .filter(KeywordFilter.blockPagesContaining("casino"))
                .cache(cache)
                .accessLog(AccessLog.squidNative(dir.resolve("access.log")))
                .build();
        lanProxy.close();
        assertThat(cache.stats().hits()).isZero();
    }
}
