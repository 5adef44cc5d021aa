package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.Clients;
import io.github.gatehouse.core.testing.OriginServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Runs the packaged launcher jar as the README does, in its own JVM. */
class LauncherJarIT {
    @RegisterExtension
    static final OriginServer origin = OriginServer.create("jar");

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

    @Test
    void badFlagExitsWithStatus2() throws Exception {
        Process p = launch("forward", "--no-such-flag");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
    }
}
