package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.CachePeers;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The cache-peer flags ({@code --carp}, {@code --cache-peer*}), their YAML keys, and two launcher-built proxies. */
class CachePeerFlagsTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("peer-flags");

    @TempDir
    Path dir;

    @Test
    void flagsMakeTheRouting() throws Exception {
        LauncherOptions o = LauncherOptions.parse("forward", "--cache-memory", "16m", "--cache-peer", "http://10.0.0.2:3128",
                "--cache-peer", "10.0.0.3:3128", "--cache-peer-timeout", "800ms", "--cache-peer-self", "http://10.0.0.1:3128",
                "--cache-peer-secret", "sixteen-characters-at-least");
        assertThat(o.routesToPeers()).isTrue();
        assertThat(o.cachePeers).containsExactly("http://10.0.0.2:3128", "http://10.0.0.3:3128");
        CachePeers peers = o.cachePeersBuilder().build();
        assertThat(peers.timeout()).isEqualTo(Duration.ofMillis(800));
        LauncherOptions carp = LauncherOptions.parse("reverse", "--upstream", "http://127.0.0.1:1", "--cache-memory", "16m",
                "--cluster-port", "5701", "--carp", "alone");
        assertThat(carp.routesToPeers()).isTrue();
        assertThat(carp.sharesCache()).as("--carp alone: no grid tier").isFalse();
        assertThat(LauncherOptions.parse("reverse", "--upstream", "http://127.0.0.1:1", "--cache-memory", "16m",
                "--cluster-port", "5701", "--carp", "grid").sharesCache()).isTrue();
    }

    @Test
    void yamlKeysAreTheFlagNames() throws Exception {
        Path f = Files.writeString(dir.resolve("gatehouse.yaml"), "mode: forward\ncache-memory: 16m\n"
                + "cache-peer:\n  - http://127.0.0.1:3128\n  - http://127.0.0.1:3129\ncache-peer-timeout: 2s\n"
                + "cache-peer-secret: a-secret-for-the-yaml-test\n");
        LauncherOptions o = ConfigFile.options("--config", f.toString());
        assertThat(o.cachePeers).containsExactly("http://127.0.0.1:3128", "http://127.0.0.1:3129");
        assertThat(o.cachePeerTimeout).isEqualTo(Duration.ofSeconds(2));
        assertThat(o.cachePeerSecret).isEqualTo("a-secret-for-the-yaml-test");
    }

    @Test
    void badValuesAreUsageErrors() {
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "16m", "--cache-peer", "https://x:1"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--cache-peer")
                .hasMessageContaining("expected: http://host:port");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-peer", "http://10.0.0.2:3128"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "16m", "--carp", "alone"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--carp needs a cluster");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "16m", "--cluster-port", "5701",
                "--carp", "sometimes")).isInstanceOf(LauncherOptions.UsageException.class)
                .hasMessageContaining("expected: alone or grid");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "16m", "--cache-peer-timeout", "1s"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("need --carp or --cache-peer");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "16m", "--cache-peer",
                "http://10.0.0.2:3128", "--cache-peer-secret", "short")).isInstanceOf(LauncherOptions.UsageException.class)
                .hasMessageContaining("at least 16");
    }

    @Test
    void twoLauncherBuiltProxiesFetchEachObjectOnce() throws Exception {
        origin.dispatcher(r -> MockResponse.ok("object " + r.path()).header("Cache-Control", "max-age=100"));
        int[] ports = {freePort(), freePort()};
        List<ProxyServer> proxies = new ArrayList<>();
        try {
            for (int port : ports) {
                LauncherOptions o = LauncherOptions.parse("forward", "--port", String.valueOf(port), "--cache-memory", "8m",
                        "--allow-all-internal-destinations", "--cache-peer", "http://127.0.0.1:" + ports[0],
                        "--cache-peer", "http://127.0.0.1:" + ports[1], "--cache-peer-timeout", "1s");
                proxies.add(Gatehouse.configure(o, new PrintStream(new ByteArrayOutputStream())).build().start());
            }
            for (int k = 0; k < 6; k++) {
                for (ProxyServer p : proxies) {
                    HttpClient client = HttpClient.newBuilder()
                            .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", p.port()))).build();
                    HttpResponse<String> r = client.send(HttpRequest.newBuilder(origin.uri("/launched/" + k)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(r.body()).isEqualTo("object /launched/" + k);
                }
            }
            long fetches = proxies.stream().mapToLong(p -> p.cachePeers().orElseThrow().stats().peerFetches()).sum();
            assertThat(fetches).as("one of each object's two requests went to its home").isEqualTo(6);
            assertThat(origin.requestCount()).as("origin requests for 6 objects on 2 instances").isLessThanOrEqualTo(7)
                    .isGreaterThanOrEqualTo(6);
        } finally {
            proxies.forEach(ProxyServer::close);
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
