package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.TestCertificates;
import io.github.gatehouse.core.testsupport.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Runs the packaged launcher jar as the README does, in its own JVM. */
class LauncherJarIT {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("jar")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin jar " + req.path()));

    private static Process launch(String... args) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(javaBin, "-jar", Path.of("target", "gatehouse.jar").toString()));
        cmd.addAll(java.util.List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    @Test
    void jarStartsAForwardProxyServesRequestsAndStopsOnSigterm() throws Exception {
        Process p = launch("forward", "--port", "0", "--allow-internal-destination", "127.0.0.1:" + origin.port());
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertThat(line).startsWith("gatehouse listening on http://127.0.0.1:");
            int port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1));

            var response = Clients.throughProxy(port).send(HttpRequest.newBuilder(origin.uri("/hello")).build(), BodyHandlers.ofString());
            assertThat(response.body()).isEqualTo("hello");
            assertThat(out.readLine()).contains("GET " + origin.baseUrl() + "/hello");

            p.destroy(); // SIGTERM
            assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isIn(0, 143);
        } finally {
            p.destroyForcibly();
        }
    }

    /** Runs the jar to its end and returns its exit status, standard output and standard error. */
    private static String[] run(String... args) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "-jar", Path.of("target", "gatehouse.jar").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        java.util.concurrent.CompletableFuture<String> err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new String[] {Integer.toString(p.exitValue()), out, err.get(30, TimeUnit.SECONDS)};
    }

    @Test
    void versionPrintsTheProjectVersionAndExitsZero() throws Exception {
        String[] result = run("--version");
        assertThat(result[0]).isEqualTo("0");
        assertThat(result[1].strip()).matches("gatehouse \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
    }

    @Test
    void aPortInUseIsExplainedInOneLineWithThePortAndExitStatus1() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String[] result = run("forward", "--port", Integer.toString(taken.getLocalPort()));
            assertThat(result[0]).isEqualTo("1");
            assertThat(result[2]).contains("address already in use").contains(":" + taken.getLocalPort())
                    .doesNotContain("Exception").doesNotContain("\tat ");
        }
    }

    @Test
    void badFlagExitsWithStatus2() throws Exception {
        Process p = launch("forward", "--no-such-flag");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
    }

    // ---- curl through the launched proxy ---------------------------------------------------------------------

    /** curl on the PATH, or null. */
    private static String findCurl() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(dir, "curl");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    /** Runs curl (no curlrc, silent but for errors, at most 10 s) and returns what it printed. */
    private static String curl(String curl, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(curl, "-q", "-sS", "--max-time", "10"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("curl %s: %s", args, err).isZero();
        return out;
    }

    /** The test certificate as PEM, for curl's --cacert. */
    private static Path caCertificate(Path dir) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(TestCertificates.keyStore())) {
            ks.load(in, "changeit".toCharArray());
        }
        String pem = "-----BEGIN CERTIFICATE-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(ks.getCertificate("origin").getEncoded())
                + "\n-----END CERTIFICATE-----\n";
        return Files.writeString(dir.resolve("origin.pem"), pem);
    }

    /** What curl prints after the body: the final status and the CONNECT's status (000 when there was none). */
    private static final String STATUSES = "\n%{http_code} %{http_connect}";

    @Test
    void curlGetsAndPostsThroughTheLaunchedForwardProxyInAbsoluteFormAndThroughConnect(@TempDir Path dir) throws Exception {
        String curl = findCurl();
        assumeTrue(curl != null, "curl is not on the PATH");
        Path ca = caCertificate(dir);
        Path body = Files.writeString(dir.resolve("body.txt"), "a line of a posted file\n".repeat(3000) + "end");
        try (MockOrigin tls = MockOrigin.named("jar-tls").useHttps(TestCertificates.serving())
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
                .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
                .dispatcher(req -> MockResponse.ok("origin jar-tls " + req.path())).start()) {
            Process p = launch("forward", "--port", "0", "--connect-ports", tls.port() + "," + origin.port(),
                    "--allow-internal-destination", "127.0.0.1:" + origin.port(),
                    "--allow-internal-destination", "127.0.0.1:" + tls.port());
            try {
                LauncherOutput out = new LauncherOutput(p.getInputStream(), Duration.ofSeconds(10));
                String proxy = "http://127.0.0.1:" + out.port("gatehouse listening on http://127.0.0.1:");

                // http://: an absolute-form request, no CONNECT
                assertThat(curl(curl, "-x", proxy, "-w", STATUSES, origin.baseUrl() + "/hello")).isEqualTo("hello\n200 000");
                assertThat(out.await("GET " + origin.baseUrl() + "/hello")).contains("TCP_MISS/200");
                assertThat(origin.takeRequest().headers("Host")).containsExactly("127.0.0.1:" + origin.port());

                // https://: a CONNECT tunnel, the origin's certificate checked against the test CA
                assertThat(curl(curl, "--cacert", ca.toString(), "-x", proxy, "-w", STATUSES, tls.baseUrl() + "/hello"))
                        .isEqualTo("hello\n200 200");
                assertThat(out.await("CONNECT 127.0.0.1:" + tls.port())).contains("TCP_TUNNEL/200");
                assertThat(tls.takeRequest().target()).isEqualTo("/hello");

                // a posted file, both ways
                String expected = Files.readString(body);
                assertThat(curl(curl, "-x", proxy, "-H", "Content-Type: text/plain", "--data-binary", "@" + body,
                        origin.baseUrl() + "/echo")).isEqualTo(expected);
                assertThat(origin.takeRequest().bodySize()).isEqualTo(expected.length());
                assertThat(curl(curl, "--cacert", ca.toString(), "-x", proxy, "-H", "Content-Type: text/plain",
                        "--data-binary", "@" + body, tls.baseUrl() + "/echo")).isEqualTo(expected);
                assertThat(tls.takeRequest().bodySize()).isEqualTo(expected.length());

                // -p (--proxytunnel): even http:// goes through CONNECT
                assertThat(curl(curl, "-p", "-x", proxy, "-w", STATUSES, origin.baseUrl() + "/hello")).isEqualTo("hello\n200 200");
                assertThat(out.await("CONNECT 127.0.0.1:" + origin.port())).contains("TCP_TUNNEL/200");
                assertThat(origin.takeRequest().headers("Host")).containsExactly("127.0.0.1:" + origin.port());
            } finally {
                p.destroyForcibly();
                p.waitFor(15, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void curlAuthenticatesToTheLaunchedProxyAfterThe407OverHttpAndThroughConnect(@TempDir Path dir) throws Exception {
        String curl = findCurl();
        assumeTrue(curl != null, "curl is not on the PATH");
        Path ca = caCertificate(dir);
        String sha1 = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest("wonder".getBytes(StandardCharsets.UTF_8)));
        Path users = Files.writeString(dir.resolve("users.htpasswd"), "alice:{SHA}" + sha1 + "\n");
        try (MockOrigin tls = MockOrigin.named("jar-tls-auth").useHttps(TestCertificates.serving())
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
                .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
                .dispatcher(req -> MockResponse.ok("origin jar-tls-auth " + req.path())).start()) {
            Process p = launch("forward", "--port", "0", "--users", users.toString(), "--connect-ports", String.valueOf(tls.port()),
                    "--allow-internal-destination", "127.0.0.1:" + origin.port(),
                    "--allow-internal-destination", "127.0.0.1:" + tls.port());
            try {
                LauncherOutput out = new LauncherOutput(p.getInputStream(), Duration.ofSeconds(10));
                String proxy = "http://127.0.0.1:" + out.port("gatehouse listening on http://127.0.0.1:");

                // no credentials: the 407 itself
                assertThat(curl(curl, "-x", proxy, "-w", STATUSES, origin.baseUrl() + "/hello"))
                        .isEqualTo("407 credentials required for realm gatehouse\n\n407 000");
                assertThat(out.await("GET " + origin.baseUrl() + "/hello")).contains("TCP_DENIED/407");

                // --proxy-anyauth: curl asks without credentials first, then answers the challenge with Basic
                assertThat(curl(curl, "--proxy-anyauth", "-U", "alice:wonder", "-x", proxy, "-w", STATUSES,
                        origin.baseUrl() + "/hello")).isEqualTo("hello\n200 000");
                assertThat(out.await("GET " + origin.baseUrl() + "/hello")).contains("TCP_DENIED/407");
                assertThat(out.await("GET " + origin.baseUrl() + "/hello")).contains("TCP_MISS/200").contains(" alice ");
                assertThat(origin.takeRequest().headers().get("Proxy-Authorization")).isNull();

                assertThat(curl(curl, "--proxy-anyauth", "-U", "alice:wonder", "--cacert", ca.toString(), "-x", proxy,
                        "-w", STATUSES, tls.baseUrl() + "/hello")).isEqualTo("hello\n200 200");
                assertThat(out.await("CONNECT 127.0.0.1:" + tls.port())).contains("TCP_DENIED/407");
                assertThat(out.await("CONNECT 127.0.0.1:" + tls.port())).contains("TCP_TUNNEL/200").contains(" alice ");
            } finally {
                p.destroyForcibly();
                p.waitFor(15, TimeUnit.SECONDS);
            }
        }
    }

    // ---- TLS and HTTP/2 ------------------------------------------------------------------------------------------

    /** Whether this curl speaks HTTP/2 (its feature list names HTTP2). */
    private static boolean curlHasHttp2(String curl) throws Exception {
        Process p = new ProcessBuilder(curl, "--version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        return out.contains("HTTP2");
    }

    @Test
    void launchedReverseProxyServesHttpsAndHttp2ToCurlAndPrintsTheHttpsLineFirst(@TempDir Path dir) throws Exception {
        String curl = findCurl();
        assumeTrue(curl != null, "curl is not on the PATH");
        TestPki pki = TestPki.create("Launcher CA");
        Path[] site = pki.issue("localhost", "127.0.0.1").writePem(dir, "site", TestPki.KeyFormat.PKCS8);
        Path[] other = pki.issueRsa("other.test").writePem(dir, "other", TestPki.KeyFormat.TRADITIONAL);
        Path ca = Files.writeString(dir.resolve("ca.pem"), pki.caPem());
        Process p = launch("reverse", "--port", "0", "--tls-port", "0", "--upstream", origin.baseUrl(), "--access-log-format", "combined",
                "--tls-cert", site[0].toString(), "--tls-key", site[1].toString(),
                "--tls-cert", other[0].toString(), "--tls-key", other[1].toString());
        try {
            LauncherOutput out = new LauncherOutput(p.getInputStream(), Duration.ofSeconds(10));
            String httpsLine = out.await("gatehouse listening on ");
            assertThat(httpsLine).startsWith("gatehouse listening on https://127.0.0.1:");
            int tlsPort = Integer.parseInt(httpsLine.substring(httpsLine.lastIndexOf(':') + 1));
            int port = out.port("gatehouse listening on http://127.0.0.1:");
            String https = "https://127.0.0.1:" + tlsPort;
            String versionAndStatus = "\n%{http_version} %{http_code}";

            assertThat(curl(curl, "--cacert", ca.toString(), "--http1.1", "-w", versionAndStatus, https + "/hello"))
                    .isEqualTo("hello\n1.1 200");
            assertThat(origin.takeRequest().headers().get("X-Forwarded-Proto")).isEqualTo("https");
            if (curlHasHttp2(curl)) {
                assertThat(curl(curl, "--cacert", ca.toString(), "--http2", "-w", versionAndStatus, https + "/hello"))
                        .isEqualTo("hello\n2 200");
                assertThat(curl(curl, "--http2-prior-knowledge", "-w", versionAndStatus, "http://127.0.0.1:" + port + "/hello"))
                        .isEqualTo("hello\n2 200");
                Path body = Files.write(dir.resolve("body.bin"), new byte[100_000]);
                assertThat(curl(curl, "--cacert", ca.toString(), "--http2", "--data-binary", "@" + body, https + "/upload"))
                        .isEqualTo("bytes=100000");
                // the access log line says HTTP/2.0
                assertThat(out.await("/upload")).contains("HTTP/2.0");
            }
            // SNI: the second pair's certificate for its name
            assertThat(curl(curl, "--cacert", ca.toString(), "--resolve", "other.test:" + tlsPort + ":127.0.0.1",
                    "-w", versionAndStatus, "https://other.test:" + tlsPort + "/hello")).startsWith("hello\n");
            assertThat(curl(curl, "-w", versionAndStatus, "http://127.0.0.1:" + port + "/hello")).isEqualTo("hello\n1.1 200");
        } finally {
            p.destroy();
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(15, TimeUnit.SECONDS);
            }
        }
    }
}
