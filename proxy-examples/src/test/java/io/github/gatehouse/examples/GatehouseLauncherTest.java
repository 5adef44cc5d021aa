package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

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
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class GatehouseLauncherTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("launch")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin launch " + req.path()));

    @Test
    void forwardModePrintsTheListeningLineAndAccessLinesToStandardOutput() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ProxyServer proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--allow-internal-destination", "127.0.0.1:" + origin.port()}, out);
        try {
            assertThat(bytes.toString(StandardCharsets.UTF_8)).startsWith("gatehouse listening on http://127.0.0.1:" + proxy.port());
            HttpResponse<String> response = Clients.throughProxy(proxy.port())
                    .send(HttpRequest.newBuilder(origin.uri("/hello")).build(), BodyHandlers.ofString());
            assertThat(response.body()).isEqualTo("hello");
        } finally {
            proxy.close();
        }
        assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("TCP_MISS/200 5 GET " + origin.baseUrl() + "/hello");
    }

    @Test
    void socksPortPrintsTheSocksLineAndTunnelsThroughItProxyProtocolAndFtpFlagsParse() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProxyServer proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--socks-port", "0", "--ftp",
            "--proxy-protocol-from", "10.0.0.0/8", "--connect-ports", Integer.toString(origin.port()),
            "--allow-internal-destination", "127.0.0.1:" + origin.port()}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
            assertThat(lines[0]).isEqualTo("gatehouse listening on socks5://127.0.0.1:" + proxy.socksPort());
            assertThat(lines[1]).isEqualTo("gatehouse listening on http://127.0.0.1:" + proxy.port());
            try (java.net.Socket s = new java.net.Socket(new java.net.Proxy(java.net.Proxy.Type.SOCKS,
                    new java.net.InetSocketAddress("127.0.0.1", proxy.socksPort())))) {
                s.connect(new java.net.InetSocketAddress("127.0.0.1", origin.port()));
                s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).endsWith("hello");
            }
        } finally {
            proxy.close();
        }
        assertThat(catchThrowable(() -> Gatehouse.start(new String[] {"reverse", "--upstream", origin.baseUrl(),
            "--socks-port", "0"}, System.out))).hasMessageContaining("--socks-port and --ftp are for forward mode");
        assertThat(catchThrowable(() -> Gatehouse.start(new String[] {"forward", "--proxy-protocol-from", "10.0.0.0/33"},
            System.out))).hasMessageContaining("--proxy-protocol-from");
    }

    @Test
    void tlsFlagsStartAnHttpsListenerPrintedBeforeThePlainOne(@TempDir Path dir) throws Exception {
        io.github.gatehouse.core.testsupport.TestPki pki = io.github.gatehouse.core.testsupport.TestPki.create("Launcher unit CA");
        Path[] pem = pki.issue("127.0.0.1").writePem(dir, "a", io.github.gatehouse.core.testsupport.TestPki.KeyFormat.PKCS8);
        Path p12 = pki.issue("p12.test").writePkcs12(dir.resolve("b.p12"), "b", "pw".toCharArray());
        Path pw = Files.writeString(dir.resolve("pw.txt"), "pw\n");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port", "0", "--tls-port", "0", "--upstream", origin.baseUrl(),
            "--tls-cert", pem[0].toString(), "--tls-key", pem[1].toString(), "--tls-keystore", p12.toString(),
            "--tls-keystore-password-file", pw.toString(), "--redirect-https", "--tls-check", "0", "--max-concurrent-streams", "16"},
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
            assertThat(lines[0]).isEqualTo("gatehouse listening on https://127.0.0.1:" + proxy.tlsPort());
            assertThat(lines[1]).isEqualTo("gatehouse listening on http://127.0.0.1:" + proxy.port());
            java.net.http.HttpClient h2 = java.net.http.HttpClient.newBuilder().sslContext(pki.clientContext()).build();
            HttpResponse<String> secure = h2.send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/hello")).build(), BodyHandlers.ofString());
            assertThat(secure.version()).isEqualTo(java.net.http.HttpClient.Version.HTTP_2);
            assertThat(secure.body()).isEqualTo("hello");
            HttpResponse<String> moved = Clients.direct().send(HttpRequest.newBuilder(proxy.uri().resolve("/hello")).build(),
                    BodyHandlers.ofString());
            assertThat(moved.statusCode()).isEqualTo(308);
            assertThat(moved.headers().firstValue("location")).hasValue(proxy.tlsUri() + "/hello");
        } finally {
            proxy.close();
        }
    }

    @Test
    void badTlsCommandLinesAreExplained(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("f.pem"), "x");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--tls-cert", f.toString()))
                .hasMessageContaining("has no --tls-key");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--tls-key", f.toString()))
                .hasMessageContaining("without a --tls-cert");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--tls-port", "8443"))
                .hasMessageContaining("need certificates");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--tls-cert", dir.resolve("none").toString()))
                .hasMessageContaining("not a readable file");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--tls-cert", f.toString(), "--tls-key", f.toString(), "--redirect-https"))
                .hasMessageContaining("reverse mode");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--max-concurrent-streams", "0"))
                .hasMessageContaining("1..10000");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"reverse", "--port", "0", "--upstream", "http://a:1",
            "--tls-cert", f.toString(), "--tls-key", f.toString()}, System.out))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("f.pem");
        LauncherOptions o = LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--tls-cert", f.toString(), "--tls-key", f.toString());
        assertThat(o.tlsPort).isEqualTo(8443);
    }

    @Test
    void reverseModeWithJsonAccessLogFile(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("access.json");
        ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port=0", "--upstream", origin.baseUrl(),
            "--access-log", log.toString(), "--access-log-format", "json", "--upstream-timeout", "5s"}, new PrintStream(new ByteArrayOutputStream()));
        try {
            HttpResponse<String> response = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello")).build(),
                    BodyHandlers.ofString());
            assertThat(response.body()).isEqualTo("hello");
        } finally {
            proxy.close();
        }
        assertThat(Files.readString(log)).contains("\"method\":\"GET\"").contains("\"status\":200");
    }

    @Test
    void slowClientFlagsBoundHeadsAndBodies() throws Exception {
        LauncherOptions o = LauncherOptions.parse("forward", "--min-data-rate", "1k/s", "--min-response-rate", "0",
                "--header-timeout", "2s", "--data-rate-grace", "0");
        assertThat(o.requestRate()).isEqualTo(io.github.gatehouse.core.DataSize.kibibytes(1));
        assertThat(o.responseRate()).isEqualTo(io.github.gatehouse.core.DataSize.bytes(0));
        assertThat(o.headerTimeout).isEqualTo(Duration.ofSeconds(2));
        assertThat(o.dataRateGrace).isEqualTo(Duration.ZERO);
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--min-data-rate", "fast"))
                .hasMessageContaining("--min-data-rate: 'fast' (expected: bytes a second such as 500, 1k or 64k/s; 0 = off)");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--header-timeout", "0s")).hasMessageContaining("--header-timeout");

        ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port", "0", "--upstream", origin.baseUrl(),
            "--header-timeout", "300ms", "--min-request-rate", "1k", "--data-rate-grace", "300ms", "--access-log", "off"},
                new PrintStream(new ByteArrayOutputStream()));
        try (java.net.Socket head = new java.net.Socket("127.0.0.1", proxy.port());
                java.net.Socket body = new java.net.Socket("127.0.0.1", proxy.port())) {
            head.setSoTimeout(10_000);
            body.setSoTimeout(10_000);
            head.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            body.getOutputStream().write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(head.getInputStream().read()).isEqualTo(-1);   // closed: no complete head in 300 ms
            String reply = new String(body.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(reply).startsWith("HTTP/1.1 408 Request Timeout\r\n")
                    .contains("\r\n\r\n408 request body arrived slower than 1024 bytes/s (3 bytes in ");
        } finally {
            proxy.close();
        }
    }

    @Test
    void noUpgradeRefusesUpgradeRequestsWith403InReverseAndForwardMode() throws Exception {
        String upgrade = "Connection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        ProxyServer proxy = Gatehouse.start(new String[] {"reverse", "--port", "0", "--upstream", origin.baseUrl(),
            "--no-upgrade", "--access-log", "off"}, new PrintStream(new ByteArrayOutputStream()));
        try {
            io.github.gatehouse.core.testsupport.RawHttp.Reply reply = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                    proxy.port(), "GET /hello HTTP/1.1\r\nHost: a.test\r\n" + upgrade);
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("does not allow Upgrade: websocket");
            assertThat(origin.requestCount()).isZero();
        } finally {
            proxy.close();
        }
        proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--allow-internal-destination",
            "127.0.0.1:" + origin.port(), "--no-upgrade", "--access-log", "off"}, new PrintStream(new ByteArrayOutputStream()));
        try {
            io.github.gatehouse.core.testsupport.RawHttp.Reply reply = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                    proxy.port(), "GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                            + "\r\n" + upgrade);
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("this forward proxy does not allow Upgrade: websocket");
            assertThat(reply.headers().get("proxy-status")).contains("http_request_denied");
            assertThat(origin.requestCount()).isZero();
            HttpResponse<String> plain = Clients.throughProxy(proxy.port()).send(HttpRequest.newBuilder(URI.create(origin.baseUrl()
                    + "/hello")).build(), BodyHandlers.ofString());
            assertThat(plain.statusCode()).as("plain requests still pass").isEqualTo(200);
        } finally {
            proxy.close();
        }
    }

    @Test
    void h2WebSocketOffStopsTheListenerFromOfferingExtendedConnect() throws Exception {
        for (String[] flags : new String[][] {{}, {"--h2-websocket", "on"}, {"--h2-websocket", "off"}}) {
            String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("reverse", "--port", "0", "--upstream",
                    origin.baseUrl(), "--access-log", "off"), java.util.Arrays.stream(flags)).toArray(String[]::new);
            ProxyServer proxy = Gatehouse.start(args, new PrintStream(new ByteArrayOutputStream()));
            org.eclipse.jetty.http2.client.HTTP2Client client = new org.eclipse.jetty.http2.client.HTTP2Client();
            client.start();
            try {
                java.util.concurrent.CompletableFuture<java.util.Map<Integer, Integer>> settings = new java.util.concurrent.CompletableFuture<>();
                client.connect(new java.net.InetSocketAddress("127.0.0.1", proxy.port()),
                        new org.eclipse.jetty.http2.api.Session.Listener() {
                            @Override
                            public void onSettings(org.eclipse.jetty.http2.api.Session session,
                                    org.eclipse.jetty.http2.frames.SettingsFrame frame) {
                                settings.complete(frame.getSettings());
                            }
                        }, new org.eclipse.jetty.util.Promise.Completable<>());
                int expected = flags.length > 0 && flags[1].equals("off") ? 0 : 1;
                assertThat(settings.get(10, java.util.concurrent.TimeUnit.SECONDS))
                        .as("SETTINGS_ENABLE_CONNECT_PROTOCOL with %s", String.join(" ", flags))
                        .containsEntry(org.eclipse.jetty.http2.frames.SettingsFrame.ENABLE_CONNECT_PROTOCOL, expected);
            } finally {
                client.stop();
                proxy.close();
            }
        }
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", origin.baseUrl(), "--h2-websocket", "maybe"))
                .hasMessage("--h2-websocket: 'maybe' (expected: on or off)");
    }

    @Test
    void badCommandLinesAreExplained() {
        assertThatThrownBy(() -> LauncherOptions.parse()).hasMessageContaining("missing mode");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse")).hasMessageContaining("--upstream");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--port", "70000")).hasMessageContaining("'70000'");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--idle-timeout", "soon")).hasMessageContaining("duration");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--frobnicate")).hasMessageContaining("unknown argument: --frobnicate");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--access-log-format", "xml")).hasMessageContaining("squid, combined or json");
        assertThatThrownBy(() -> Gatehouse.start(new String[] {"reverse", "--upstream", "ftp://x"}, System.out))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("ftp://x");
    }

    @Test
    void reverseFlagsBuildThePool() throws Exception {
        LauncherOptions o = LauncherOptions.parse("reverse", "--upstream", "http://a:1,weight=3", "--upstream", "http://b:2",
                "--balance", "hash:header:X-User", "--health-check", "/health", "--health-interval", "2s", "--retries", "2");
        io.github.gatehouse.core.UpstreamPool pool = Gatehouse.pool(o);
        assertThat(pool.members()).hasSize(2);
        assertThat(pool.members().get(0).weight()).isEqualTo(3);
        assertThat(pool.healthCheck().orElseThrow().interval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(pool.retryPolicy().retries()).isEqualTo(2);
        assertThat(pool.balancer().toString()).isEqualTo("consistentHash");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--balance", "fastest"))
                .hasMessageContaining("'fastest'");
        assertThatThrownBy(() -> Gatehouse.pool(LauncherOptions.parse("reverse", "--upstream", "http://a:1,wait=3")))
                .hasMessageContaining("weight=N");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--retries", "2")).hasMessageContaining("reverse mode");
    }

    @Test
    void retryOnChoosesTheTriggers() throws Exception {
        io.github.gatehouse.core.RetryPolicy byDefault = Gatehouse.pool(LauncherOptions.parse("reverse", "--upstream",
                "http://a:1")).retryPolicy();
        assertThat(byDefault.retryStatuses()).isEmpty();
        io.github.gatehouse.core.RetryPolicy policy = Gatehouse.pool(LauncherOptions.parse("reverse", "--upstream",
                "http://a:1", "--retry-on", "connect-failure,503,timeout")).retryPolicy();
        assertThat(policy.retryConditions()).containsExactlyInAnyOrder(io.github.gatehouse.core.RetryPolicy.Condition.CONNECT_FAILURE,
                io.github.gatehouse.core.RetryPolicy.Condition.TIMEOUT);
        assertThat(policy.retryStatuses()).containsExactly(503);
        assertThat(policy.retries()).isEqualTo(1);
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--retry-on", "404"))
                .hasMessageContaining("'404'");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--retry-on", "reset")).hasMessageContaining("reverse mode");
    }

    @Test
    void cacheAndFilterFlagsWork(@TempDir Path dir) throws Exception {
        Path denyList = dir.resolve("deny.txt");
        Files.writeString(denyList, "# blocked\nblocked.example\n");
        Path users = dir.resolve("users.htpasswd");
        Files.writeString(users, "alice:{SHA}" + java.util.Base64.getEncoder().encodeToString(
                java.security.MessageDigest.getInstance("SHA-1").digest("wonder".getBytes(StandardCharsets.UTF_8))) + "\n");
        ProxyServer proxy = Gatehouse.start(new String[] {"forward", "--port", "0", "--allow-all-internal-destinations",
            "--cache-memory", "16m", "--deny-list", denyList.toString(), "--deny-host", "*.ads.example",
            "--block-keyword", "casino", "--users", users.toString(), "--rate-limit", "1000/s", "--access-log", "off"},
                new PrintStream(new ByteArrayOutputStream()));
        try {
            String auth = "Proxy-Authorization: Basic " + java.util.Base64.getEncoder().encodeToString("alice:wonder".getBytes(StandardCharsets.UTF_8));
            assertThat(raw(proxy, "http://blocked.example/", auth).status()).isEqualTo(403);
            assertThat(raw(proxy, "http://x.ads.example/", auth).status()).isEqualTo(403);
            assertThat(raw(proxy, origin.baseUrl() + "/hello", "X-No-Auth: 1").status()).isEqualTo(407);
            assertThat(raw(proxy, origin.baseUrl() + "/headers?Cache-Control=max-age%3D60", auth).status()).isEqualTo(200);
            io.github.gatehouse.core.testsupport.RawHttp.Reply second = raw(proxy, origin.baseUrl() + "/headers?Cache-Control=max-age%3D60", auth);
            assertThat(second.status()).isEqualTo(200);
            assertThat(second.headers()).containsKey("age");
        } finally {
            proxy.close();
        }
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "lots")).hasMessageContaining("'lots'");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--users", dir.resolve("missing").toString()))
                .hasMessageContaining("not a readable file");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--rate-limit", "fast")).hasMessageContaining("N/s");
    }

    @Test
    void cacheReplaySetCookieFlagReplaysStoredCookies() throws Exception {
        String url = origin.baseUrl() + "/headers?Cache-Control=public%2C%20max-age%3D60&Set-Cookie=lang%3Den&v=";
        for (boolean replay : new boolean[] {false, true}) {
            String[] args = replay
                    ? new String[] {"forward", "--port", "0", "--allow-internal-destinations", "--cache-memory", "16m",
                        "--access-log", "off", "--cache-replay-set-cookie"}
                    : new String[] {"forward", "--port", "0", "--allow-internal-destinations", "--cache-memory", "16m",
                        "--access-log", "off"};
            ProxyServer proxy = Gatehouse.start(args, new PrintStream(new ByteArrayOutputStream()));
            try {
                assertThat(raw(proxy, url + replay, "X-A: 1").headers().get("set-cookie")).isEqualTo("lang=en");
                io.github.gatehouse.core.testsupport.RawHttp.Reply hit = raw(proxy, url + replay, "X-A: 1");
                assertThat(hit.headers()).containsKey("age");
                assertThat(hit.headers().get("set-cookie")).as("replay " + replay).isEqualTo(replay ? "lang=en" : null);
            } finally {
                proxy.close();
            }
        }
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-replay-set-cookie"))
                .hasMessageContaining("--cache-replay-set-cookie needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "1m", "--cache-replay-set-cookie=no"))
                .hasMessageContaining("takes no value");
    }

    @Test
    void cacheTargetedFieldsFlagChoosesTheTargetedCacheControlFields() throws Exception {
        String path = "/headers?Cache-Control=no-store&CDN-Cache-Control=max-age%3D60&Gatehouse-Cache-Control=no-store&v=";
        String[][] cases = {
            // extra flags | whether the second request is a hit
            {"", "hit"},
            {"--cache-targeted-fields=off", "miss"},
            {"--cache-targeted-fields=Gatehouse-Cache-Control,CDN-Cache-Control", "miss"},
            {"--cache-targeted-fields=X-Unused, CDN-Cache-Control", "hit"},
        };
        int n = 0;
        for (String[] c : cases) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("reverse", "--port", "0", "--upstream",
                    origin.baseUrl(), "--cache-memory", "16m", "--access-log", "off"));
            if (!c[0].isEmpty()) {
                args.add(c[0]);
            }
            ProxyServer proxy = Gatehouse.start(args.toArray(new String[0]), new PrintStream(new ByteArrayOutputStream()));
            try {
                String request = "GET " + path + (n++) + " HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n";
                io.github.gatehouse.core.testsupport.RawHttp.Reply first = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(first.headers().get("cdn-cache-control")).isEqualTo("max-age=60");
                io.github.gatehouse.core.testsupport.RawHttp.Reply second = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(second.headers().get("cache-status")).as(c[0])
                        .satisfies(s -> assertThat(s.contains("; hit")).isEqualTo(c[1].equals("hit")));
            } finally {
                proxy.close();
            }
        }
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-targeted-fields", "off"))
                .hasMessageContaining("--cache-targeted-fields needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-memory", "1m",
                "--cache-targeted-fields", "CDN-Cache-Control,Cache-Control"))
                .hasMessageContaining("--cache-targeted-fields: 'Cache-Control' in 'CDN-Cache-Control,Cache-Control'");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-memory", "1m",
                "--cache-targeted-fields", "A,,B")).hasMessageContaining("--cache-targeted-fields: '' in 'A,,B'");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-memory", "1m",
                "--cache-targeted-fields", "A,a")).hasMessageContaining("listed twice");
    }

    @Test
    void cacheRuleFlagsMakeResponsesWithoutCachingFieldsReusable() throws Exception {
        String[][] cases = {
            // extra flags (joined by &&) | whether the second request for a .deb is a hit
            {"", "miss"},
            {"--cache-rule=-i \\.(deb|rpm|jar|whl)$ 43200 100% 43200 override-expire", "hit"},
            {"--cache-rule=/dists/ 0 0% 0 && --cache-rule=. 60 20% 60", "hit"},
            {"--cache-rule=-i \\.deb$ 0 0% 0 && --cache-rule=. 60 20% 60", "miss"},
        };
        int n = 0;
        for (String[] c : cases) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("reverse", "--port", "0", "--upstream",
                    origin.baseUrl(), "--cache-memory", "16m", "--access-log", "off", "--cache-finish-without-client", "0"));
            if (!c[0].isEmpty()) {
                args.addAll(java.util.List.of(c[0].split(" && ")));
            }
            ProxyServer proxy = Gatehouse.start(args.toArray(new String[0]), new PrintStream(new ByteArrayOutputStream()));
            try {
                String request = "GET /pool/hello_" + (n++) + ".DEB HTTP/1.1\r\nHost: mirror.test\r\nConnection: close\r\n\r\n";
                io.github.gatehouse.core.testsupport.RawHttp.Reply first = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(first.headers().get("cache-control")).isNull();
                io.github.gatehouse.core.testsupport.RawHttp.Reply second = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(second.headers().get("cache-status")).as(c[0])
                        .satisfies(s -> assertThat(s.contains("; hit")).isEqualTo(c[1].equals("hit")));
            } finally {
                proxy.close();
            }
        }
        LauncherOptions o = LauncherOptions.parse("forward", "--cache-memory", "1m", "--cache-rule", "-i \\.deb$ 1 20% 2",
                "--cache-rule", ". 0 0% 0 ignore-reload", "--cache-finish-without-client", "64k");
        assertThat(o.cacheRules).extracting(Object::toString).containsExactly("-i \\.deb$ 1 20% 2", ". 0 0% 0 ignore-reload");
        assertThat(o.cacheFinishWithoutClient.toBytes()).isEqualTo(64 * 1024);
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-rule", ". 1 20% 2"))
                .hasMessageContaining("--cache-rule needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-finish-without-client", "1m"))
                .hasMessageContaining("--cache-finish-without-client needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "1m", "--cache-rule", ". 1 20 2"))
                .hasMessage("--cache-rule: cache rule '. 1 20 2': PERCENT '20' (expected: a whole number 0..100000 followed by %, e.g. 20%)");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "1m", "--cache-rule", ". 1 20% 2 refresh-ims"))
                .hasMessageContaining("unknown option 'refresh-ims'");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cache-memory", "1m", "--cache-finish-without-client", "lots"))
                .hasMessageContaining("--cache-finish-without-client: 'lots'");
    }

    @Test
    void cacheBackgroundRevalidationFlagTurnsStaleWhileRevalidateOnAndOff() throws Exception {
        // stale at once, and within its stale-while-revalidate window: served stale only while background
        // revalidation is on; off, the second request waits for the origin
        String path = "/headers?Cache-Control=max-age%3D0,%20stale-while-revalidate%3D600&swr=";
        String[][] cases = {
            // extra flag | whether the second request is served stale while revalidating
            {"", "stale"},
            {"--cache-background-revalidation=on", "stale"},
            {"--cache-background-revalidation=off", "forwarded"},
        };
        int n = 0;
        for (String[] c : cases) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("reverse", "--port", "0", "--upstream",
                    origin.baseUrl(), "--cache-memory", "16m", "--access-log", "off"));
            if (!c[0].isEmpty()) {
                args.add(c[0]);
            }
            ProxyServer proxy = Gatehouse.start(args.toArray(new String[0]), new PrintStream(new ByteArrayOutputStream()));
            try {
                String request = "GET " + path + (n++) + " HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n";
                io.github.gatehouse.core.testsupport.RawHttp.Reply first = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(first.headers().get("cache-status")).endsWith("; stored");
                io.github.gatehouse.core.testsupport.RawHttp.Reply second = io.github.gatehouse.core.testsupport.RawHttp.exchange(
                        proxy.port(), request);
                assertThat(second.headers().get("cache-status")).as(c[0]).satisfies(s -> assertThat(
                        s.contains("; hit;") && s.contains("detail=stale-while-revalidate")).isEqualTo(c[1].equals("stale")));
            } finally {
                proxy.close();
            }
        }
        assertThat(LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-memory", "1m",
                "--cache-background-revalidation", "OFF").cacheBackgroundRevalidation).isFalse();
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1",
                "--cache-background-revalidation", "off")).hasMessageContaining("--cache-background-revalidation needs a cache");
        assertThatThrownBy(() -> LauncherOptions.parse("reverse", "--upstream", "http://a:1", "--cache-memory", "1m",
                "--cache-background-revalidation", "no"))
                .hasMessage("--cache-background-revalidation: 'no' (expected: on or off)");
    }

    private static io.github.gatehouse.core.testsupport.RawHttp.Reply raw(ProxyServer proxy, String url, String header) throws Exception {
        URI u = URI.create(url);
        String hostPort = u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "");
        return io.github.gatehouse.core.testsupport.RawHttp.exchange(proxy.port(), "GET " + url + " HTTP/1.1\r\nHost: " + hostPort
                + "\r\n" + header + "\r\nConnection: close\r\n\r\n");
    }

    @Test
    void defaultsAndDurations() throws Exception {
        assertThat(LauncherOptions.parse("forward").port).isEqualTo(3128);
        assertThat(LauncherOptions.parse("reverse", "--upstream", "http://a:1").port).isEqualTo(8080);
        assertThat(LauncherOptions.parse("forward").bind).isEqualTo("127.0.0.1");
        assertThat(LauncherOptions.parseDuration("500ms", "x")).isEqualTo(Duration.ofMillis(500));
        assertThat(LauncherOptions.parseDuration("2m", "x")).isEqualTo(Duration.ofMinutes(2));
        assertThat(LauncherOptions.parseDuration("PT3S", "x")).isEqualTo(Duration.ofSeconds(3));
        assertThat(LauncherOptions.parse("--help").help).isTrue();
    }
}
