package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * WebSocket (and any {@code Upgrade}) through the relay, on the wire: a real Jetty WebSocket origin, the proxy, and
 * real WebSocket clients (java.net.http's for reverse routes, Jetty's through an HTTP proxy for forward mode, which
 * sends the upgrade in absolute form).
 */
class WebSocketRelayTest {
    static final int BIG = 16 * 1024 * 1024;
    static Server origin;
    static int originPort;
    static final BlockingQueue<org.eclipse.jetty.http.HttpFields> upgradeHeads = new LinkedBlockingQueue<>();
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static ProxyServer reverse;
    static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("origin");
        origin = new Server(threads);
        ServerConnector connector = new ServerConnector(origin);
        connector.setHost("127.0.0.1");
        origin.addConnector(connector);
        origin.setHandler(WebSocketUpgradeHandler.from(origin, container -> {
            container.setMaxTextMessageSize(2L * BIG);
            container.setMaxBinaryMessageSize(2L * BIG);
            container.addMapping("/echo/*", (rq, rs, cb) -> {
                upgradeHeads.add(rq.getHeaders().asImmutable());
                return new EchoSocket();
            });
        }));
        origin.start();
        originPort = connector.getLocalPort();
        reverse = ProxyServer.builder().route(Route.host("refusing.test").refuseUpgrades().to(originUrl()))
                .route(Route.any().to(originUrl())).accessLog(accessLog).build().start();
        client = HttpClient.newHttpClient();
    }

    @AfterAll
    static void stop() throws Exception {
        reverse.close();
        origin.stop();
    }

    @BeforeEach
    void clear() {
        accessLog.clear();
        upgradeHeads.clear();
    }

    static String originUrl() {
        return "http://127.0.0.1:" + originPort;
    }

    static URI viaReverse(int port, String path) {
        return URI.create("ws://127.0.0.1:" + port + path);
    }

    @Test
    void textAndBinaryFramesEchoThroughAReverseRouteAndTheLogHas101WithBytesEachWay() throws Exception {
        Collector c = new Collector();
        WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(reverse.port(), "/echo/text"), c).get(10, TimeUnit.SECONDS);

        ws.sendText("hello through the proxy", true).get(10, TimeUnit.SECONDS);
        assertThat(c.next()).isEqualTo("hello through the proxy");
        byte[] bytes = pattern(70_000);
        ws.sendBinary(ByteBuffer.wrap(bytes), true).get(10, TimeUnit.SECONDS);
        assertThat((byte[]) c.next()).isEqualTo(bytes);

        org.eclipse.jetty.http.HttpFields seen = upgradeHeads.take();
        assertThat(seen.get("Via")).contains("1.1 ");
        assertThat(seen.get("X-Forwarded-For")).isEqualTo("127.0.0.1");
        assertThat(seen.get("Upgrade")).isEqualToIgnoringCase("websocket");
        assertThat(seen.get("Sec-WebSocket-Key")).isNotBlank();

        ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
        assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo(WebSocket.NORMAL_CLOSURE + " done");
        AccessLogEntry line = accessLog.take("/echo/text");
        assertThat(line.status()).isEqualTo(101);
        assertThat(line.method()).isEqualTo("GET");
        assertThat(line.bytesIn()).isGreaterThan(70_000);
        assertThat(line.bytesOut()).isGreaterThan(70_000);
        assertThat(line.upstream()).isEqualTo("127.0.0.1:" + originPort);
    }

    @Test
    void sixteenMebibyteMessagesCrossBothWays() throws Exception {
        Collector c = new Collector();
        WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(reverse.port(), "/echo"), c).get(10, TimeUnit.SECONDS);
        byte[] big = pattern(BIG);
        ws.sendBinary(ByteBuffer.wrap(big), true).get(60, TimeUnit.SECONDS);
        assertThat((byte[]) c.next()).isEqualTo(big);
        String text = "x".repeat(BIG);
        ws.sendText(text, true).get(60, TimeUnit.SECONDS);
        assertThat(c.next()).isEqualTo(text);
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
        c.closed.get(10, TimeUnit.SECONDS);
    }

    @Test
    void pingIsAnsweredByTheOriginsPongAndCloseCodesPassUnchanged() throws Exception {
        Collector c = new Collector();
        WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(reverse.port(), "/echo"), c).get(10, TimeUnit.SECONDS);
        ws.sendPing(ByteBuffer.wrap("are you there".getBytes(StandardCharsets.UTF_8))).get(10, TimeUnit.SECONDS);
        assertThat(c.next()).isEqualTo("pong:are you there");
        ws.sendText("close:4123:going away on purpose", true).get(10, TimeUnit.SECONDS);
        assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("4123 going away on purpose");
    }

    @Test
    void fiftyConcurrentSocketsEachGetTheirOwnEchoes() throws Exception {
        List<Collector> collectors = new ArrayList<>();
        List<WebSocket> sockets = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Collector c = new Collector();
            collectors.add(c);
            sockets.add(client.newWebSocketBuilder().buildAsync(viaReverse(reverse.port(), "/echo"), c).get(10, TimeUnit.SECONDS));
        }
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 50; i++) {
                sockets.get(i).sendText("socket " + i + " round " + round, true).get(10, TimeUnit.SECONDS);
            }
            for (int i = 0; i < 50; i++) {
                assertThat(collectors.get(i).next()).isEqualTo("socket " + i + " round " + round);
            }
        }
        for (int i = 0; i < 50; i++) {
            sockets.get(i).sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            collectors.get(i).closed.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRouteThatRefusesUpgradesAnswers403AndTheOriginNeverSeesIt() throws Exception {
        RawHttp.Reply reply = RawHttp.exchange(reverse.port(), "GET /echo/refused HTTP/1.1\r\nHost: refusing.test\r\n"
                + "Connection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");

        assertThat(reply.status()).isEqualTo(403);
        assertThat(reply.bodyText()).contains("does not allow Upgrade: websocket");
        assertThat(reply.headers().get("proxy-status")).contains("http_request_denied");
        assertThat(upgradeHeads).isEmpty();
        assertThat(accessLog.take("/echo/refused").denied()).isTrue();
    }

    @Test
    void anAuthenticatedRouteAnswers401BeforeTheUpgradeAndUpgradesWithCredentials() throws Exception {
        Authenticator users = (credentials, exchange) -> CompletableFuture.completedFuture(
                credentials.flatMap(Credentials::basic).filter(u -> u.user().equals("alice") && u.password().equals("s3cret"))
                        .map(u -> AuthResult.authenticated(u.user()))
                        .orElseGet(() -> AuthResult.challenge("Basic realm=\"ws\"", "credentials required")));
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(originUrl())).authenticator(users)
                .accessLog(accessLog).build().start()) {
            assertThatThrownBy(() -> client.newWebSocketBuilder().buildAsync(viaReverse(p.port(), "/echo"), new Collector())
                    .get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(WebSocketHandshakeException.class)
                    .satisfies(e -> assertThat(((WebSocketHandshakeException) e).getResponse().statusCode()).isEqualTo(401));
            assertThat(upgradeHeads).isEmpty();

            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder()
                    .header("Authorization", "Basic " + Base64.getEncoder().encodeToString("alice:s3cret".getBytes(StandardCharsets.UTF_8)))
                    .buildAsync(viaReverse(p.port(), "/echo"), c).get(10, TimeUnit.SECONDS);
            ws.sendText("authenticated", true).get(10, TimeUnit.SECONDS);
            assertThat(c.next()).isEqualTo("authenticated");
            assertThat(upgradeHeads.take().get("Authorization")).isNull(); // the credentials Gatehouse used stay here
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            c.closed.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anOriginThatAnswersSomethingElseThan101IsRelayedAsAnOrdinaryResponse() throws Exception {
        try (RawOrigin raw = RawOrigin.start(head -> RawOrigin.Reply.of(
                "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\n", 
                "this origin says no\r\n".getBytes(StandardCharsets.US_ASCII)));
                ProxyServer p = ProxyServer.builder().route(Route.any().to(raw.baseUrl())).accessLog(accessLog).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "GET /chat HTTP/1.1\r\nHost: chat.test\r\n"
                    + "Connection: close, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");

            assertThat(reply.status()).isEqualTo(426);
            assertThat(reply.bodyText()).isEqualTo("this origin says no\r\n");
            String upstreamHead = raw.takeHead();
            assertThat(upstreamHead).startsWith("GET /chat HTTP/1.1\r\n").contains("\r\nHost: chat.test\r\n")
                    .contains("\r\nUpgrade: websocket\r\n").contains("\r\nConnection: Upgrade\r\n")
                    .contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").contains("\r\nVia: 1.1 ");
            assertThat(upstreamHead).doesNotContain("close"); // the client's own Connection tokens stay here
            assertThat(accessLog.take("/chat").status()).isEqualTo(426);
        }
    }

    @Test
    void aRefusalWithALengthEndsOnceItsBodyIsInThoughTheOriginKeepsItsConnectionOpen() throws Exception {
        try (RawOrigin raw = RawOrigin.start(head -> RawOrigin.Reply.of("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno"));
                ProxyServer p = ProxyServer.builder().route(Route.any().to(raw.baseUrl())).accessLog(accessLog).build().start();
                Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /refused-then-idle HTTP/1.1\r\nHost: chat.test\r\nConnection: Upgrade, close\r\n"
                    + "Upgrade: websocket\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1); // ends: the proxy closes
            assertThat(reply).startsWith("HTTP/1.1 426").endsWith("\r\n\r\nno");
            assertThat(accessLog.take("/refused-then-idle").status()).isEqualTo(426);
        }
    }

    @Test
    void anOpenTunnelCountsAsAnActiveRequestOfItsMemberUntilItCloses() throws Exception {
        UpstreamPool pool = UpstreamPool.of(originUrl()).balance(LoadBalancing.leastRequests());
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).accessLog(accessLog).build().start()) {
            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(p.port(), "/echo/active"), c).get(10, TimeUnit.SECONDS);
            ws.sendText("still open", true).get(10, TimeUnit.SECONDS);
            assertThat(c.next()).isEqualTo("still open");
            assertThat(pool.stats().get(0).activeRequests()).isEqualTo(1); // least-requests sees the open socket

            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            c.closed.get(10, TimeUnit.SECONDS);
            assertThat(accessLog.take("/echo/active").status()).isEqualTo(101); // written once both sides closed
            assertThat(pool.stats().get(0).activeRequests()).isZero();
            assertThat(pool.stats().get(0).requests()).isEqualTo(1);
        }
    }

    @Test
    void anUnreachableUpstreamIs502WithProxyStatus() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(io.github.gatehouse.core.UpstreamPool.of("http://127.0.0.1:" + closedPort)))
                .accessLog(accessLog).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "GET /chat HTTP/1.1\r\nHost: chat.test\r\n"
                    + "Connection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n");
            assertThat(reply.status()).isEqualTo(502);
            assertThat(reply.headers().get("proxy-status")).contains("connection_refused");
        }
    }

    @Test
    void bytesTheOriginSendsRightBehindIts101ReachTheClientAfterTheHead() throws Exception {
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
                ProxyServer p = ProxyServer.builder().route(Route.any().to(io.github.gatehouse.core.UpstreamPool.of("http://127.0.0.1:" + server.getLocalPort())))
                        .accessLog(accessLog).build().start();
                Socket socket = new Socket("127.0.0.1", p.port())) {
            socket.setSoTimeout(10_000);
            CompletableFuture<String> originSide = CompletableFuture.supplyAsync(() -> {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(10_000);
                    String head = readHead(s.getInputStream());
                    s.getOutputStream().write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n"
                            + "X-Origin: yes\r\n\r\nhello from the new protocol\n").getBytes(StandardCharsets.US_ASCII));
                    byte[] got = s.getInputStream().readNBytes(5);
                    s.getOutputStream().write(("echo:" + new String(got, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII));
                    s.shutdownOutput();
                    return head;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            OutputStream out = socket.getOutputStream();
            out.write("GET /raw HTTP/1.1\r\nHost: raw.test\r\nUpgrade: echo, h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 101 Switching Protocols\r\n").contains("\r\nUpgrade: echo\r\n")
                    .contains("\r\nConnection: Upgrade\r\n").contains("\r\nX-Origin: yes\r\n").contains("\r\nVia: 1.1 ")
                    .doesNotContain("Content-Length").doesNotContain("Transfer-Encoding");
            assertThat(new String(in.readNBytes(28), StandardCharsets.US_ASCII)).isEqualTo("hello from the new protocol\n");
            out.write("12345".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("echo:12345");
            String upstreamHead = originSide.get(10, TimeUnit.SECONDS);
            assertThat(upstreamHead).contains("\r\nUpgrade: echo\r\n").doesNotContain("h2c").doesNotContain("HTTP2-Settings");
            socket.shutdownOutput();
            AccessLogEntry line = accessLog.take("/raw");
            assertThat(line.status()).isEqualTo(101);
            assertThat(line.bytesIn()).isEqualTo(5);
            assertThat(line.bytesOut()).isEqualTo(28 + 10);
        }
    }

    @Test
    void forwardModeCarriesAnAbsoluteFormUpgradeFromJettysWebSocketClient() throws Exception {
        try (ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations().accessLog(accessLog).build().start()) {
            org.eclipse.jetty.client.HttpClient http = new org.eclipse.jetty.client.HttpClient();
            http.getProxyConfiguration().addProxy(new org.eclipse.jetty.client.HttpProxy("127.0.0.1", p.port()));
            WebSocketClient ws = new WebSocketClient(http);
            ws.start();
            try {
                JettyCollector c = new JettyCollector();
                Session session = ws.connect(c, URI.create("ws://127.0.0.1:" + originPort + "/echo/forward")).get(10, TimeUnit.SECONDS);
                session.sendText("forwarded", Callback.NOOP);
                assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo("forwarded");
                session.close(1000, "bye", Callback.NOOP);
                assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1000 bye");
            } finally {
                ws.stop();
            }
            AccessLogEntry line = accessLog.take("/echo/forward");
            assertThat(line.status()).isEqualTo(101);
            assertThat(line.target()).isEqualTo("http://127.0.0.1:" + originPort + "/echo/forward"); // ws:// is http://
            assertThat(upgradeHeads.take().get("X-Forwarded-For")).isNull(); // forward mode adds no forwarding fields
        }
    }

    @Test
    void forwardModeRefusesAnInternalDestinationForAnUpgradeToo() throws Exception {
        try (ProxyServer p = ProxyServer.builder().forward().accessLog(accessLog).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "GET http://127.0.0.1:" + originPort + "/echo HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + originPort + "\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(upgradeHeads).isEmpty();
        }
    }

    @Test
    void upgradeH2cIsNeverForwardedUpstream() throws Exception {
        try (RawOrigin raw = RawOrigin.start(head -> RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
                ProxyServer p = ProxyServer.builder().route(Route.any().to(raw.baseUrl())).accessLog(accessLog).build().start()) {
            // java.net.http asks for h2c with HTTP2-Settings: Jetty upgrades the client connection, the origin sees HTTP/1.1
            java.net.http.HttpResponse<String> r = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()
                    .send(java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/viajdk")).build(),
                            java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(raw.takeHead()).startsWith("GET /viajdk HTTP/1.1").doesNotContainIgnoringCase("upgrade")
                    .doesNotContainIgnoringCase("HTTP2-Settings");
        }
    }

    @Test
    void upgradeH2cIsNeverForwardedUpstreamInForwardModeEither() throws Exception {
        try (RawOrigin raw = RawOrigin.start(head -> RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
                ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations().accessLog(accessLog).build()
                        .start()) {
            // an absolute-form request that asks for h2c: Jetty's h2c support upgrades the client's connection to the proxy
            // (101, then HTTP/2 with the request as stream 1), and the request goes upstream as plain HTTP/1.1
            try (Socket socket = new Socket("127.0.0.1", p.port())) {
                socket.setSoTimeout(10_000);
                OutputStream out = socket.getOutputStream();
                out.write(("GET " + raw.baseUrl() + "/forwarded HTTP/1.1\r\nHost: " + URI.create(raw.baseUrl()).getAuthority()
                        + "\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String head = readHead(socket.getInputStream());
                assertThat(head).startsWith("HTTP/1.1 101 ").containsIgnoringCase("\r\nUpgrade: h2c\r\n");
                out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.write(new byte[] {0, 0, 0, 0x4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
                out.flush();
                assertThat(raw.takeHead()).startsWith("GET /forwarded HTTP/1.1").doesNotContainIgnoringCase("upgrade")
                        .doesNotContainIgnoringCase("h2c").doesNotContainIgnoringCase("HTTP2-Settings");
            }
        }
    }

    @Test
    void aForwardProxyThatRefusesUpgradesAnswers403AndStillTunnelsAndRelaysPlainRequests() throws Exception {
        try (ProxyServer p = ProxyServer.builder().forward().allowInternalDestination("127.0.0.1:" + originPort)
                .refuseForwardUpgrades().accessLog(accessLog).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "GET http://127.0.0.1:" + originPort + "/echo/no HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + originPort + "\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("this forward proxy does not allow Upgrade: websocket");
            assertThat(reply.headers().get("proxy-status")).contains("http_request_denied");
            assertThat(upgradeHeads).isEmpty();
            assertThat(accessLog.take("/echo/no").denied()).isTrue();
        }
        assertThatThrownBy(() -> ProxyServer.builder().refuseForwardUpgrades().route(Route.any().to(originUrl())).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not a forward proxy");
    }

    @Test
    void withACacheOnTheCacheIsNeverAskedAboutAnUpgradeNorShownItsAnswer() throws Exception {
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        HttpCache cache = new HttpCache() {
            @Override
            public CompletionStage<CacheLookup> lookup(Exchange exchange) {
                asked.incrementAndGet();
                return CompletableFuture.completedFuture(CacheLookup.miss());
            }

            @Override
            public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
                asked.incrementAndGet();
                return CacheDecision.pass();
            }
        };
        try (RawOrigin raw = RawOrigin.start(head -> RawOrigin.Reply.of(
                "HTTP/1.1 403 Forbidden\r\nCache-Control: max-age=600\r\nContent-Length: 2\r\n\r\nno"));
                ProxyServer p = ProxyServer.builder().route(Route.host("raw.test").to(raw.baseUrl()))
                        .route(Route.any().to(originUrl())).cache(cache).accessLog(accessLog).build().start()) {
            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(p.port(), "/echo/cached"), c).get(10, TimeUnit.SECONDS);
            ws.sendText("not from a cache", true).get(10, TimeUnit.SECONDS);
            assertThat(c.next()).isEqualTo("not from a cache");
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            c.closed.get(10, TimeUnit.SECONDS);

            RawHttp.Reply refused = RawHttp.exchange(p.port(), "GET /x HTTP/1.1\r\nHost: raw.test\r\n"
                    + "Connection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n");
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.bodyText()).isEqualTo("no");
            assertThat(asked).hasValue(0);
            assertThat(accessLog.take("/echo/cached").cacheStatus()).isNull();
        }
    }

    @Test
    void anIdleTunnelIsClosedAfterTheIdleTimeoutAndLogged() throws Exception {
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(originUrl())).idleTimeout(java.time.Duration.ofMillis(500))
                .accessLog(accessLog).build().start()) {
            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder().buildAsync(viaReverse(p.port(), "/echo/idle"), c).get(10, TimeUnit.SECONDS);
            ws.sendText("then silence", true).get(10, TimeUnit.SECONDS);
            assertThat(c.next()).isEqualTo("then silence");
            // the proxy closes both connections; the client sees its connection end (a close without a close frame)
            assertThat(c.closed.handle((reason, failure) -> "ended").get(10, TimeUnit.SECONDS)).isEqualTo("ended");
            AccessLogEntry line = accessLog.take("/echo/idle");
            assertThat(line.status()).isEqualTo(101);
            assertThat(line.duration()).isGreaterThanOrEqualTo(java.time.Duration.ofMillis(500));
        }
    }

    static String readHead(InputStream in) throws java.io.IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new java.io.EOFException("closed after " + head);
            }
            head.write(b);
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3)) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + (i >>> 9));
        }
        return b;
    }

    /** The origin's socket: echoes text and binary; "close:CODE:REASON" closes with that code. */
    public static final class EchoSocket implements Session.Listener.AutoDemanding {
        private volatile Session session;

        @Override
        public void onWebSocketOpen(Session session) {
            this.session = session;
        }

        @Override
        public void onWebSocketText(String message) {
            if (message.startsWith("close:")) {
                String[] parts = message.split(":", 3);
                session.close(Integer.parseInt(parts[1]), parts[2], Callback.NOOP);
            } else {
                session.sendText(message, Callback.NOOP);
            }
        }

        @Override
        public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
            ByteBuffer copy = ByteBuffer.allocate(payload.remaining());
            copy.put(payload).flip();
            callback.succeed();
            session.sendBinary(copy, Callback.NOOP);
        }
    }

    /** java.net.http's listener: whole messages (text, binary, "pong:...") in a queue, and the close. */
    static final class Collector implements WebSocket.Listener {
        final BlockingQueue<Object> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();
        private final StringBuilder text = new StringBuilder();
        private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

        Object next() throws InterruptedException {
            Object m = messages.poll(60, TimeUnit.SECONDS);
            assertThat(m).as("a message within 60 s").isNotNull();
            return m;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                messages.add(text.toString());
                text.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            binary.writeBytes(b);
            if (last) {
                messages.add(binary.toByteArray());
                binary.reset();
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            messages.add("pong:" + StandardCharsets.UTF_8.decode(message));
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closed.complete(statusCode + " " + reason);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            closed.completeExceptionally(error);
        }
    }

    /** Jetty's client listener. */
    public static final class JettyCollector implements Session.Listener.AutoDemanding {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();

        @Override
        public void onWebSocketText(String message) {
            messages.add(message);
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            closed.complete(statusCode + " " + reason);
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            closed.completeExceptionally(cause);
        }
    }

}
