package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's {@code --config FILE}: keys, errors with lines, routes through the wire, reloads. */
class ConfigFileTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a")
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b")
            .dispatcher(req -> MockResponse.ok("origin b " + req.path()));

    @TempDir
    Path dir;

    private Path write(String yaml) throws Exception {
        return Files.writeString(dir.resolve("gatehouse.yaml"), yaml);
    }

    private static HttpResponse<String> get(ProxyServer proxy, String path) throws Exception {
        return Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + path)).build(), BodyHandlers.ofString());
    }

    /** Replaces the file in one step (as editors that save to a temporary file and rename do). */
    private void replace(Path file, String yaml) throws Exception {
        Path tmp = Files.writeString(dir.resolve("gatehouse.yaml.tmp"), yaml);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void keysAreTheFlagsWithoutDashesAndFlagsOnTheCommandLineWin() throws Exception {
        Path f = write(String.join("\n",
                "mode: reverse",
                "port: 9090",
                "upstream:",
                "  - " + a.baseUrl(),
                "  - " + b.baseUrl() + ",weight=3",
                "balance: least-requests",
                "retry-on: [connect-failure, 503]",
                "idle-timeout: 30s",
                "cache-memory: 16m",
                "cache-replay-set-cookie: true",
                "redirect-https: false",
                "access-log-format: json",
                ""));
        LauncherOptions o = ConfigFile.options("--config", f.toString(), "--port", "0", "--idle-timeout=5s");
        LauncherOptions flags = LauncherOptions.parse("reverse", "--port", "0", "--upstream", a.baseUrl(),
                "--upstream", b.baseUrl() + ",weight=3", "--balance", "least-requests", "--retry-on", "connect-failure,503",
                "--idle-timeout", "5s", "--cache-memory", "16m", "--cache-replay-set-cookie", "--access-log-format", "json");
        assertThat(o.mode).isEqualTo(LauncherOptions.Mode.REVERSE);
        assertThat(o.port).isZero();
        assertThat(o.idleTimeout).isEqualTo(Duration.ofSeconds(5));
        assertThat(o.upstreams).isEqualTo(flags.upstreams);
        assertThat(o.balance).isEqualTo(flags.balance);
        assertThat(o.retryConditions).isEqualTo(flags.retryConditions);
        assertThat(o.retryStatuses).containsExactly(503);
        assertThat(o.cacheMemory).isEqualTo(flags.cacheMemory);
        assertThat(o.cacheReplaySetCookie).isTrue();
        assertThat(o.redirectHttps).isFalse();
        assertThat(o.accessLogFormat).isEqualTo(flags.accessLogFormat);
        assertThat(o.configFile).isEqualTo(f);
        assertThat(ConfigFile.options("--config", Files.writeString(dir.resolve("swr.yaml"),
                "mode: reverse\nupstream: http://a:1\ncache-memory: 1m\ncache-background-revalidation: off\n").toString()).cacheBackgroundRevalidation).isFalse();

        // a list on the command line replaces the file's list as a whole
        LauncherOptions over = ConfigFile.options("--config", f.toString(), "--upstream", "http://127.0.0.1:1");
        assertThat(over.upstreams).containsExactly("http://127.0.0.1:1");
        // and the mode word wins over mode:
        Path fwd = Files.writeString(dir.resolve("fwd.yaml"), "mode: reverse\nconnect-ports: [443, 8443]\n");
        assertThat(ConfigFile.options("forward", "--config", fwd.toString()).connectPorts).containsExactly(443, 8443);
    }

    @Test
    void anOnOffKeyTakesOnOffAndTrueFalse() throws Exception {
        for (String[] c : new String[][] {{"off", "false"}, {"false", "false"}, {"on", "true"}, {"true", "true"}}) {
            LauncherOptions o = ConfigFile.options("--config",
                    write("mode: reverse\nupstream: http://a:1\nh2-websocket: " + c[0] + "\nno-upgrade: true\n").toString());
            assertThat(o.h2WebSocket).as("h2-websocket: %s", c[0]).isEqualTo(Boolean.valueOf(c[1]));
            assertThat(o.noUpgrade).isTrue();
        }
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: forward\nh2-websocket: maybe\n").toString()))
                .hasMessageEndingWith("gatehouse.yaml line 2: key 'h2-websocket': 'maybe' (expected: on or off)");
    }

    @Test
    void everyErrorNamesTheFileTheLineAndTheKey() throws Exception {
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: http://a:1\nbalanse: random\n").toString()))
                .hasMessageEndingWith("gatehouse.yaml line 3: key 'balanse': unknown key (expected: a flag name without"
                        + " its dashes, mode, routes or pools; see --help)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: http://a:1\nbalance: nope\n").toString()))
                .hasMessageEndingWith("gatehouse.yaml line 3: key 'balance': 'nope' (expected: round-robin, weighted,"
                        + " least-requests, random, hash:client, hash:url, hash:header:NAME or hash:cookie:NAME)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: http://a:1\nport:\n  x: 1\n").toString()))
                .hasMessageEndingWith("gatehouse.yaml line 4: key 'port': expected a single value, not a mapping");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: http://a:1\nport: true\n").toString()))
                .hasMessageEndingWith("line 3: key 'port': needs a value (expected: port: VALUE, not true)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: http://a:1\nport: 70000\n").toString()))
                .hasMessageEndingWith("line 3: key 'port': '70000' (expected: a port 0..65535)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: sideways\n").toString()))
                .hasMessageEndingWith("line 1: key 'mode': 'sideways' (expected: forward or reverse)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nport: 1\nport: 2\n").toString()))
                .hasMessageEndingWith("line 3: key 'port': given twice");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\nupstream: [http://a:1\n").toString()))
                .hasMessageContaining("gatehouse.yaml line 3: not valid YAML");
        assertThatThrownBy(() -> ConfigFile.options("--config", write(String.join("\n", "mode: reverse", "routes:",
                "  - path: /api", "    upstream: http://a:1", "    strip: true", "")).toString()))
                .hasMessageContaining("line 5: key 'routes[1].strip': unknown key (expected one of [balance,");
        assertThatThrownBy(() -> ConfigFile.options("--config", write(String.join("\n", "mode: reverse", "routes:",
                "  - path: /api", "    pool: missing", "")).toString()))
                .hasMessageEndingWith("line 4: key 'routes[1].pool': no pool named 'missing' (expected one of [] under pools:)");
        assertThatThrownBy(() -> ConfigFile.options("--config", write(String.join("\n", "mode: reverse", "routes:",
                "  - path: api", "    upstream: http://a:1", "")).toString()))
                .hasMessageContaining("line 3: key 'routes[1].path'");
        assertThatThrownBy(() -> ConfigFile.options("--config", write("mode: reverse\n").toString()))
                .hasMessageEndingWith("gatehouse.yaml: reverse mode needs at least one --upstream URL (or routes: in --config FILE)");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"--config", dir.resolve("none.yaml").toString()}, System.out))
                .hasMessageContaining("--config: cannot read " + dir.resolve("none.yaml"));
    }

    @Test
    void routesAndPoolsRouteThroughTheWire() throws Exception {
        Path f = write(String.join("\n",
                "# two routes to named and inline pools, then the catch-all of upstream:",
                "mode: reverse",
                "port: 0",
                "access-log: off",
                "pools:",
                "  api:",
                "    upstream:",
                "      - url: " + b.baseUrl(),
                "        weight: 2",
                "    balance: round-robin",
                "    retries: 0",
                "routes:",
                "  - path: /api",
                "    strip-prefix: true",
                "    pool: api",
                "  - host: shop.test",
                "    upstream: " + b.baseUrl(),
                "    host-header: upstream",
                "upstream: " + a.baseUrl(),
                ""));
        ProxyServer proxy = Gatehouse.start(new String[] {"--config", f.toString()}, new PrintStream(new ByteArrayOutputStream(), true));
        try {
            assertThat(get(proxy, "/api/items").body()).isEqualTo("origin b /items");
            assertThat(get(proxy, "/other").body()).isEqualTo("origin a /other");
            io.github.gatehouse.core.testsupport.RawHttp.Reply shop = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                    proxy.port(), "GET /x HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
            assertThat(shop.bodyText()).isEqualTo("origin b /x");
        } finally {
            proxy.close();
        }
    }

    @Test
    void aChangedFileIsReloadedAndAnInvalidOneKeepsTheConfigurationInForce() throws Exception {
        Path f = write("mode: reverse\nport: 0\naccess-log: off\nupstream: " + a.baseUrl() + "\n");
        Gatehouse.Launched launched = Gatehouse.launch(new String[] {"--config", f.toString()},
                new PrintStream(new ByteArrayOutputStream(), true));
        ProxyServer proxy = launched.proxy();
        ConfigReloader reloader = launched.reloader();
        try {
            int port = proxy.port();
            assertThat(get(proxy, "/one").body()).isEqualTo("origin a /one");
            reloader.watchFile();

            CompletableFuture<Void> release = new CompletableFuture<>();
            a.serve("/hang", MockResponse.ok("released").holdUntil(release));
            CompletableFuture<HttpResponse<String>> inFlight = Clients.direct().sendAsync(
                    HttpRequest.newBuilder(URI.create(proxy.uri() + "/hang")).build(), BodyHandlers.ofString());
            a.awaitArrival(); // a holds it until released
            CompletableFuture<Boolean> changed = reloader.nextReload();
            replace(f, "mode: reverse\nport: 0\naccess-log: off\nroutes:\n  - path: /b\n    upstream: " + b.baseUrl()
                    + "\nupstream: " + b.baseUrl() + "\n");
            assertThat(changed.get()).isTrue();
            assertThat(get(proxy, "/b/two").body()).isEqualTo("origin b /b/two");
            assertThat(get(proxy, "/two").body()).isEqualTo("origin b /two");
            assertThat(proxy.port()).isEqualTo(port);
            assertThat(inFlight).isNotDone();
            release.complete(null);
            assertThat(inFlight.get().body()).isEqualTo("released"); // finished on the configuration it started on

            CompletableFuture<Boolean> broken = reloader.nextReload();
            replace(f, "mode: reverse\nport: 0\naccess-log: off\nroutes:\n  - path: /b\n    upstream: " + b.baseUrl()
                    + "\n    balance: sideways\nupstream: " + a.baseUrl() + "\n");
            assertThat(broken.get()).isFalse();
            assertThat(get(proxy, "/b/three").body()).isEqualTo("origin b /b/three");

            // a port that cannot be bound: refused, nothing changes
            replace(f, "mode: reverse\nport: " + a.port() + "\naccess-log: off\nupstream: " + a.baseUrl() + "\n");
            assertThat(reloader.reload()).isFalse();
            assertThat(get(proxy, "/b/four").body()).isEqualTo("origin b /b/four");
            assertThat(get(proxy, "/four").body()).isEqualTo("origin b /four");

            // the API call: back to one route
            replace(f, "mode: reverse\nport: 0\naccess-log: off\nupstream: " + a.baseUrl() + "\n");
            CompletableFuture<Boolean> viaApi = reloader.nextReload();
            reloader.reload();
            assertThat(viaApi.get()).isTrue();
            assertThat(get(proxy, "/five").body()).isEqualTo("origin a /five");
        } finally {
            reloader.close();
            proxy.close();
        }
    }

    @Test
    void theHarFlagRecordsEveryExchangeAndKeepsItsRecorderAcrossReloads() throws Exception {
        Path har = dir.resolve("out.har");
        Path f = write("mode: reverse\nport: 0\naccess-log: off\nhar: " + har + "\nhar-body-limit: 1k\nupstream: " + a.baseUrl() + "\n");
        Gatehouse.Launched launched = Gatehouse.launch(new String[] {"--config", f.toString()},
                new PrintStream(new ByteArrayOutputStream(), true));
        try {
            assertThat(get(launched.proxy(), "/first").statusCode()).isEqualTo(200);
            Files.writeString(f, "mode: reverse\nport: 0\naccess-log: off\nhar: " + har + "\nhar-body-limit: 1k\nupstream: "
                    + b.baseUrl() + "\n");
            assertThat(launched.reloader().reload()).isTrue();
            assertThat(get(launched.proxy(), "/second").body()).isEqualTo("origin b /second");
        } finally {
            launched.reloader().close();
            launched.proxy().close();
        }
        String text = Files.readString(har, StandardCharsets.UTF_8);
        assertThat(text).startsWith("{\"log\":{\"version\":\"1.2\"").endsWith("]}}\n")
                .contains("/first").contains("origin b /second");
    }
}
