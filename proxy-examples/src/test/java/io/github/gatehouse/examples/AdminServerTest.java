package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ExchangeEvent;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The admin listener through the wire: java.net.http against a running proxy with two origins and a cache. */
class AdminServerTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin b " + req.path()));

    private static final String TOKEN = "test-token-0123456789abcdef";
    private final HttpClient http = Clients.direct();
    private final BlockingQueue<ExchangeEvent> events = new LinkedBlockingQueue<>();
    private ProxyServer proxy;
    private AdminServer admin;

    private void start(ProxyServer.Builder builder, java.util.function.Consumer<AdminServer.Builder> adminConfig)
            throws Exception {
        proxy = builder.accessLog(AccessLog.off()).build().start();
        AdminServer.Builder ab = AdminServer.builder(proxy).port(0).token(TOKEN);
        adminConfig.accept(ab);
        admin = ab.build().start();
        proxy.addListener(events::add); // after the admin's own listeners: when this one has an event, they have it
    }

    private void startTwoMembers() throws Exception {
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl(), b.baseUrl())))
                .cache(HttpCaches.memory(DataSize.mebibytes(8))), x -> { });
    }

    @AfterEach
    void stop() {
        if (admin != null) {
            admin.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    private HttpResponse<String> admin(String method, String path, String token) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(admin.uri().resolve(path))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        return http.send(r.build(), BodyHandlers.ofString());
    }

    /** A request through the proxy; returns the body once the exchange's event was delivered. */
    private String viaProxy(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(proxy.uri().resolve(path)).build(), BodyHandlers.ofString());
        ExchangeEvent e = events.poll(10, TimeUnit.SECONDS);
        assertThat(e).as("event of " + path).isNotNull();
        return r.statusCode() + " " + r.body();
    }

    @Test
    void everyEndpointNeedsTheTokenAMissingOrWrongOneGets401WithABearerChallenge() throws Exception {
        startTwoMembers();
        for (String[] e : new String[][] {{"GET", "/"}, {"GET", "/metrics"}, {"GET", "/api/stats"}, {"GET", "/api/errors"},
            {"POST", "/api/purge?url=http://x/"}, {"POST", "/api/members/drain?member=" + a.baseUrl()},
            {"POST", "/api/reload"}, {"GET", "/nothing"}}) {
            for (String token : new String[] {null, "wrong-token-0123456789", TOKEN.substring(0, TOKEN.length() - 1)}) {
                HttpResponse<String> r = admin(e[0], e[1], token);
                assertThat(r.statusCode()).as(e[0] + " " + e[1] + " with " + token).isEqualTo(401);
                assertThat(r.headers().firstValue("www-authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
                assertThat(r.body()).contains("admin token required");
            }
        }
        assertThat(a.requestCount() + b.requestCount()).isZero();
        assertThat(admin("GET", "/api/stats", TOKEN).statusCode()).isEqualTo(200);
        assertThat(admin("GET", "/", TOKEN).statusCode()).isEqualTo(200);
        assertThat(admin("GET", "/nothing", TOKEN).statusCode()).isEqualTo(404);
        HttpResponse<String> wrongMethod = admin("GET", "/api/purge", TOKEN);
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.headers().firstValue("allow")).hasValue("POST");
        // the admin listener is its own port, not the proxy's
        assertThat(admin.port()).isNotEqualTo(proxy.port());
        assertThat(http.send(HttpRequest.newBuilder(proxy.uri().resolve("/api/stats")).header("Authorization", "Bearer " + TOKEN)
                .build(), BodyHandlers.ofString()).body()).startsWith("origin ");
    }

    @Test
    void aBrowserLogsInOnceWithACookieThatReadsButCannotChange() throws Exception {
        startTwoMembers();
        HttpResponse<String> login = admin("GET", "/login?token=" + TOKEN, null);
        assertThat(login.statusCode()).isEqualTo(303);
        String cookie = login.headers().firstValue("set-cookie").orElseThrow();
        assertThat(cookie).startsWith(AdminServer.COOKIE + "=" + TOKEN).containsIgnoringCase("HttpOnly")
                .containsIgnoringCase("SameSite=Strict");
        assertThat(admin("GET", "/login?token=nope", null).statusCode()).isEqualTo(401);
        String pair = cookie.substring(0, cookie.indexOf(';'));
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(admin.uri().resolve("/")).header("Cookie", pair).build(),
                BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("content-security-policy")).hasValue("default-src 'none'; style-src 'unsafe-inline'");
        assertThat(page.body()).contains("<meta http-equiv=\"refresh\" content=\"5\">").doesNotContain("<script");
        HttpResponse<String> drain = http.send(HttpRequest.newBuilder(admin.uri().resolve("/api/members/drain?member=" + a.baseUrl()))
                .header("Cookie", pair).POST(HttpRequest.BodyPublishers.noBody()).build(), BodyHandlers.ofString());
        assertThat(drain.statusCode()).isEqualTo(401);
    }

    @Test
    void drainingAMemberMovesTrafficToTheOtherAndUndrainingBringsItBack() throws Exception {
        startTwoMembers();
        List<String> before = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            before.add(viaProxy("/d" + i));
        }
        assertThat(before).anyMatch(s -> s.startsWith("200 origin a")).anyMatch(s -> s.startsWith("200 origin b"));

        HttpResponse<String> drain = admin("POST", "/api/members/drain?member=" + a.baseUrl(), TOKEN);
        assertThat(drain.statusCode()).isEqualTo(200);
        assertThat(drain.body()).contains("\"action\":\"drain\"").contains("\"routes\":[\"*/\"]");
        assertThat(admin("GET", "/api/stats", TOKEN).body())
                .contains("{\"url\":\"" + a.baseUrl() + "\",\"state\":\"drained\"")
                .contains("{\"url\":\"" + b.baseUrl() + "\",\"state\":\"up\"");
        for (int i = 0; i < 6; i++) {
            assertThat(viaProxy("/after" + i)).startsWith("200 origin b");
        }

        assertThat(admin("POST", "/api/members/undrain?member=" + a.baseUrl(), TOKEN).statusCode()).isEqualTo(200);
        List<String> again = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            again.add(viaProxy("/u" + i));
        }
        assertThat(again).anyMatch(s -> s.startsWith("200 origin a"));

        HttpResponse<String> unknown = admin("POST", "/api/members/drain?member=http://127.0.0.1:1", TOKEN);
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).contains("no pool has member http://127.0.0.1:1");
        assertThat(admin("POST", "/api/members/drain", TOKEN).statusCode()).isEqualTo(400);
    }

    @Test
    void aMembersWeightChangesAtRuntime() throws Exception {
        startTwoMembers();
        HttpResponse<String> w = admin("POST", "/api/members/weight?member=" + b.baseUrl() + "&weight=7", TOKEN);
        assertThat(w.statusCode()).isEqualTo(200);
        assertThat(w.body()).contains("\"weight\":7");
        assertThat(proxy.routes().get(0).pool().orElseThrow().stats().get(1).weight()).isEqualTo(7);
        assertThat(admin("GET", "/api/stats", TOKEN).body()).contains("{\"url\":\"" + b.baseUrl() + "\",\"state\":\"up\",\"weight\":7");
        for (String bad : new String[] {"0", "1001", "x"}) {
            HttpResponse<String> r = admin("POST", "/api/members/weight?member=" + b.baseUrl() + "&weight=" + bad, TOKEN);
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(r.body()).contains("expected: 1..1000");
        }
    }

    @Test
    void purgeByUrlPrefixAndTagMakesTheNextRequestAMiss() throws Exception {
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl()))).cache(HttpCaches.memory(DataSize.mebibytes(8))), x -> { });
        String cached = "/headers?Cache-Control=max-age%3D600&Surrogate-Key=t1";
        assertThat(viaProxy(cached)).isEqualTo("200 headers");
        assertThat(viaProxy(cached)).isEqualTo("200 headers");
        int origin = a.requestCount();
        assertThat(origin).isEqualTo(1);
        assertThat(admin("GET", "/api/stats", TOKEN).body()).contains("\"hits\":1,\"misses\":1");

        HttpResponse<String> purged = admin("POST", "/api/purge?url=" + java.net.URLEncoder.encode(proxy.uri() + cached,
                java.nio.charset.StandardCharsets.UTF_8), TOKEN);
        assertThat(purged.statusCode()).isEqualTo(200);
        assertThat(purged.body()).isEqualTo("{\"purged\":1,\"mode\":\"hard\"}");
        assertThat(viaProxy(cached)).isEqualTo("200 headers");
        assertThat(a.requestCount()).isEqualTo(2);

        assertThat(admin("POST", "/api/purge?tag=t1", TOKEN).body()).isEqualTo("{\"purged\":1,\"mode\":\"hard\"}");
        viaProxy(cached);
        assertThat(a.requestCount()).isEqualTo(3);
        assertThat(admin("POST", "/api/purge?prefix=" + proxy.uri() + "/head&mode=soft", TOKEN).body())
                .isEqualTo("{\"purged\":1,\"mode\":\"soft\"}");

        assertThat(admin("POST", "/api/purge", TOKEN).statusCode()).isEqualTo(400);
        assertThat(admin("POST", "/api/purge?url=x&tag=y", TOKEN).body()).contains("exactly one of");
        assertThat(admin("POST", "/api/purge?url=relative/path", TOKEN).statusCode()).isEqualTo(400);
        assertThat(admin("POST", "/api/purge?tag=t1&mode=gentle", TOKEN).statusCode()).isEqualTo(400);
    }

    @Test
    void purgeWithoutACacheIs501() throws Exception {
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl()))), x -> { });
        HttpResponse<String> r = admin("POST", "/api/purge?tag=x", TOKEN);
        assertThat(r.statusCode()).isEqualTo(501);
        assertThat(r.body()).contains("no purgeable cache");
    }

    @Test
    void metricsTextHasTheGatehouseMetersAfterTraffic() throws Exception {
        start(ProxyServer.builder().route(Route.host("127.0.0.1").to(UpstreamPool.of(a.baseUrl(), b.baseUrl())))
                .cache(HttpCaches.memory(DataSize.mebibytes(8)))
                .filter(x -> x.request().path().startsWith("/blocked") ? Verdict.deny("blocked path") : Verdict.proceed()),
                x -> { });
        viaProxy("/headers?Cache-Control=max-age%3D600");
        viaProxy("/headers?Cache-Control=max-age%3D600");
        viaProxy("/hello");
        viaProxy("/blocked/1");
        String text = admin("GET", "/metrics", TOKEN).body();
        assertThat(text)
                .contains("gatehouse_requests_seconds_count{method=\"GET\",outcome=\"ok\",route=\"127.0.0.1/\",status=\"2xx\"} 3")
                .contains("gatehouse_requests_seconds_count{method=\"GET\",outcome=\"denied\",route=\"127.0.0.1/\",status=\"4xx\"} 1")
                .contains("gatehouse_requests_seconds_bucket{method=\"GET\",outcome=\"ok\",route=\"127.0.0.1/\",status=\"2xx\",le=")
                .contains("gatehouse_upstream_latency_seconds_count{member=\"" + a.baseUrl() + "\",route=\"127.0.0.1/\"} 1")
                .contains("gatehouse_upstream_latency_seconds_count{member=\"" + b.baseUrl() + "\",route=\"127.0.0.1/\"} 1")
                .contains("gatehouse_exchanges_active 0.0").contains("gatehouse_connections_open ").contains("gatehouse_tunnels_open 0.0")
                .contains("gatehouse_bytes_out_bytes_total{route=\"127.0.0.1/\"}")
                .contains("gatehouse_cache_hits_total 1.0").contains("gatehouse_cache_misses_total 2.0")
                .contains("gatehouse_cache_entries 2.0") // the /headers response, and /hello (heuristically fresh)
                .contains("gatehouse_cache_stored_bytes_total 12.0")
                .contains("gatehouse_upstream_available{member=\"" + a.baseUrl() + "\",route=\"127.0.0.1/\"} 1.0")
                .contains("gatehouse_upstream_weight{member=\"" + b.baseUrl() + "\",route=\"127.0.0.1/\"} 1.0")
                .contains("gatehouse_upstream_errors_total{member=\"" + a.baseUrl() + "\",route=\"127.0.0.1/\"} 0.0")
                .contains("gatehouse_pool_retry_budget{route=\"127.0.0.1/\"} 10.0")
                .contains("gatehouse_pool_retries_total{route=\"127.0.0.1/\"} 0.0")
                .contains("gatehouse_pool_circuit_rejections_total{route=\"127.0.0.1/\"} 0.0")
                .contains("gatehouse_filter_denials_total{filter=\"AdminServerTest\"} 1.0")
                .doesNotContain("/blocked/1").doesNotContain("/hello");
        assertThat(admin("GET", "/metrics", TOKEN).headers().firstValue("content-type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("text/plain; version=0.0.4"));
    }

    @Test
    void recentErrorsListTheFailedExchangesNewestFirst() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of("http://127.0.0.1:" + dead)
                .retries(RetryPolicy.none()))), x -> x.recentErrors(2));
        assertThat(admin("GET", "/", TOKEN).body()).contains("none since the admin listener started");
        for (int i = 1; i <= 3; i++) {
            assertThat(viaProxy("/broken" + i)).startsWith("502 ");
        }
        String errors = admin("GET", "/api/errors", TOKEN).body();
        assertThat(errors).startsWith("{\"errors\":[{").contains("/broken3\"").contains("/broken2\"")
                .doesNotContain("/broken1").contains("\"status\":502").contains("\"outcome\":\"connection_refused\"");
        assertThat(errors.indexOf("/broken3")).isLessThan(errors.indexOf("/broken2"));
        assertThat(admin("GET", "/api/errors?limit=1", TOKEN).body()).contains("/broken3").doesNotContain("/broken2");
        assertThat(admin("GET", "/", TOKEN).body()).contains("<table id=\"errors\">").contains("/broken3</td>")
                .contains("connection_refused");
        assertThat(admin("GET", "/api/stats", TOKEN).body()).contains("\"errors\":3").contains("\"5xx\":3");
    }

    @Test
    void reloadIs501WithoutAnActionAndRunsTheOneGiven() throws Exception {
        startTwoMembers();
        HttpResponse<String> none = admin("POST", "/api/reload", TOKEN);
        assertThat(none.statusCode()).isEqualTo(501);
        admin.close();
        proxy.close();
        List<String> calls = new ArrayList<>();
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl()))), x -> x.onReload(() -> {
            calls.add("reload");
            if (calls.size() == 2) {
                throw new IllegalArgumentException("gatehouse.yaml:3: key 'port': 'x' is not a number");
            }
            return "2 routes";
        }));
        HttpResponse<String> ok = admin("POST", "/api/reload", TOKEN);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("{\"reloaded\":true,\"result\":\"2 routes\"}");
        HttpResponse<String> bad = admin("POST", "/api/reload", TOKEN);
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("nothing changed").contains("gatehouse.yaml:3");
        assertThat(admin("GET", "/api/reload", TOKEN).statusCode()).isEqualTo(405);
    }

    @Test
    void clientsOutsideTheAllowedCidrsGet403EvenWithTheToken() throws Exception {
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl()))), x -> x.allow("10.0.0.0/8"));
        HttpResponse<String> r = admin("GET", "/api/stats", TOKEN);
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.body()).contains("127.0.0.1 is not allowed");
        admin.close();
        proxy.close();
        start(ProxyServer.builder().route(Route.any().to(UpstreamPool.of(a.baseUrl()))), x -> x.allow("10.0.0.0/8").allow("127.0.0.0/8"));
        assertThat(admin("GET", "/api/stats", TOKEN).statusCode()).isEqualTo(200);
        assertThat(admin("GET", "/api/stats", null).statusCode()).isEqualTo(401);
    }

    @Test
    void badBuilderArgumentsAreNamed() throws Exception {
        startTwoMembers();
        assertThatThrownBy(() -> AdminServer.builder(proxy).token("short")).hasMessageContaining("at least 16");
        assertThatThrownBy(() -> AdminServer.builder(proxy).port(70000)).hasMessageContaining("0..65535");
        assertThatThrownBy(() -> AdminServer.builder(proxy).allow("300.1.1.1/8")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AdminServer.builder(proxy).port(proxy.port()).build().start())
                .hasMessageContaining("is the proxy's own port");
        AdminServer generated = AdminServer.builder(proxy).port(0).build();
        assertThat(generated.isTokenGenerated()).isTrue();
        assertThat(generated.token()).hasSize(43).matches("[A-Za-z0-9_-]+");
        assertThat(AdminServer.builder(proxy).build().token()).isNotEqualTo(generated.token());
        URI u = admin.uri();
        assertThat(u.getHost()).isEqualTo("127.0.0.1");
    }

    /** The README's "Metrics" and "Admin page" code, run (ports 0 instead of 8080 and 9090). */
    @Test
    void readmeExamplesRun() throws Exception {
        ProxyServer proxy = ProxyServer.builder().listen(0)
                .route(Route.any().to(UpstreamPool.of(a.baseUrl(), b.baseUrl())))
                .build().start();
        io.micrometer.core.instrument.MeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        io.github.gatehouse.core.metrics.GatehouseMetrics.bindTo(registry, proxy);
        AdminServer admin = AdminServer.builder(proxy)
                .port(0)
                .token(TOKEN)
                .allow("127.0.0.0/8")
                .build().start();
        try {
            assertThat(registry.get("gatehouse.upstream.available").tag("member", a.baseUrl()).gauge().value()).isEqualTo(1.0);
            assertThat(http.send(HttpRequest.newBuilder(admin.uri().resolve("/api/stats")).header("Authorization", "Bearer " + TOKEN)
                    .build(), BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        } finally {
            admin.close();
            proxy.close();
        }
    }
}
