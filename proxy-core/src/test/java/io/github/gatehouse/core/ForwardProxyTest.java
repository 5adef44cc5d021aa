package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ForwardProxyTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("a")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .serve("/bytes", req -> {
                MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
            })
            .serve("/status", req -> {
                MockResponse status = MockResponse.status(Integer.parseInt(req.queryParameter("code").orElseThrow()));
                return req.queryParameter("etag").map(etag -> status.header("ETag", etag)).orElse(status);
            })
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .serve("/trailers", MockResponse.ok().header("Trailer", "X-Checksum").trailer("X-Checksum", "abc").chunks("part1-", "part2"))
            .serve("/truncate", req -> {
                long half = Long.parseLong(req.queryParameter("n").orElseThrow());
                return MockResponse.ok().generatedBody(2 * half).abortAfter(half);      // dies halfway
            })
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));

    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static ProxyServer proxy;
    static HttpClient client;

    @BeforeAll
    static void startProxy() {
        proxy = ProxyServer.builder().forward().allowAllInternalDestinations().via("gh-test").accessLog(accessLog)
                .upstreamTimeout(Duration.ofSeconds(1)).build().start();
        client = Clients.throughProxy(proxy.port());
    }

    @AfterAll
    static void stopProxy() {
        proxy.close();
    }

    @BeforeEach
    void clearLog() {
        accessLog.clear();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(origin.uri(path)).build(), BodyHandlers.ofString());
    }

    @Test
    void relaysAbsoluteFormGetAndAddsViaBothWays() throws Exception {
        HttpResponse<String> response = get("/hello");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello");
        assertThat(response.headers().firstValue("via")).hasValue("1.1 gh-test");
        RecordedRequest seen = origin.takeRequest();
        assertThat(seen.target()).isEqualTo("/hello");
        assertThat(seen.headers().get("Via")).isEqualTo("1.1 gh-test");
        assertThat(seen.headers().get("Host")).isEqualTo("127.0.0.1:" + origin.port());
    }

    @Test
    void relaysRequestBodiesBothFramings() throws Exception {
        HttpResponse<String> fixed = client.send(HttpRequest.newBuilder(origin.uri("/echo"))
                .POST(BodyPublishers.ofString("fixed body")).build(), BodyHandlers.ofString());
        assertThat(fixed.body()).isEqualTo("fixed body");

        HttpResponse<String> chunked = client.send(HttpRequest.newBuilder(origin.uri("/echo"))
                .POST(BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream("chunked body".getBytes())))
                .build(), BodyHandlers.ofString());
        assertThat(chunked.body()).isEqualTo("chunked body");
    }

    @Test
    void removesHopByHopAndConnectionListedHeadersAndProxyCredentials() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/headers?Connection=X-Upstream-Secret&X-Upstream-Secret=1&Keep-Alive=timeout%3D5 HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\n"
                + "Connection: close, X-Client-Secret\r\n"
                + "X-Client-Secret: s3cret\r\n"
                + "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                + "Proxy-Connection: keep-alive\r\n"
                + "Keep-Alive: 300\r\n"
                + "TE: trailers, deflate\r\n"
                + "X-End-To-End: kept\r\n\r\n");

        assertThat(reply.status()).isEqualTo(200);
        RecordedRequest seen = origin.takeRequest();
        assertThat(seen.headers().get("X-Client-Secret")).isNull();
        assertThat(seen.headers().get("Proxy-Authorization")).isNull();
        assertThat(seen.headers().get("Proxy-Connection")).isNull();
        assertThat(seen.headers().get("Keep-Alive")).isNull();
        assertThat(seen.headers().get("TE")).isEqualTo("trailers");
        assertThat(seen.headers().get("X-End-To-End")).isEqualTo("kept");
        assertThat(reply.headers()).doesNotContainKeys("x-upstream-secret", "keep-alive");
        assertThat(reply.headers().get("via")).isEqualTo("1.1 gh-test");
    }

    @Test
    void connectionCannotStripEndToEndSecurityFields() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl()
                + "/headers?Connection=Cache-Control%2C%20Set-Cookie&Cache-Control=private&Set-Cookie=a%3D1 HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nConnection: close, Cookie, Via\r\nCookie: c=1\r\n\r\n");

        assertThat(reply.headers().get("cache-control")).isEqualTo("private");
        assertThat(reply.headers().get("set-cookie")).isEqualTo("a=1");
        RecordedRequest seen = origin.takeRequest();
        assertThat(seen.headers().get("Cookie")).isEqualTo("c=1");
        assertThat(seen.headers().get("Via")).isEqualTo("1.1 gh-test");
    }

    @Test
    void originFormRequestToForwardProxyIs400() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(),
                "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\nConnection: close\r\n\r\n");

        assertThat(reply.status()).isEqualTo(400);
        assertThat(reply.bodyText()).contains("not a proxy request");
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void forwardingLoopIsDetectedByVia() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/hello HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nVia: 1.1 other, 1.1 gh-test\r\nConnection: close\r\n\r\n");

        assertThat(reply.status()).isEqualTo(508);
        assertThat(reply.bodyText()).contains("loop");
        assertThat(reply.headers().get("proxy-status")).contains("error=proxy_loop_detected");
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void maxForwardsZeroIsAnsweredByTheProxy() throws Exception {
        RawHttp.Reply options = RawHttp.exchange(proxy.port(), "OPTIONS " + origin.baseUrl() + "/x HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n");
        assertThat(options.status()).isEqualTo(200);
        assertThat(options.headers().get("allow")).contains("GET");

        RawHttp.Reply trace = RawHttp.exchange(proxy.port(), "TRACE " + origin.baseUrl() + "/x HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nMax-Forwards: 0\r\nCookie: secret=1\r\nConnection: close\r\n\r\n");
        assertThat(trace.status()).isEqualTo(200);
        assertThat(trace.headers().get("content-type")).isEqualTo("message/http");
        assertThat(trace.bodyText()).startsWith("TRACE ").doesNotContain("secret=1");
        assertThat(origin.requestCount()).isZero();

        RawHttp.Reply forwarded = RawHttp.exchange(proxy.port(), "OPTIONS " + origin.baseUrl() + "/x HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nMax-Forwards: 5\r\nConnection: close\r\n\r\n");
        assertThat(forwarded.status()).isEqualTo(200);
        assertThat(origin.takeRequest().headers().get("Max-Forwards")).isEqualTo("4");
    }

    @Test
    void refusedUpstreamIs502WithProxyStatus() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + closedPort + "/x")).build(),
                BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(response.body()).contains("connection refused");
        assertThat(response.headers().firstValue("proxy-status")).hasValueSatisfying(
                v -> assertThat(v).startsWith("gh-test").contains("error=connection_refused"));
        assertThat(accessLog.take(":" + closedPort + "/x").status()).isEqualTo(502);
    }

    @Test
    void silentUpstreamIs504() throws Exception {
        CompletableFuture<Void> never = new CompletableFuture<>();
        origin.enqueue(MockResponse.ok("released").holdUntil(never));
        HttpResponse<String> response = get("/hang");

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.body()).contains("no response within");
        assertThat(response.headers().firstValue("proxy-status")).hasValueSatisfying(
                v -> assertThat(v).contains("error=http_response_timeout"));
        never.complete(null);
    }

    @Test
    void upstreamDyingMidBodyIsNotACompleteResponse() throws Exception {
        assertThatThrownBy(() -> get("/truncate?n=100000")).isInstanceOf(IOException.class);

        RawHttp.Reply raw = RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/truncate?n=1000 HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nConnection: close\r\n\r\n");
        assertThat(raw.status()).isEqualTo(200);
        assertThat(Long.parseLong(raw.headers().get("content-length"))).isEqualTo(2000);
        assertThat(raw.body().length).isLessThan(2000);
    }

    @Test
    void headAndBodilessStatusesAndChunkedResponses() throws Exception {
        HttpResponse<String> head = client.send(HttpRequest.newBuilder(origin.uri("/bytes?n=5000"))
                .method("HEAD", BodyPublishers.noBody()).build(), BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("content-length")).hasValue("5000");
        assertThat(head.body()).isEmpty();

        assertThat(get("/status?code=204").statusCode()).isEqualTo(204);
        HttpResponse<String> notModified = get("/status?code=304&etag=%22v1%22");
        assertThat(notModified.statusCode()).isEqualTo(304);
        assertThat(notModified.headers().firstValue("etag")).hasValue("\"v1\"");

        HttpResponse<byte[]> chunked = client.send(HttpRequest.newBuilder(origin.uri("/bytes?n=300000&chunked=1")).build(),
                BodyHandlers.ofByteArray());
        assertThat(chunked.body()).hasSize(300_000);
    }

    @Test
    void trailersAreRelayedToClientsThatAcceptThem() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/trailers HTTP/1.1\r\n"
                + "Host: 127.0.0.1:" + origin.port() + "\r\nTE: trailers\r\nConnection: close\r\n\r\n");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.headers().get("transfer-encoding")).isEqualTo("chunked");
        assertThat(reply.bodyText()).contains("part1-").contains("part2").contains("X-Checksum: abc");
    }

    @Test
    void expectContinueUploadsReachTheOrigin() throws Exception {
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(origin.uri("/upload")).expectContinue(true)
                .POST(BodyPublishers.ofByteArray(new byte[100_000])).build(), BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("bytes=100000");
    }

    @Test
    void accessLogRecordsTheExchange() throws Exception {
        get("/hello");

        AccessLogEntry entry = accessLog.take("/hello");
        assertThat(entry.method()).isEqualTo("GET");
        assertThat(entry.target()).isEqualTo(origin.baseUrl() + "/hello");
        assertThat(entry.status()).isEqualTo(200);
        assertThat(entry.bytesOut()).isEqualTo(5);
        assertThat(entry.upstream()).isEqualTo("127.0.0.1:" + origin.port());
        assertThat(entry.clientAddress()).isEqualTo("127.0.0.1");
        assertThat(entry.completed()).isTrue();
    }

    @Test
    void tooManyHeaderFieldsGet431() throws Exception {
        StringBuilder sb = new StringBuilder("GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n");
        for (int i = 0; i < 150; i++) {
            sb.append("X-H").append(i).append(": v\r\n");
        }
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), sb.append("Connection: close\r\n\r\n").toString());

        assertThat(reply.status()).isEqualTo(431);
        assertThat(origin.requestCount()).isZero();
    }
}
