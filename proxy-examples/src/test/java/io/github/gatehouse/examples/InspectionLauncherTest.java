package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testsupport.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's {@code ca} command, upstream TLS flags and HTTPS inspection flags, as a user gives them. */
@Timeout(60)
class InspectionLauncherTest {
    private static final char[] PASSWORD = "origin".toCharArray();

    @TempDir
    Path dir;

    private static PrintStream sink(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }

    @Test
    void caCommandWritesACaCertificateAndAnOwnerOnlyKeyAndNeverOverwrites() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertThat(Gatehouse.start(new String[] {"ca", "--out", dir.resolve("ca").toString()}, sink(bytes))).isNull();
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("ca.pem").contains("ca-key.pem").contains("--intercept-ca");
        X509Certificate ca;
        try (InputStream in = Files.newInputStream(dir.resolve("ca/ca.pem"))) {
            ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(ca.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(Files.readString(dir.resolve("ca/ca-key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(Files.getPosixFilePermissions(dir.resolve("ca/ca-key.pem")))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"ca", "--out", dir.resolve("ca").toString()}, sink(bytes)))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("never overwritten");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"ca"}, sink(bytes)))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--out DIR");
    }

    @Test
    void interceptFlagsInspectTheListedHostsWithTheGivenCa() throws Exception {
        TestPki originCa = TestPki.create("Launcher Origin CA");
        Path originCaPem = Files.writeString(dir.resolve("origin-ca.pem"), originCa.caPem());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Gatehouse.start(new String[] {"ca", "--out", dir.resolve("ca").toString()}, sink(bytes));
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost", "127.0.0.1")), PASSWORD)) {
            ProxyServer proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--connect-ports", String.valueOf(origin.port()),
                    "--allow-internal-destination", "127.0.0.1:" + origin.port(), "--upstream-ca", originCaPem.toString(),
                    "--intercept-ca", dir.resolve("ca/ca.pem").toString(), "--intercept-key", dir.resolve("ca/ca-key.pem").toString(),
                    "--intercept-host", "*", "--no-intercept-host", "127.0.0.1"}, sink(bytes));
            try {
                HttpsInspectionTest.Exchange inspected = HttpsInspectionTest.Exchange.through(proxy.port(), "localhost", origin.port(),
                        "/via-launcher", trusting(dir.resolve("ca/ca.pem")), null);
                assertThat(inspected.status()).isEqualTo(200);
                assertThat(inspected.peer[0].getIssuerX500Principal().getName()).isEqualTo("CN=Gatehouse HTTPS inspection CA");
                HttpsInspectionTest.Exchange tunnelled = HttpsInspectionTest.Exchange.through(proxy.port(), "127.0.0.1", origin.port(),
                        "/tunnelled", originCa.clientContext(), null);
                assertThat(tunnelled.status()).isEqualTo(200);
                assertThat(tunnelled.peer[0].getIssuerX500Principal().getName()).isEqualTo("CN=Launcher Origin CA");
            } finally {
                proxy.close();
            }
            assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("GET https://localhost:" + origin.port() + "/via-launcher");
        }
    }

    @Test
    void theInspectionCaCanBeAPkcs12KeyStore() throws Exception {
        TestPki originCa = TestPki.create("Launcher Origin CA");
        Path originCaPem = Files.writeString(dir.resolve("origin-ca.pem"), originCa.caPem());
        Gatehouse.start(new String[] {"ca", "--out", dir.resolve("ca").toString()}, sink(new ByteArrayOutputStream()));
        // the same CA as the ca command wrote, as an administrator's PKCS#12 store with a password file
        X509Certificate caCert;
        try (InputStream in = Files.newInputStream(dir.resolve("ca/ca.pem"))) {
            caCert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        String keyPem = Files.readString(dir.resolve("ca/ca-key.pem")).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        java.security.PrivateKey caKey = java.security.KeyFactory.getInstance("EC")
                .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(java.util.Base64.getDecoder().decode(keyPem)));
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("ca", caKey, "storepass".toCharArray(), new Certificate[] {caCert});
        Path p12 = dir.resolve("ca.p12");
        try (java.io.OutputStream out = Files.newOutputStream(p12)) {
            store.store(out, "storepass".toCharArray());
        }
        Path passwordFile = Files.writeString(dir.resolve("ca.pass"), "storepass\n");
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost")), PASSWORD)) {
            ProxyServer proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--connect-ports", String.valueOf(origin.port()),
                    "--allow-internal-destination", "127.0.0.1:" + origin.port(), "--upstream-ca", originCaPem.toString(),
                    "--intercept-keystore", p12.toString(), "--intercept-keystore-password-file", passwordFile.toString(),
                    "--intercept-host", "localhost"}, sink(new ByteArrayOutputStream()));
            try {
                HttpsInspectionTest.Exchange inspected = HttpsInspectionTest.Exchange.through(proxy.port(), "localhost", origin.port(),
                        "/p12", trusting(dir.resolve("ca/ca.pem")), null);
                assertThat(inspected.status()).isEqualTo(200);
                assertThat(inspected.peer[0].getIssuerX500Principal()).isEqualTo(caCert.getSubjectX500Principal());
            } finally {
                proxy.close();
            }
        }
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--intercept-keystore", p12.toString()))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("go together");
    }

    @Test
    void upstreamFlagsReachAnHttpsOriginOverH2WithAnExtraRoot() throws Exception {
        TestPki originCa = TestPki.create("Launcher Origin CA");
        Path originCaPem = Files.writeString(dir.resolve("origin-ca.pem"), originCa.caPem());
        try (MockOrigin origin = TlsOrigins.https(keyStore(originCa.issue("localhost")), PASSWORD)) {
            ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port", "0", "--upstream", "https://localhost:" + origin.port(),
                    "--upstream-protocol", "h2", "--upstream-ca", originCaPem.toString()}, sink(new ByteArrayOutputStream()));
            try {
                HttpResponse<String> r = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                        .send(HttpRequest.newBuilder(proxy.uri().resolve("/flags")).build(), BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).isEqualTo("HTTP/2.0 /flags");
                assertThat(r.headers().allValues("Via")).anySatisfy(v -> assertThat(v).startsWith("2 "));
            } finally {
                proxy.close();
            }
        }
    }

    @Test
    void badUpstreamAndInspectionCommandLinesAreExplained() throws Exception {
        Path file = Files.writeString(dir.resolve("f.pem"), "x");
        String f = file.toString();
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--intercept-host", "*"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--intercept-ca");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--intercept-ca", f))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("go together");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--intercept-ca", f, "--intercept-key", f))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("forward mode");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--upstream-protocol", "h3"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("h1, h2 or h2c");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--upstream-client-cert", f))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("go together");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--upstream-protocol", "h2"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("reverse mode");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"reverse", "--upstream", "http://a:1", "--upstream-protocol", "h2"},
                sink(new ByteArrayOutputStream())))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("https://");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"reverse", "--upstream", "https://a:1", "--upstream-ca", f},
                sink(new ByteArrayOutputStream())))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("f.pem");
        assertThat(LauncherOptions.usage()).contains("--upstream-insecure-skip-verify").contains("--intercept-host")
                .contains("gatehouse.jar ca --out DIR");
    }

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

}
