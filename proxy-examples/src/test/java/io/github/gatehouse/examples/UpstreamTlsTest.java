package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Tls;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamProtocol;
import io.github.gatehouse.core.UpstreamTls;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TLS and HTTP/2 to upstreams, through the wire: an HTTPS origin with its own test CA trusted through an extra root;
 * an untrusted origin and one whose certificate names another host (502, {@code tls_certificate_error}); verification
 * turned off explicitly; a configured SNI name; mTLS; h2 over TLS (requests multiplexed on one connection) and h2c;
 * health checks speaking the pool's protocol; each with the cache on and off where it matters.
 */
@Timeout(60)
class UpstreamTlsTest {
    private static final char[] PASSWORD = "origin".toCharArray();
    static TestPki originCa;
    static TestPki otherCa;
    static Path originCaPem;

    @TempDir
    static Path dir;

    @BeforeAll
    static void pki() throws Exception {
        originCa = TestPki.create("Origin Test CA");
        otherCa = TestPki.create("Some Other CA");
        originCaPem = Files.writeString(dir.resolve("origin-ca.pem"), originCa.caPem());
    }

    private static KeyStore keyStore(TestPki.Issued issued) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("origin", issued.key(), PASSWORD, new Certificate[] {issued.certificate(), issued.ca()});
        return ks;
    }

    private static KeyStore trusting(TestPki.Issued issuedByTheCa) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", issuedByTheCa.ca());
        return ks;
    }

    private static HttpResponse<String> get(ProxyServer proxy, String path) throws Exception {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build()
                .send(HttpRequest.newBuilder(proxy.uri().resolve(path)).build(), BodyHandlers.ofString());
    }

    private static ProxyServer reverse(UpstreamPool pool, UpstreamTls tls, boolean cache) {
        ProxyServer.Builder b = ProxyServer.builder().listen(0).route(Route.any().to(pool)).upstreamTls(tls);
        if (cache) {
            b.cache(HttpCaches.memory(DataSize.mebibytes(4)));
        }
        return b.build().start();
    }

    @ParameterizedTest(name = "cache {0}")
    @ValueSource(booleans = {false, true})
    void anOriginSignedByAnExtraTrustedRootIsReachedOverHttps(boolean cache) throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost", "127.0.0.1")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://localhost:" + origin.port()),
                        UpstreamTls.defaults().trust(originCaPem), cache)) {
            HttpResponse<String> r = get(proxy, "/page");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("HTTP/1.1 /page");
            assertThat(origin.takeRequest().protocol()).isEqualTo("HTTP/1.1");
            HttpResponse<String> again = get(proxy, "/page");
            assertThat(again.statusCode()).isEqualTo(200);
            if (cache) {
                assertThat(again.headers().firstValue("Cache-Status").orElse("")).contains("hit");
                assertThat(origin.pollRequest()).isEmpty();
            } else {
                assertThat(origin.takeRequest().target()).isEqualTo("/page");
            }
        }
    }

    @ParameterizedTest(name = "cache {0}")
    @ValueSource(booleans = {false, true})
    void anOriginNoTrustedRootVouchesForIsA502NamingTheCertificate(boolean cache) throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(otherCa.issue("localhost", "127.0.0.1")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://localhost:" + origin.port()),
                        UpstreamTls.defaults().trust(originCaPem), cache)) {
            HttpResponse<String> r = get(proxy, "/page");
            assertThat(r.statusCode()).isEqualTo(502);
            assertThat(r.headers().firstValue("Proxy-Status").orElse("")).contains("error=tls_certificate_error");
            assertThat(r.body()).contains("TLS certificate not accepted").contains("no trusted root");
            assertThat(origin.pollRequest()).isEmpty();
        }
    }

    @Test
    void aCertificateForAnotherHostIsRefused() throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("elsewhere.test")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://localhost:" + origin.port()),
                        UpstreamTls.defaults().trust(originCaPem), false)) {
            HttpResponse<String> r = get(proxy, "/page");
            assertThat(r.statusCode()).isEqualTo(502);
            assertThat(r.headers().firstValue("Proxy-Status").orElse("")).contains("error=tls_certificate_error");
            assertThat(r.body()).contains("localhost");
        }
    }

    @Test
    void aConfiguredServerNameIsAskedForAndChecked() throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("origin.test")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://127.0.0.1:" + origin.port())
                        .tls(UpstreamTls.defaults().trust(originCaPem).serverName("origin.test")),
                        UpstreamTls.defaults(), false)) {
            HttpResponse<String> r = get(proxy, "/sni");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("HTTP/1.1 /sni");
        }
    }

    @Test
    void verificationIsOffOnlyWhenAskedForByName() throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(otherCa.issue("elsewhere.test")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://127.0.0.1:" + origin.port()),
                        UpstreamTls.defaults().insecureSkipVerifyingUpstreamCertificates(), false)) {
            assertThat(get(proxy, "/any").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aClientCertificateIsShownToAnOriginThatRequiresOne() throws Exception {
        TestPki clients = TestPki.create("Client CA");
        TestPki.Issued proxyIdentity = clients.issue("gatehouse-proxy");
        Path[] pem = proxyIdentity.writePem(dir, "proxy-client", TestPki.KeyFormat.PKCS8);
        try (MockOrigin origin = TlsOrigins.mutualTls(keyStore(originCa.issue("localhost")), PASSWORD, trusting(proxyIdentity));
                ProxyServer without = reverse(UpstreamPool.of("https://localhost:" + origin.port()),
                        UpstreamTls.defaults().trust(originCaPem), false);
                ProxyServer with = reverse(UpstreamPool.of("https://localhost:" + origin.port()),
                        UpstreamTls.defaults().trust(originCaPem).clientCertificate(Tls.pem(pem[0], pem[1])), false)) {
            HttpResponse<String> refused = get(without, "/mtls");
            assertThat(refused.statusCode()).isEqualTo(502);
            assertThat(refused.headers().firstValue("Proxy-Status").orElse("")).contains("error=tls_");
            HttpResponse<String> r = get(with, "/mtls");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(origin.takeRequest().clientCertificateSubject()).hasValue("CN=gatehouse-proxy");
        }
    }

    @ParameterizedTest(name = "cache {0}")
    @ValueSource(booleans = {false, true})
    void h2OverTlsMultiplexesConcurrentRequestsOnOneConnection(boolean cache) throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://localhost:" + origin.port()).protocol(UpstreamProtocol.H2),
                        UpstreamTls.defaults().trust(originCaPem), cache)) {
            // one request first, so that the connection is up (requests racing its set-up may open a second one)
            assertThat(get(proxy, "/h2/first").statusCode()).isEqualTo(200);
            String connection = origin.takeRequest().connectionId();
            // each of the next four is held, without blocking a thread, until all four are in the origin at once
            CompletableFuture<Void> allFour = new CompletableFuture<>();
            java.util.concurrent.atomic.AtomicInteger arrived = new java.util.concurrent.atomic.AtomicInteger();
            origin.dispatcher(r -> {
                if (arrived.incrementAndGet() == 4) {
                    allFour.complete(null);
                }
                return TlsOrigins.protocolAndTarget(r).holdUntil(allFour);
            });
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                all.add(client.sendAsync(HttpRequest.newBuilder(proxy.uri().resolve("/h2/" + i)).build(), BodyHandlers.ofString()));
            }
            Set<String> ports = new HashSet<>();
            for (int i = 0; i < 4; i++) {
                RecordedRequest seen = origin.takeRequest();
                assertThat(seen.protocol()).isEqualTo("HTTP/2.0");
                ports.add(seen.connectionId());
            }
            for (CompletableFuture<HttpResponse<String>> f : all) {
                HttpResponse<String> r = f.join();
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).startsWith("HTTP/2.0 /h2/");
            }
            assertThat(ports).containsExactly(connection); // four requests in the origin at once, on one connection: streams
        }
    }

    @ParameterizedTest(name = "cache {0}")
    @ValueSource(booleans = {false, true})
    void h2cPriorKnowledgeReachesACleartextHttp2Origin(boolean cache) throws Exception {
        try (MockOrigin origin = TlsOrigins.cleartext();
                ProxyServer proxy = reverse(UpstreamPool.of("http://127.0.0.1:" + origin.port()).protocol(UpstreamProtocol.H2C),
                        UpstreamTls.defaults(), cache)) {
            HttpResponse<String> r = get(proxy, "/h2c");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("HTTP/2.0 /h2c");
            assertThat(r.headers().firstValue("Via").orElse("")).isNotEmpty();
            assertThat(origin.takeRequest().protocol()).isEqualTo("HTTP/2.0");
        }
    }

    @Test
    void healthChecksSpeakThePoolsProtocolAndTls() throws Exception {
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost")), PASSWORD);
                ProxyServer proxy = reverse(UpstreamPool.of("https://localhost:" + origin.port()).protocol(UpstreamProtocol.H2)
                        .healthCheck(HealthCheck.get("/health").every(Duration.ofHours(1))),
                        UpstreamTls.defaults().trust(originCaPem), false)) {
            RecordedRequest probe = origin.takeRequest();
            assertThat(probe.target()).isEqualTo("/health");
            assertThat(probe.protocol()).isEqualTo("HTTP/2.0");
            assertThat(probe.headers().get("User-Agent")).isEqualTo("gatehouse-health-check");
        }
    }

    @Test
    void aProtocolThatDoesNotFitTheMembersSchemeFailsTheBuilder() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> UpstreamPool.of("http://127.0.0.1:1").protocol(UpstreamProtocol.H2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("https://");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> UpstreamPool.of("https://127.0.0.1:1").protocol(UpstreamProtocol.H2C))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("http://");
        assertThat(URI.create("https://x").getScheme()).isEqualTo("https");
    }
}
