package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ReverseProxyTest {
    @RegisterExtension
    static final MockOrigin api = MockOrigin.named("api")
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin api " + req.path()));
    @RegisterExtension
    static final MockOrigin web = MockOrigin.named("web")
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin web " + req.path()));

    static ProxyServer proxy;
    static final HttpClient client = Clients.direct();

    @BeforeAll
    static void start() {
        proxy = ProxyServer.builder()
                .route(Route.host("shop.example").pathPrefix("/api").stripPrefix().to(UpstreamPool.of(api.baseUrl())))
                .route(Route.host("*.cdn.example").rewritePrefix("/static").upstreamHost().to(UpstreamPool.of(web.baseUrl())))
                .route(Route.host("fixed.example").hostHeader("internal.example").to(UpstreamPool.of(web.baseUrl() + "/base")))
                .route(Route.host("shop.example").to(UpstreamPool.of(web.baseUrl())))
                .trustedProxies("10.0.0.0/8")
                .build().start();
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    private RawHttp.Reply get(String host, String target, String... extraHeaders) throws Exception {
        StringBuilder sb = new StringBuilder("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n");
        for (String h : extraHeaders) {
            sb.append(h).append("\r\n");
        }
        return RawHttp.exchange(proxy.port(), sb.append("Connection: close\r\n\r\n").toString());
    }

    @Test
    void pathPrefixRouteStripsThePrefixAndPreservesHost() throws Exception {
        RawHttp.Reply reply = get("shop.example", "/api/orders?id=7");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.bodyText()).isEqualTo("origin api /orders");
        RecordedRequest seen = api.takeRequest();
        assertThat(seen.target()).isEqualTo("/orders?id=7");
        assertThat(seen.headers().get("Host")).isEqualTo("shop.example");
        assertThat(seen.headers().get("Via")).endsWith(proxy.viaName());
        assertThat(web.requestCount()).isZero();
    }

    @Test
    void prefixMatchesWholeSegmentsAndFirstMatchWins() throws Exception {
        assertThat(get("shop.example", "/apix").bodyText()).isEqualTo("origin web /apix");
        assertThat(get("SHOP.example.", "/api").bodyText()).isEqualTo("origin api /");
    }

    @Test
    void wildcardHostRouteRewritesPrefixAndHostHeader() throws Exception {
        RawHttp.Reply reply = get("img.cdn.example", "/logo.png");

        assertThat(reply.bodyText()).isEqualTo("origin web /static/logo.png");
        assertThat(web.takeRequest().headers().get("Host")).isEqualTo("127.0.0.1:" + web.port());
        assertThat(get("cdn.example", "/logo.png").status()).isEqualTo(404);
    }

    @Test
    void fixedHostHeaderAndUpstreamBasePath() throws Exception {
        RawHttp.Reply reply = get("fixed.example", "/page");

        assertThat(reply.bodyText()).isEqualTo("origin web /base/page");
        assertThat(web.takeRequest().headers().get("Host")).isEqualTo("internal.example");
    }

    @Test
    void unmatchedRequestIs404WithProxyStatus() throws Exception {
        RawHttp.Reply reply = get("other.example", "/");

        assertThat(reply.status()).isEqualTo(404);
        assertThat(reply.bodyText()).contains("no route for other.example/");
        assertThat(reply.headers().get("proxy-status")).contains("error=destination_not_found");
    }

    @Test
    void addsForwardedHeadersAndDropsSpoofedOnesFromUntrustedClients() throws Exception {
        get("shop.example", "/api/x", "X-Forwarded-For: 6.6.6.6", "Forwarded: for=6.6.6.6", "X-Forwarded-Host: evil.example");

        RecordedRequest seen = api.takeRequest();
        assertThat(seen.headers().get("X-Forwarded-For")).isEqualTo("127.0.0.1");
        assertThat(seen.headers().get("X-Forwarded-Proto")).isEqualTo("http");
        assertThat(seen.headers().get("X-Forwarded-Host")).isEqualTo("shop.example");
        assertThat(seen.headers().get("Forwarded")).isEqualTo("for=127.0.0.1;host=shop.example;proto=http");
    }

    @Test
    void keepsForwardedChainFromTrustedProxies() throws Exception {
        try (ProxyServer trusting = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(api.baseUrl()))).trustedProxies("127.0.0.0/8")
                .build().start()) {
            RawHttp.exchange(trusting.port(), "GET /x HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 192.0.2.1\r\n"
                    + "Forwarded: for=192.0.2.1\r\nConnection: close\r\n\r\n");

            RecordedRequest seen = api.takeRequest();
            assertThat(seen.headers().get("X-Forwarded-For")).isEqualTo("192.0.2.1, 127.0.0.1");
            assertThat(seen.headers().get("Forwarded")).isEqualTo("for=192.0.2.1, for=127.0.0.1;host=a.example;proto=http");
        }
    }

    @Test
    void reverseRouteStreamsUploads() throws Exception {
        try (ProxyServer any = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(api.baseUrl()))).build().start()) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(any.uri() + "/upload"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[3_000_000])).build(), BodyHandlers.ofString());

            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).isEqualTo("bytes=3000000");
        }
    }

    @Test
    void dotSegmentsCannotEscapeARoutePrefix() throws Exception {
        RawHttp.Reply reply = get("shop.example", "/api/../admin");

        assertThat(reply.status()).isEqualTo(400);
        assertThat(api.requestCount()).isZero();
    }

    @Test
    void upstreamDownIs502() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(UpstreamPool.of("http://127.0.0.1:" + closed))).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertThat(reply.status()).isEqualTo(502);
            assertThat(reply.bodyText()).contains("upstream 127.0.0.1:" + closed).contains("connection refused");
        }
    }
}
