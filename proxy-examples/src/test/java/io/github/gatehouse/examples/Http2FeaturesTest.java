package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Tls;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.TestPki;
import io.github.gatehouse.filter.KeywordFilter;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The cache and a body filter behave over h2 (TLS, ALPN) as over HTTP/1.1: java.net.http as the client. */
class Http2FeaturesTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("h2-features")
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin h2-features " + req.path()));

    @TempDir
    static Path dir;

    static ProxyServer proxy;
    static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        TestPki pki = TestPki.create("Features CA");
        Path[] files = pki.issue("127.0.0.1").writePem(dir, "f", TestPki.KeyFormat.PKCS8);
        proxy = ProxyServer.builder()
                .listenTls(0, Tls.pem(files[0], files[1]))
                .route(Route.any().to(UpstreamPool.of(origin.baseUrl())))
                .cache(HttpCaches.memory(DataSize.mebibytes(16)))
                .filter(KeywordFilter.blockPagesContaining("casino"))
                .build().start();
        client = HttpClient.newBuilder().sslContext(pki.clientContext()).version(HttpClient.Version.HTTP_2)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(proxy.tlsUri().resolve(path)).timeout(Duration.ofSeconds(10)).build(),
                BodyHandlers.ofString());
    }

    @Test
    void aCacheableResponseIsServedFromTheCacheToTheNextH2Request() throws Exception {
        String path = "/headers?Cache-Control=max-age%3D60";
        HttpResponse<String> first = get(path);
        HttpResponse<String> second = get(path);
        assertThat(first.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(second.body()).isEqualTo(first.body()).isEqualTo("headers");
        assertThat(second.headers().firstValue("age")).isPresent();
        assertThat(origin.requestCount()).isEqualTo(1);
    }

    @Test
    void aKeywordInTheBodyBlocksThePageOverH2() throws Exception {
        HttpResponse<String> blocked = get("/casino-night");
        assertThat(blocked.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(blocked.statusCode()).isEqualTo(403);
        assertThat(blocked.body()).contains("casino");
        HttpResponse<String> fine = get("/tea-party");
        assertThat(fine.statusCode()).isEqualTo(200);
        assertThat(fine.body()).isEqualTo("origin h2-features /tea-party");
    }
}
