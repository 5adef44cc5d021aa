package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.Interception;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.UpstreamTls;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestPki;
import io.github.gatehouse.filter.BasicAuthenticator;
import io.github.gatehouse.filter.KeywordFilter;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPS inspection through the wire: a TLS origin with its own test CA (trusted by the proxy through an extra root),
 * a proxy CA made by {@link Interception#writeNewCa}, and clients that trust only the proxy's CA. Keyword blocking, a
 * cache hit and an access-log line with the full URL and the CONNECT's user, inside HTTPS; h2 inside through ALPN;
 * a never-intercept host tunnelled untouched (the client sees the origin's own certificate); an origin whose
 * certificate does not verify refused.
 */
@Timeout(60)
class HttpsInspectionTest {
    private static final char[] PASSWORD = "origin".toCharArray();
    static TestPki originCa;
    static Path originCaPem;
    static Path proxyCaPem;
    static Path proxyCaKey;
    static SSLContext trustsProxyCaOnly;
    static SSLContext trustsOriginCaOnly;
    static MockOrigin origin;
    static MockOrigin casino;
    static RecordingAccessLog log = new RecordingAccessLog();
    static ProxyServer proxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void setUp() throws Exception {
        originCa = TestPki.create("Origin Test CA");
        originCaPem = Files.writeString(dir.resolve("origin-ca.pem"), originCa.caPem());
        trustsOriginCaOnly = originCa.clientContext();
        List<Path> ca = Interception.writeNewCa(dir.resolve("proxy-ca"), "Gatehouse Test Inspection CA");
        proxyCaPem = ca.get(0);
        proxyCaKey = ca.get(1);
        trustsProxyCaOnly = trusting(proxyCaPem);
        origin = TlsOrigins.https(keyStore(originCa.issue("localhost", "127.0.0.1")), PASSWORD);
        casino = TlsOrigins.https(keyStore(originCa.issue("localhost", "127.0.0.1")), PASSWORD)
                .dispatcher(r -> TlsOrigins.page("<html>Win big at the casino tonight</html>"));
        proxy = ProxyServer.builder().listen(0).forward()
                .connectPorts(origin.port(), casino.port())
                .allowAllInternalDestinations() // the origins are on loopback
                .upstreamTls(UpstreamTls.defaults().trust(originCaPem))
                .intercept(Interception.withCa(proxyCaPem, proxyCaKey).intercept("localhost").neverIntercept("127.0.0.1"))
                .authenticator(BasicAuthenticator.users(Map.of("alice", "wonderland")))
                .filter(KeywordFilter.blockPagesContaining("casino"))
                .cache(HttpCaches.memory(DataSize.mebibytes(4)))
                .accessLog(log)
                .build().start();
    }

    @AfterAll
    static void tearDown() throws Exception {
        proxy.close();
        origin.close();
        casino.close();
    }

    @Test
    void anInterceptedPageIsServedUnderTheProxysCaAndLoggedWithItsFullUrlAndUser() throws Exception {
        Exchange r = Exchange.through(proxy.port(), "localhost", origin.port(), "/inspected?q=1", trustsProxyCaOnly, "alice:wonderland");
        assertThat(r.connectStatus).isEqualTo(200);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("HTTP/1.1 /inspected?q=1");
        X509Certificate leaf = r.peer[0];
        assertThat(leaf.getIssuerX500Principal().getName()).contains("Gatehouse Test Inspection CA");
        assertThat(leaf.getSubjectAlternativeNames()).anySatisfy(san -> assertThat(san.get(1)).isEqualTo("localhost"));
        assertThat(leaf.getSubjectAlternativeNames()).anySatisfy(san -> assertThat(san.get(1)).isEqualTo("127.0.0.1"));
        AccessLogEntry line = log.take("/inspected");
        assertThat(line.target()).isEqualTo("https://localhost:" + origin.port() + "/inspected?q=1");
        assertThat(line.user()).isEqualTo("alice");
        assertThat(line.status()).isEqualTo(200);
        assertThat(origin.takeRequest().target()).isEqualTo("/inspected?q=1");
    }

    @Test
    void keywordFilteringBlocksAPageInsideHttps() throws Exception {
        Exchange r = Exchange.through(proxy.port(), "localhost", casino.port(), "/games", trustsProxyCaOnly, "alice:wonderland");
        assertThat(r.connectStatus).isEqualTo(200);
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.body()).contains("casino").doesNotContain("Win big");
        assertThat(log.take("/games").target()).isEqualTo("https://localhost:" + casino.port() + "/games");
    }

    @Test
    void theSecondRequestForAnHttpsPageIsACacheHit() throws Exception {
        Exchange first = Exchange.through(proxy.port(), "localhost", origin.port(), "/cached", trustsProxyCaOnly, "alice:wonderland");
        assertThat(first.status()).isEqualTo(200);
        assertThat(origin.takeRequest().target()).isEqualTo("/cached");
        Exchange second = Exchange.through(proxy.port(), "localhost", origin.port(), "/cached", trustsProxyCaOnly, "alice:wonderland");
        assertThat(second.status()).isEqualTo(200);
        assertThat(second.header("Cache-Status")).contains("hit");
        assertThat(second.body()).isEqualTo("HTTP/1.1 /cached");
        assertThat(origin.pollRequest()).isEmpty();
    }

    @Test
    void aConnectWithoutCredentialsIsStillAsked() throws Exception {
        Exchange r = Exchange.through(proxy.port(), "localhost", origin.port(), "/x", trustsProxyCaOnly, null);
        assertThat(r.connectStatus).isEqualTo(407);
    }

    @Test
    void aNeverInterceptHostIsTunnelledUntouched() throws Exception {
        Exchange r = Exchange.through(proxy.port(), "127.0.0.1", origin.port(), "/tunnelled", trustsOriginCaOnly, "alice:wonderland");
        assertThat(r.connectStatus).isEqualTo(200);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.peer[0].getIssuerX500Principal().getName()).isEqualTo("CN=Origin Test CA");
        assertThat(origin.takeRequest().target()).isEqualTo("/tunnelled");
    }

    @Test
    void anOriginWhoseCertificateDoesNotVerifyGetsNoTunnel() throws Exception {
        TestPki stranger = TestPki.create("Unknown CA");
        try (MockOrigin bad = TlsOrigins.https(keyStore(stranger.issue("localhost")), PASSWORD);
                ProxyServer p = ProxyServer.builder().listen(0).forward().connectPorts(bad.port()).allowAllInternalDestinations()
                        .upstreamTls(UpstreamTls.defaults().trust(originCaPem))
                        .intercept(Interception.withCa(proxyCaPem, proxyCaKey).intercept("*"))
                        .build().start()) {
            Exchange r = Exchange.through(p.port(), "localhost", bad.port(), "/", trustsProxyCaOnly, null);
            assertThat(r.connectStatus).isEqualTo(502);
            assertThat(r.connectHead).contains("tls_certificate_error");
            assertThat(r.connectHead).contains("does not verify");
            assertThat(bad.pollRequest()).isEmpty();
        }
    }

    @Test
    void h2InsideTheInterceptedTunnelThroughAlpn() throws Exception {
        try (ProxyServer p = ProxyServer.builder().listen(0).forward().connectPorts(origin.port()).allowAllInternalDestinations()
                .upstreamTls(UpstreamTls.defaults().trust(originCaPem))
                .intercept(Interception.withCa(proxyCaPem, proxyCaKey).intercept("*"))
                .build().start()) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(trustsProxyCaOnly)
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", p.port()))).connectTimeout(Duration.ofSeconds(5))
                    .build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + origin.port() + "/h2"))
                    .build(), BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(r.body()).isEqualTo("HTTP/1.1 /h2");
            assertThat(origin.takeRequest().target()).isEqualTo("/h2");
        }
    }

    // ---- helpers ----

    private static KeyStore keyStore(TestPki.Issued issued) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("origin", issued.key(), PASSWORD, new Certificate[] {issued.certificate(), issued.ca()});
        return ks;
    }

    private static SSLContext trusting(Path caPem) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(caPem)) {
            ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** One HTTPS request as a browser sends it to a proxy: CONNECT (with credentials), TLS with SNI, GET, close. */
    static final class Exchange {
        int connectStatus;
        String connectHead;
        X509Certificate[] peer;
        String response;

        static Exchange through(int proxyPort, String host, int port, String path, SSLContext trust, String userPassword)
                throws Exception {
            Exchange x = new Exchange();
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", proxyPort), 5000);
                socket.setSoTimeout(10_000);
                OutputStream out = socket.getOutputStream();
                String auth = userPassword == null ? ""
                        : "Proxy-Authorization: Basic " + Base64.getEncoder().encodeToString(userPassword.getBytes(StandardCharsets.UTF_8)) + "\r\n";
                out.write(("CONNECT " + host + ":" + port + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n" + auth + "\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                InputStream in = socket.getInputStream();
                x.connectHead = readHead(in);
                x.connectStatus = Integer.parseInt(x.connectHead.substring(9, 12));
                if (x.connectStatus != 200) {
                    return x;
                }
                try (SSLSocket tls = (SSLSocket) trust.getSocketFactory().createSocket(socket, host, port, true)) {
                    SSLParameters params = tls.getSSLParameters();
                    params.setEndpointIdentificationAlgorithm("HTTPS");
                    if (!host.matches("[0-9.]+")) {
                        params.setServerNames(List.of(new SNIHostName(host)));
                    }
                    params.setApplicationProtocols(new String[] {"http/1.1"});
                    tls.setSSLParameters(params);
                    tls.startHandshake();
                    x.peer = (X509Certificate[]) tls.getSession().getPeerCertificates();
                    tls.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port
                            + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    tls.getOutputStream().flush();
                    x.response = new String(tls.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                }
            }
            return x;
        }

        private static String readHead(InputStream in) throws Exception {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                head.write(b);
                byte[] h = head.toByteArray();
                int n = h.length;
                if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                    break;
                }
            }
            String text = head.toString(StandardCharsets.ISO_8859_1);
            if (text.length() < 12) {
                throw new AssertionError("no answer to CONNECT: '" + text + "'");
            }
            // a refusal has a body with a length: read it too, so that the reason is in connectHead
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(text);
            if (m.find() && !text.startsWith("HTTP/1.1 200")) {
                text += new String(in.readNBytes(Integer.parseInt(m.group(1))), StandardCharsets.UTF_8);
            }
            return text;
        }

        int status() {
            return Integer.parseInt(response.substring(9, 12));
        }

        String header(String name) {
            for (String line : response.substring(0, response.indexOf("\r\n\r\n")).split("\r\n")) {
                if (line.regionMatches(true, 0, name + ":", 0, name.length() + 1)) {
                    return line.substring(name.length() + 1).trim();
                }
            }
            return "";
        }

        String body() {
            String b = response.substring(response.indexOf("\r\n\r\n") + 4);
            if (header("Transfer-Encoding").equalsIgnoreCase("chunked")) {
                StringBuilder sb = new StringBuilder();
                int i = 0;
                while (true) {
                    int eol = b.indexOf("\r\n", i);
                    int size = Integer.parseInt(b.substring(i, eol).trim(), 16);
                    if (size == 0) {
                        break;
                    }
                    sb.append(b, eol + 2, eol + 2 + size);
                    i = eol + 2 + size + 2;
                }
                return sb.toString();
            }
            return b;
        }
    }
}
