package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.TestPki.KeyFormat;
import io.github.gatehouse.core.testsupport.TestPki;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTPS listener through the wire: PEM (PKCS#8, PKCS#1, SEC 1) and PKCS#12 certificates, SNI with a default,
 * TLS 1.2/1.3 only, reload without restart keeping open sessions, the scheme the origin is told, and the per-route
 * redirect from the plain listener. Certificates come from a CA made in the test.
 */
class TlsListenerTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("tls-origin")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin tls-origin " + req.path()));

    static TestPki pki;
    static SSLContext trusting;

    @TempDir
    Path dir;

    @BeforeAll
    static void ca() throws Exception {
        pki = TestPki.create("Gatehouse Test CA");
        trusting = pki.clientContext();
    }

    private HttpClient client(HttpClient.Version version) {
        return HttpClient.newBuilder().sslContext(trusting).version(version).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private Tls pem(String name, KeyFormat format, boolean rsa, String... names) throws Exception {
        TestPki.Issued issued = rsa ? pki.issueRsa(names) : pki.issue(names);
        Path[] files = issued.writePem(dir, name, format);
        return Tls.pem(files[0], files[1]);
    }

    @Test
    void reverseProxyOverHttpsTellsTheOriginTheSchemeWasHttps() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, pem("site", KeyFormat.PKCS8, false, "localhost", "127.0.0.1"))
                .route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start()) {
            for (HttpClient.Version v : HttpClient.Version.values()) {
                HttpResponse<String> r = client(v).send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/hello")).build(),
                        BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).isEqualTo("hello");
                assertThat(r.version()).isEqualTo(v);
                RecordedRequest seen = origin.takeRequest();
                assertThat(seen.headers().get("X-Forwarded-Proto")).isEqualTo("https");
                assertThat(seen.headers().get("Forwarded")).contains("proto=https");
                assertThat(seen.headers().get("Host")).isEqualTo("127.0.0.1:" + proxy.tlsPort());
            }
            // the plain listener beside it says http
            HttpResponse<String> plain = client(HttpClient.Version.HTTP_1_1).send(
                    HttpRequest.newBuilder(proxy.uri().resolve("/hello")).build(), BodyHandlers.ofString());
            assertThat(plain.statusCode()).isEqualTo(200);
            assertThat(origin.takeRequest().headers().get("X-Forwarded-Proto")).isEqualTo("http");
        }
    }

    @Test
    void traditionalRsaAndEcKeysAndPkcs12AreAccepted() throws Exception {
        Tls rsa = pem("rsa", KeyFormat.TRADITIONAL, true, "rsa.test", "127.0.0.1");
        Tls ec = pem("ec", KeyFormat.TRADITIONAL, false, "ec.test");
        Path p12 = pki.issue("p12.test").writePkcs12(dir.resolve("p12.p12"), "p12", "s3cret".toCharArray());
        Tls all = rsa.and(ec).and(Tls.pkcs12(p12, "s3cret".toCharArray()));
        assertThat(all.files()).hasSize(5);
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, all).route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start()) {
            assertThat(peerName(proxy.tlsPort(), "rsa.test")).isEqualTo("CN=rsa.test");
            assertThat(peerName(proxy.tlsPort(), "ec.test")).isEqualTo("CN=ec.test");
            assertThat(peerName(proxy.tlsPort(), "p12.test")).isEqualTo("CN=p12.test");
            assertThat(peerName(proxy.tlsPort(), "unknown.test")).as("no match: the default").isEqualTo("CN=rsa.test");
            assertThat(peerName(proxy.tlsPort(), null)).as("no SNI: the default").isEqualTo("CN=rsa.test");
        }
    }

    @Test
    void sniChoosesByTheCertificatesNamesIncludingWildcards() throws Exception {
        Tls tls = pem("default", KeyFormat.PKCS8, false, "default.test")
                .and(pem("shop", KeyFormat.PKCS8, false, "shop.test", "www.shop.test"))
                .and(pem("wild", KeyFormat.PKCS8, false, "*.api.test"));
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, tls).route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start()) {
            assertThat(peerName(proxy.tlsPort(), "www.shop.test")).isEqualTo("CN=shop.test");
            assertThat(peerName(proxy.tlsPort(), "v1.api.test")).isEqualTo("CN=*.api.test");
            assertThat(peerName(proxy.tlsPort(), "api.test")).isEqualTo("CN=default.test");
        }
    }

    @Test
    void onlyTls12And13AreOffered() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, pem("p", KeyFormat.PKCS8, false, "localhost"))
                .route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start()) {
            for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
                try (SSLSocket s = socket(proxy.tlsPort(), null)) {
                    s.setEnabledProtocols(new String[] {protocol});
                    s.startHandshake();
                    assertThat(s.getSession().getProtocol()).isEqualTo(protocol);
                }
            }
            SSLContext legacy = SSLContext.getInstance("TLS");
            legacy.init(null, trustAll(), null);
            try (SSLSocket s = (SSLSocket) legacy.getSocketFactory().createSocket("127.0.0.1", proxy.tlsPort())) {
                s.setSoTimeout(5000);
                String[] old = java.util.Arrays.stream(s.getSupportedProtocols())
                        .filter(p -> p.equals("TLSv1.1") || p.equals("TLSv1")).toArray(String[]::new);
                if (old.length > 0) { // the JDK may not even support them any more
                    s.setEnabledProtocols(old);
                    assertThatThrownBy(s::startHandshake).isInstanceOf(javax.net.ssl.SSLException.class);
                }
            }
        }
    }

    @Test
    void reloadSwapsCertificatesForNewHandshakesAndOpenConnectionsKeepTheirSession() throws Exception {
        Path[] files = pki.issue("first.test", "127.0.0.1").writePem(dir, "site", KeyFormat.PKCS8);
        Tls tls = Tls.pem(files[0], files[1]).checkForChangesEvery(Duration.ZERO);
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, tls).route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start();
                SSLSocket open = socket(proxy.tlsPort(), null)) {
            open.startHandshake();
            assertThat(((X509Certificate) open.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName())
                    .isEqualTo("CN=first.test");
            assertThat(exchange(open)).startsWith("HTTP/1.1 200");

            pki.issue("second.test", "127.0.0.1").writePem(dir, "site", KeyFormat.TRADITIONAL);
            assertThat(peerName(proxy.tlsPort(), null)).as("not reloaded yet").isEqualTo("CN=first.test");
            proxy.reloadTls();
            assertThat(peerName(proxy.tlsPort(), null)).isEqualTo("CN=second.test");
            // the connection opened before the reload goes on, on its first session
            assertThat(exchange(open)).startsWith("HTTP/1.1 200");
            assertThat(((X509Certificate) open.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName())
                    .isEqualTo("CN=first.test");

            // a broken file is refused and the certificates in use stay
            Files.writeString(files[1], "not a key");
            assertThatThrownBy(proxy::reloadTls).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("site.key");
            assertThat(peerName(proxy.tlsPort(), null)).isEqualTo("CN=second.test");
        }
    }

    @Test
    void routeRedirectsPlainRequestsToTheHttpsListener() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().listenTls(0, pem("r", KeyFormat.PKCS8, false, "localhost", "127.0.0.1"))
                .route(Route.host("secure.test").redirectToHttps().to(UpstreamPool.of(origin.baseUrl())))
                .route(Route.any().to(UpstreamPool.of(origin.baseUrl())))
                .build().start()) {
            RawHttp.Reply moved = RawHttp.exchange(proxy.port(),
                    "GET /cart?id=7 HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n");
            assertThat(moved.status()).isEqualTo(308);
            assertThat(moved.headers().get("location")).isEqualTo("https://secure.test:" + proxy.tlsPort() + "/cart?id=7");
            RawHttp.Reply other = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n");
            assertThat(other.status()).isEqualTo(200);
            assertThat(origin.requestCount()).isEqualTo(1);
            // over TLS the redirecting route proxies
            try (SSLSocket s = socket(proxy.tlsPort(), "secure.test")) {
                OutputStream out = s.getOutputStream();
                out.write("GET /hello HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1))
                        .startsWith("HTTP/1.1 200").endsWith("hello");
            }
        }
    }

    @Test
    void badCertificateFilesFailTheBuilderWithTheFileName() throws Exception {
        TestPki.Issued a = pki.issue("a.test");
        TestPki.Issued b = pki.issue("b.test");
        Path[] fa = a.writePem(dir, "a", KeyFormat.PKCS8);
        Path[] fb = b.writePem(dir, "b", KeyFormat.PKCS8);
        assertThatThrownBy(() -> Tls.pem(fa[0], fb[1])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("b.key").hasMessageContaining("does not belong");
        assertThatThrownBy(() -> Tls.pem(dir.resolve("missing.crt"), fa[1])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing.crt");
        assertThatThrownBy(() -> Tls.pem(fa[1], fa[1])).hasMessageContaining("no PEM certificate");
        Path p12 = a.writePkcs12(dir.resolve("a.p12"), "a", "right".toCharArray());
        assertThatThrownBy(() -> Tls.pkcs12(p12, "wrong".toCharArray())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a.p12");
        Files.writeString(dir.resolve("enc.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assertThatThrownBy(() -> Tls.pem(fa[0], dir.resolve("enc.key"))).hasMessageContaining("encrypted");
        assertThatThrownBy(() -> ProxyServer.builder().route(Route.any().redirectToHttps().to(UpstreamPool.of(origin.baseUrl()))).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no HTTPS listener");
        Tls ok = Tls.pem(fa[0], fa[1]);
        assertThatThrownBy(() -> ProxyServer.builder().listenTls(0, ok).listenTls(0, ok))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> ProxyServer.builder().listenTls(70000, ok)).hasMessageContaining("70000");
        try (ProxyServer plain = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start()) {
            assertThatThrownBy(plain::tlsUri).isInstanceOf(IllegalStateException.class).hasMessageContaining("no HTTPS listener");
        }
    }

    private static String exchange(SSLSocket s) throws Exception {
        s.setSoTimeout(5000);
        OutputStream out = s.getOutputStream();
        out.write("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("hello")) { // Content-Length: 5 body "hello"
            int c = in.read();
            if (c < 0) {
                break;
            }
            sb.append((char) c);
        }
        return sb.toString();
    }

    private static SSLSocket socket(int port, String sni) throws Exception {
        // a fresh context each time: the JDK client would otherwise resume its last session with 127.0.0.1:port,
        // certificate included, whatever server name it asks for now (a browser keys its cache by host name)
        SSLSocket s = (SSLSocket) pki.clientContext().getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(5000);
        if (sni != null) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(sni)));
            s.setSSLParameters(p);
        }
        return s;
    }

    private static String peerName(int port, String sni) throws Exception {
        try (SSLSocket s = socket(port, sni)) {
            s.startHandshake();
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
        }
    }

    private static javax.net.ssl.TrustManager[] trustAll() {
        return new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }};
    }
}
