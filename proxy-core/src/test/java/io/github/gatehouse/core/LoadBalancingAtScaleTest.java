package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.internal.MemberState;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Upstream pools through the wire, with three real origins. */
class LoadBalancingAtScaleTest {
    final MockOrigin a = MockOrigin.named("a").dispatcher(req -> answer("a", req));
    final MockOrigin b = MockOrigin.named("b").dispatcher(req -> answer("b", req));
    final MockOrigin c = MockOrigin.named("c").dispatcher(req -> answer("c", req));
    final HttpClient client = Clients.direct();

    /** Uploads answer how many bytes came; anything else names the origin and the path. */
    private static MockResponse answer(String name, RecordedRequest request) {
        return request.path().equals("/upload") ? MockResponse.ok("bytes=" + request.bodySize())
                : MockResponse.ok("origin " + name + " " + request.path());
    }

    /** From now on {@code origin} answers every request with a 503, whatever its path. */
    private static void answerEverythingWith503(MockOrigin origin) {
        origin.dispatcher(req -> MockResponse.status(503).header("Content-Type", "text/plain;charset=utf-8")
                .body("forced 503 from " + origin));
    }

    @BeforeEach
    void start() throws Exception {
        a.start();
        b.start();
        c.start();
    }

    @AfterEach
    void stop() throws Exception {
        a.close();
        b.close();
        c.close();
    }

    private UpstreamPool pool() {
        return UpstreamPool.of(a.baseUrl(), b.baseUrl(), c.baseUrl());
    }

    private Map<String, Integer> spread(ProxyServer proxy, int n) throws Exception {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/x")).build(), BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            counts.merge(r.body().split(" ")[1], 1, Integer::sum);
        }
        return counts;
    }

    /** Completes once {@code member}'s active health state becomes {@code healthy} (the health checker's event). */
    private static CompletableFuture<Void> healthBecomes(UpstreamMember member, boolean healthy) {
        CompletableFuture<Void> reached = new CompletableFuture<>();
        ((MemberState) member).watchHealth(() -> {
            if (member.isHealthy() == healthy) {
                reached.complete(null);
            }
        });
        if (member.isHealthy() == healthy) {
            reached.complete(null);
        }
        return reached;
    }

    @Test
    void randomAndLeastRequestsSpreadWithinTolerance() throws Exception {
        for (LoadBalancer lb : List.of(LoadBalancing.random(), LoadBalancing.leastRequests())) {
            try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool().balance(lb))).build().start()) {
                Map<String, Integer> counts = spread(proxy, 300);
                assertThat(counts).as(lb.toString()).containsOnlyKeys("a", "b", "c");
                counts.values().forEach(n -> assertThat(n).as(lb + " " + counts).isBetween(60, 140));
            }
        }
    }

    @Test
    void weightedRoundRobinFollowsWeightsExactly() throws Exception {
        UpstreamPool pool = UpstreamPool.of(List.of(Upstream.of(a.baseUrl(), 3), Upstream.of(b.baseUrl(), 2), Upstream.of(c.baseUrl(), 1)));
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(spread(proxy, 60)).isEqualTo(Map.of("a", 30, "b", 20, "c", 10));
        }
    }

    @Test
    void hashByHeaderSticksOneKeyToOneMember() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder()
                .route(Route.any().to(pool().balance(LoadBalancing.hashByHeader("X-User")))).build().start()) {
            for (String user : List.of("alice", "bob", "carol", "dave")) {
                String first = null;
                for (int i = 0; i < 5; i++) {
                    String body = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/x")).header("X-User", user).build(),
                            BodyHandlers.ofString()).body();
                    first = first == null ? body : first;
                    assertThat(body).as(user).isEqualTo(first);
                }
            }
        }
    }

    @Test
    void killingAMemberMidLoadLosesNoIdempotentRequestAndEjectsIt() throws Exception {
        UpstreamPool pool = pool().retries(RetryPolicy.defaults().retries(2).budgetPercent(100))
                .outlierDetection(OutlierDetection.defaults().consecutiveFailures(2).baseEjection(Duration.ofSeconds(30)));
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).accessLog(log).build().start()) {
            AtomicInteger failures = new AtomicInteger();
            AtomicInteger done = new AtomicInteger();
            List<CompletableFuture<Void>> workers = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                workers.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < 60; i++) {
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/x")).build(),
                                    BodyHandlers.ofString());
                            if (r.statusCode() != 200) {
                                failures.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failures.incrementAndGet();
                        }
                        if (done.incrementAndGet() == 90) {
                            try {
                                b.close();
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }
                    }
                }));
            }
            CompletableFuture.allOf(workers.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);

            assertThat(failures.get()).isZero();
            UpstreamStats bStats = pool.stats().get(1);
            assertThat(bStats.ejected()).as(bStats.toString()).isTrue();
            assertThat(bStats.ejections()).isEqualTo(1);
            assertThat(pool.stats().get(0).requests() + pool.stats().get(2).requests()).isGreaterThan(200);
        }
    }

    @Test
    void activeHealthChecksTakeAMemberOutAndBringItBackInSlowStart() throws Exception {
        // weights of 100, so that a member in slow start can be seen below its weight (a weight of 1 never can)
        UpstreamPool pool = UpstreamPool.of(List.of(Upstream.of(a.baseUrl(), 100), Upstream.of(b.baseUrl(), 100),
                        Upstream.of(c.baseUrl(), 100)))
                .healthCheck(HealthCheck.get("/health").every(Duration.ofMillis(50)).timeout(Duration.ofMillis(500))
                .rise(1).fall(1)).slowStart(Duration.ofSeconds(30));
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            UpstreamMember memberC = pool.members().get(2);
            CompletableFuture<Void> down = healthBecomes(memberC, false);
            c.close();
            down.get(10, TimeUnit.SECONDS);
            assertThat(spread(proxy, 30)).containsOnlyKeys("a", "b");

            CompletableFuture<Void> up = healthBecomes(memberC, true);
            c.start();
            up.get(10, TimeUnit.SECONDS);
            // back in slow start: seconds into a 30 s ramp, well below its weight of 100, yet in the rotation
            assertThat(memberC.weight()).isEqualTo(100);
            assertThat(memberC.effectiveWeight()).isBetween(1, 50);
            assertThat(memberC.stats().healthy()).isTrue();
        }
    }

    @Test
    void slowStartRampsTheShareOfARecoveredMember() throws Exception {
        UpstreamPool pool = UpstreamPool.of(List.of(Upstream.of(a.baseUrl(), 100), Upstream.of(b.baseUrl(), 100)))
                .slowStart(Duration.ofMinutes(10));
        pool.add(Upstream.of(c.baseUrl(), 100));
        UpstreamMember joined = pool.members().get(2);
        assertThat(joined.effectiveWeight()).isLessThan(5);
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            Map<String, Integer> counts = spread(proxy, 100);
            assertThat(counts.getOrDefault("c", 0)).isLessThan(10);
        }
    }

    @Test
    void retriesRespectTheBudget() throws Exception {
        answerEverythingWith503(a);
        answerEverythingWith503(b);
        answerEverythingWith503(c);
        UpstreamPool pool = pool().retries(RetryPolicy.defaults().retries(2).budgetPercent(10).retryOnStatus(503))
                .outlierDetection(OutlierDetection.off());
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            int n = 100;
            for (int i = 0; i < n; i++) {
                assertThat(client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/x")).build(), BodyHandlers.ofString())
                        .statusCode()).isEqualTo(503);
            }
            int upstreamRequests = a.requestCount() + b.requestCount() + c.requestCount();
            // 100 first tries, a reserve of 10 retries, and 10% of 100 requests earned: at most ~20 retries
            assertThat(upstreamRequests - n).isBetween(1, 21);
        }
    }

    @Test
    void aNonReplayablePostIsNotRetriedButAnIdempotentOneIs() throws Exception {
        answerEverythingWith503(a);
        UpstreamPool pool = UpstreamPool.of(a.baseUrl(), b.baseUrl()).balance((candidates, e) -> candidates.get(0))
                .outlierDetection(OutlierDetection.off()).retries(RetryPolicy.defaults().retryOnStatus(503));
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).accessLog(log).build().start()) {
            HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/upload"))
                    .POST(HttpRequest.BodyPublishers.ofString("order=1")).build(), BodyHandlers.ofString());
            assertThat(post.statusCode()).isEqualTo(503);
            assertThat(b.requestCount()).isZero();
            assertThat(log.take().tries()).isEqualTo(1);

            HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/upload"))
                    .PUT(HttpRequest.BodyPublishers.ofString("order=1")).build(), BodyHandlers.ofString());
            assertThat(put.statusCode()).isEqualTo(200);
            assertThat(put.body()).isEqualTo("bytes=7");
            assertThat(log.take().tries()).isEqualTo(2);

            HttpResponse<String> keyed = client.send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/upload"))
                    .header("Idempotency-Key", "k1").POST(HttpRequest.BodyPublishers.ofString("order=2")).build(), BodyHandlers.ofString());
            assertThat(keyed.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void connectFailuresAreRetriedAndAllDownIs503() throws Exception {
        String cUrl = c.baseUrl();
        c.close();
        UpstreamPool pool = UpstreamPool.of(cUrl, a.baseUrl()).balance((candidates, e) -> candidates.get(0));
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(RawHttp.exchange(proxy.port(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
                    .bodyText()).isEqualTo("bytes=2");

            pool.drain(a.baseUrl());
            pool.drain(cUrl);
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertThat(reply.status()).isEqualTo(503);
            assertThat(reply.bodyText()).contains("no healthy upstream");
            assertThat(reply.headers().get("proxy-status")).contains("destination_unavailable");
        }
    }

    @Test
    void membersCanBeAddedRemovedAndReweightedAtRuntime() throws Exception {
        UpstreamPool pool = UpstreamPool.of(a.baseUrl());
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(spread(proxy, 4)).isEqualTo(Map.of("a", 4));
            pool.add(Upstream.of(b.baseUrl()));
            assertThat(spread(proxy, 4)).isEqualTo(Map.of("a", 2, "b", 2));
            pool.weight(b.baseUrl(), 3);
            assertThat(spread(proxy, 8)).isEqualTo(Map.of("a", 2, "b", 6));
            assertThat(pool.remove(a.baseUrl())).isTrue();
            assertThat(spread(proxy, 3)).isEqualTo(Map.of("b", 3));
            assertThat(pool.stats()).hasSize(1);
            assertThat(pool.stats().get(0).requests()).isEqualTo(2 + 6 + 3);
        }
    }

    @Test
    void stickySessionsKeepAClientOnItsMemberAndMoveItWhenTheMemberGoes() throws Exception {
        UpstreamPool pool = pool();
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool).stickySessions("GH_STICKY")).build().start()) {
            RawHttp.Reply first = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            String setCookie = first.headers().get("set-cookie");
            assertThat(setCookie).startsWith("GH_STICKY=").contains("HttpOnly").doesNotContain("127.0.0.1");
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            String member = first.bodyText();
            for (int i = 0; i < 5; i++) {
                RawHttp.Reply again = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: x\r\nCookie: a=1; " + cookie
                        + "\r\nConnection: close\r\n\r\n");
                assertThat(again.bodyText()).isEqualTo(member);
                assertThat(again.headers()).doesNotContainKey("set-cookie");
            }
            String name = member.split(" ")[1];
            String url = name.equals("a") ? a.baseUrl() : name.equals("b") ? b.baseUrl() : c.baseUrl();
            pool.drain(url);
            RawHttp.Reply moved = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: x\r\nCookie: " + cookie
                    + "\r\nConnection: close\r\n\r\n");
            assertThat(moved.bodyText()).isNotEqualTo(member);
            assertThat(moved.headers().get("set-cookie")).startsWith("GH_STICKY=").isNotEqualTo(setCookie);
        }
    }

    @Test
    void circuitBreakerAnswers503WhenEveryMemberIsAtItsLimit() throws Exception {
        UpstreamPool pool = UpstreamPool.of(a.baseUrl()).maxRequestsPerMember(1);
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            CompletableFuture<Void> release = new CompletableFuture<>();
            a.enqueue(MockResponse.ok("released").holdUntil(release));
            CompletableFuture<HttpResponse<String>> hanging = client.sendAsync(
                    HttpRequest.newBuilder(URI.create(proxy.uri() + "/hang")).build(), BodyHandlers.ofString());
            a.takeRequest();
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertThat(reply.status()).isEqualTo(503);
            assertThat(reply.bodyText()).contains("request limit");
            release.complete(null);
            assertThat(hanging.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
    }
}
