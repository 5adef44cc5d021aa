package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two launcher JVMs (the packaged jar) on loopback, clustered with {@code --cluster-port} / {@code --cluster-member},
 * each a reverse proxy with a memory cache in front of one origin: a response cached through one instance is a hit on
 * the other without a second origin request, and a purge on the other instance's admin API removes it on the first.
 */
class ClusterLauncherIT {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("cluster")
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin cluster " + req.path()));

    private static final String SITE = "shop.test";
    private static final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** One launched instance: its process, its output, its proxy and admin ports and admin token. */
    private record Instance(Process process, LauncherOutput out, int port, int adminPort, String token, Path log) {
        /** What the launcher logged so far (its standard error), for assertion messages. */
        String logged() {
            try {
                return "\n--- " + log + " ---\n" + Files.readString(log);
            } catch (IOException e) {
                return "(no log: " + e + ")";
            }
        }

        /** GET with the site's name as Host, as behind a load balancer: both instances see the same URL. */
        RawHttp.Reply get(String pathAndQuery) throws Exception {
            return RawHttp.exchange(port, "GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + SITE
                    + "\r\nConnection: close\r\n\r\n");
        }

        HttpResponse<String> admin(String method, String pathAndQuery) throws Exception {
            return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + pathAndQuery))
                    .header("Authorization", "Bearer " + token).method(method, HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(10)).build(), BodyHandlers.ofString());
        }

        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(15, TimeUnit.SECONDS);
            }
        }
    }

    private static Instance launch(String name, int clusterPort, int otherClusterPort) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "-jar", Path.of("target", "gatehouse.jar").toString(),
                "reverse", "--port", "0", "--upstream", origin.baseUrl(), "--cache-memory", "16m",
                "--cluster-name", name, "--cluster-port", Integer.toString(clusterPort),
                "--cluster-member", "127.0.0.1:" + otherClusterPort, "--admin-port", "0"));
        Path log = Path.of("target", "cluster-it-" + clusterPort + ".log");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        LauncherOutput out = new LauncherOutput(p.getInputStream(), Duration.ofSeconds(30));
        int port = out.port("gatehouse listening on http://127.0.0.1:");
        int adminPort = out.port("gatehouse admin listening on http://127.0.0.1:");
        String tokenLine = out.await("gatehouse admin token ");
        String token = tokenLine.substring("gatehouse admin token ".length()).split(" ")[0];
        return new Instance(p, out, port, adminPort, token, log);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aResponseCachedThroughOneLauncherIsAHitOnTheOtherAndAPurgeOnTheOtherRemovesItOnTheFirst() throws Exception {
        int portA = freePort();
        int portB = freePort();
        String name = "it-" + portA;
        Instance a = launch(name, portA, portB);
        Instance b = null;
        try {
            // b starts once a listens; its join returns once it is a member of a's cluster and the partitions settled
            b = launch(name, portB, portA);
            assertThat(b.admin("GET", "/api/stats").body()).as("b's cluster").contains("\"members\":[")
                    .contains("127.0.0.1:" + portA).contains("127.0.0.1:" + portB);
            assertThat(a.admin("GET", "/api/stats").body()).as("a's cluster").contains("127.0.0.1:" + portB);

            String path = "/headers?Cache-Control=" + URLEncoder.encode("max-age=600", StandardCharsets.UTF_8);
            RawHttp.Reply first = a.get(path);
            assertThat(first.status()).isEqualTo(200);
            assertThat(first.bodyText()).isEqualTo("headers");
            assertThat(first.headers().get("cache-status")).contains("stored");
            assertThat(origin.takeRequest().target()).startsWith("/headers");

            Instance fromBInstance = b;
            RawHttp.Reply fromB = b.get(path);
            assertThat(fromB.bodyText()).isEqualTo("headers");
            assertThat(fromB.headers().get("cache-status")).as(() -> "on b" + a.logged() + fromBInstance.logged()).contains("hit");
            assertThat(origin.requestCount()).as("origin requests for one object on two instances").isEqualTo(1);
            assertThat(b.admin("GET", "/api/stats").body()).contains("\"gridHits\":1");
            assertThat(b.admin("GET", "/metrics").body()).contains("gatehouse_cluster_members 2.0")
                    .contains("gatehouse_cache_grid_hits_total 1.0");

            HttpResponse<String> purge = b.admin("POST", "/api/purge?url="
                    + URLEncoder.encode("http://" + SITE + path, StandardCharsets.UTF_8));
            assertThat(purge.statusCode()).isEqualTo(200);
            assertThat(purge.body()).contains("\"purged\":1");

            RawHttp.Reply again = a.get(path);
            assertThat(again.bodyText()).isEqualTo("headers");
            assertThat(again.headers().get("cache-status")).as("on a after the purge on b")
                    .doesNotContain("hit");
            assertThat(origin.takeRequest().target()).startsWith("/headers");
            assertThat(origin.requestCount()).isEqualTo(2);
        } finally {
            if (b != null) {
                b.stop();
            }
            a.stop();
        }
    }
}
