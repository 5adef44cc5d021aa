package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testsupport.RawOrigin;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --upstream-proxy-protocol} (and its config-file key) through the launcher, to a raw origin that records bytes. */
class UpstreamProxyProtocolLauncherTest {
    @TempDir
    Path dir;

    @Test
    void theFlagMakesThePoolSendAV1HeaderWithTheClientsAddress() throws Exception {
        try (RawOrigin origin = RawOrigin.start(head -> RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))) {
            ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port", "0", "--upstream", origin.baseUrl(),
                    "--upstream-proxy-protocol", "v1"}, sink());
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write("GET /pp HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 200");
                assertThat(origin.takeHead()).startsWith("PROXY TCP4 127.0.0.1 127.0.0.1 " + s.getLocalPort() + " " + proxy.port()
                        + "\r\nGET /pp HTTP/1.1\r\n");
            } finally {
                proxy.close();
            }
        }
    }

    @Test
    void theConfigFileKeyWorksTooAndBadValuesAreExplained() throws Exception {
        try (RawOrigin origin = RawOrigin.start(head -> RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))) {
            Path config = Files.writeString(dir.resolve("gatehouse.yaml"), "mode: reverse\nport: 0\nupstream: " + origin.baseUrl()
                    + "\nupstream-proxy-protocol: v1\n");
            ProxyServer proxy = Gatehouse.start(new String[] {"--config", config.toString()}, sink());
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write("GET /cfg HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getInputStream().readAllBytes();
                assertThat(origin.takeHead()).startsWith("PROXY TCP4 127.0.0.1 127.0.0.1 ");
            } finally {
                proxy.close();
            }
        }
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--upstream-proxy-protocol", "v3"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("v1 or v2");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--upstream-proxy-protocol", "v2"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("reverse mode");
        assertThat(LauncherOptions.usage()).contains("--upstream-proxy-protocol");
    }

    private static PrintStream sink() {
        return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    }
}
