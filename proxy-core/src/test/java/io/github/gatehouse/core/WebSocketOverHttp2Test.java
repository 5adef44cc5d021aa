package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.HttpProxy;
import org.eclipse.jetty.client.Origin;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpScheme;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.api.Stream;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.frames.DataFrame;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.exceptions.UpgradeException;
import org.eclipse.jetty.websocket.client.JettyUpgradeListener;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * WebSocket over HTTP/2 (RFC 8441 extended CONNECT) from h2c clients, relayed to an HTTP/1.1 WebSocket origin as an
 * upgrade, in reverse and forward mode: Jetty's WebSocket client on an HTTP/2 transport, a Jetty WebSocket origin, and
 * for the first bytes a raw HTTP/2 client. On by default; {@code webSocketOverHttp2(false)} turns the listeners'
 * announcement off, and refusing routes and {@code refuseForwardUpgrades()} answer 403 on the stream.
 *
 * <p>Jetty's client (12.1.14) has a race of its own on HTTP/2: it hands the stream to the WebSocket session (which may
 * then send, and hear the answer) before it looks at the 200's content, and with no content listener it reads one DATA
 * frame as that content and drops it. So every connect here goes through {@link #KEEP_TUNNEL_DATA}, a content listener
 * that reads nothing. Without it, about 1 run in 10 lost the first echo, which the proxy had written to the stream
 * (its log counted the bytes): see {@link #dataSentRightBehindTheExtendedConnectIsNotLost} for the proxy's side.
 */
class WebSocketOverHttp2Test {
    static final int BIG = 16 * 1024 * 1024;
    static Server origin;
    static int originPort;
    static final BlockingQueue<String> upgrades = new LinkedBlockingQueue<>();
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static ProxyServer reverse;
    static ProxyServer off;
    static ProxyServer forward;
    static ProxyServer forwardRefusing;

    /** Keeps Jetty's client from reading the tunnel's first DATA frame as the 200's content (see the class doc). */
    static final JettyUpgradeListener KEEP_TUNNEL_DATA = new JettyUpgradeListener() {
        @Override
        public void onHandshakeRequest(org.eclipse.jetty.client.Request request) {
            request.onResponseContentSource((response, content) -> {
                if (response.getStatus() != 200) {
                    drain(content); // a refusal's body, read to its end so that the handshake fails
                }
                // an extended CONNECT's 200 has no content: the stream's DATA belongs to the WebSocket
            });
        }
    };

    private static void drain(org.eclipse.jetty.io.Content.Source content) {
        while (true) {
            org.eclipse.jetty.io.Content.Chunk chunk = content.read();
            if (chunk == null) {
                content.demand(() -> drain(content));
                return;
            }
            chunk.release();
            if (chunk.isLast()) {
                return;
            }
        }
    }

    @BeforeAll
    static void start() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("origin");
        origin = new Server(threads);
        ServerConnector connector = new ServerConnector(origin);
        connector.setHost("127.0.0.1");
        origin.addConnector(connector);
        origin.setHandler(WebSocketUpgradeHandler.from(origin, container -> {
            container.setMaxBinaryMessageSize(2L * BIG);
            container.setMaxTextMessageSize(2L * BIG);
            container.addMapping("/*", (rq, rs, cb) -> {
                upgrades.add(rq.getMethod() + " " + rq.getHttpURI().getPath() + " " + rq.getConnectionMetaData().getProtocol()
                        + " via=" + rq.getHeaders().get("Via"));
                return new EchoSocket();
            });
        }));
        origin.start();
        originPort = connector.getLocalPort();
        String originUrl = "http://127.0.0.1:" + originPort;
        reverse = ProxyServer.builder().route(Route.any().pathPrefix("/refused").refuseUpgrades().to(originUrl))
                .route(Route.any().to(originUrl)).accessLog(accessLog).build().start();
        off = ProxyServer.builder().route(Route.any().to(originUrl)).webSocketOverHttp2(false).build().start();
        forward = ProxyServer.builder().forward().allowInternalDestination("127.0.0.1:" + originPort).accessLog(accessLog)
                .build().start();
        forwardRefusing = ProxyServer.builder().forward().allowInternalDestination("127.0.0.1:" + originPort)
                .refuseForwardUpgrades().accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        reverse.close();
        off.close();
        forward.close();
        forwardRefusing.close();
        origin.stop();
    }

    @BeforeEach
    void clear() {
        upgrades.clear();
        accessLog.clear();
    }

    /** Jetty's WebSocket client over h2c (prior knowledge), through {@code proxyPort} as an HTTP proxy when not 0. */
    private static WebSocketClient h2cClient(int proxyPort) throws Exception {
        HttpClient http = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
        if (proxyPort != 0) {
            http.getProxyConfiguration().addProxy(new HttpProxy(new Origin.Address("127.0.0.1", proxyPort), false,
                    new Origin.Protocol(List.of("h2c"), false)));
        }
        WebSocketClient ws = new WebSocketClient(http);
        ws.setMaxBinaryMessageSize(2L * BIG);
        ws.setMaxTextMessageSize(2L * BIG);
        ws.start();
        return ws;
    }

    private static Session connect(WebSocketClient ws, Collector c, String uri) throws Exception {
        return ws.connect(c, URI.create(uri), KEEP_TUNNEL_DATA).get(10, TimeUnit.SECONDS);
    }

    @Test
    void anExtendedConnectIsRelayedAsAnUpgradeAndTextAndBinaryFlowBothWays() throws Exception {
        WebSocketClient ws = h2cClient(0);
        try {
            Collector c = new Collector();
            Session session = connect(ws, c, "ws://127.0.0.1:" + reverse.port() + "/echo/h2");
            assertThat(session.getUpgradeResponse().getStatusCode()).isEqualTo(200); // RFC 8441 §5: 200 on the stream
            session.sendText("over an h2 stream", Callback.NOOP);
            assertThat(c.next()).isEqualTo("over an h2 stream");
            session.sendBinary(ByteBuffer.wrap(pattern(600_000)), Callback.NOOP); // past the 256 KiB stream window
            assertThat(c.next()).isEqualTo("binary 600000 intact");
            assertThat(upgrades.poll(10, TimeUnit.SECONDS)).startsWith("GET /echo/h2 HTTP/1.1 via=2 ");
            session.close(1000, "bye", Callback.NOOP);
            assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1000 bye");
        } finally {
            ws.stop();
        }
        // not asserted: the access-log line. It is written once both sides of the tunnel have closed, and Jetty's client
        // leaves its HTTP/2 stream half-open after the WebSocket close, so the line comes only at the idle timeout.
    }

    @Test
    void sixteenMebibyteMessagesCrossBothWaysUnderHttp2FlowControl() throws Exception {
        WebSocketClient ws = h2cClient(0);
        try {
            Collector c = new Collector();
            Session session = connect(ws, c, "ws://127.0.0.1:" + reverse.port() + "/echo/big");
            session.sendBinary(ByteBuffer.wrap(pattern(BIG)), Callback.NOOP);
            assertThat(c.next(60)).isEqualTo("binary " + BIG + " intact");
            String text = "x".repeat(BIG);
            session.sendText(text, Callback.NOOP);
            assertThat(c.next(60)).isEqualTo(text);
            session.close(1000, "", Callback.NOOP);
            c.closed.get(10, TimeUnit.SECONDS);
        } finally {
            ws.stop();
        }
    }

    @Test
    void pingIsAnsweredByTheOriginsPongAndCloseCodesPassUnchanged() throws Exception {
        WebSocketClient ws = h2cClient(0);
        try {
            Collector c = new Collector();
            Session session = connect(ws, c, "ws://127.0.0.1:" + reverse.port() + "/echo/ping");
            session.sendPing(ByteBuffer.wrap("are you there".getBytes(StandardCharsets.UTF_8)), Callback.NOOP);
            assertThat(c.next()).isEqualTo("pong:are you there");
            session.sendText("close:4123:going away on purpose", Callback.NOOP);
            assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("4123 going away on purpose");
        } finally {
            ws.stop();
        }
    }

    @Test
    void forwardModeCarriesAnExtendedConnectWhoseSchemeAndAuthorityNameTheOrigin() throws Exception {
        WebSocketClient ws = h2cClient(forward.port());
        try {
            Collector c = new Collector();
            Session session = connect(ws, c, "ws://127.0.0.1:" + originPort + "/echo/forward");
            assertThat(session.getUpgradeResponse().getStatusCode()).isEqualTo(200);
            session.sendText("forwarded over h2", Callback.NOOP);
            assertThat(c.next()).isEqualTo("forwarded over h2");
            assertThat(upgrades.poll(10, TimeUnit.SECONDS)).startsWith("GET /echo/forward HTTP/1.1 via=2 ");
            session.close(1000, "bye", Callback.NOOP);
            assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1000 bye");
        } finally {
            ws.stop();
        }
    }

    @Test
    void aRouteThatRefusesUpgradesAnswers403OnTheStreamAndTheOriginNeverSeesIt() throws Exception {
        WebSocketClient ws = h2cClient(0);
        try {
            assertThatThrownBy(() -> connect(ws, new Collector(), "ws://127.0.0.1:" + reverse.port() + "/refused/x"))
                    .hasCauseInstanceOf(UpgradeException.class)
                    .satisfies(e -> assertThat(((UpgradeException) e.getCause()).getResponseStatusCode()).isEqualTo(403));
        } finally {
            ws.stop();
        }
        assertThat(accessLog.take("/refused/x").denied()).isTrue();
        assertThat(upgrades).isEmpty();
    }

    @Test
    void aForwardProxyThatRefusesUpgradesAnswers403OnTheStream() throws Exception {
        WebSocketClient ws = h2cClient(forwardRefusing.port());
        try {
            assertThatThrownBy(() -> connect(ws, new Collector(), "ws://127.0.0.1:" + originPort + "/echo/refused"))
                    .hasCauseInstanceOf(UpgradeException.class)
                    .satisfies(e -> assertThat(((UpgradeException) e.getCause()).getResponseStatusCode()).isEqualTo(403));
        } finally {
            ws.stop();
        }
        AccessLogEntry line = accessLog.take("/echo/refused");
        assertThat(line.denied()).isTrue();
        assertThat(line.reason()).contains("does not allow Upgrade: websocket");
        assertThat(upgrades).isEmpty();
    }

    @Test
    void turnedOffTheListenerDoesNotOfferExtendedConnect() throws Exception {
        WebSocketClient ws = h2cClient(0);
        try {
            assertThatThrownBy(() -> connect(ws, new Collector(), "ws://127.0.0.1:" + off.port() + "/echo/off"))
                    .isInstanceOf(ExecutionException.class);
        } finally {
            ws.stop();
        }
        assertThat(upgrades).isEmpty();
    }

    /**
     * The proxy's side of the first bytes: a raw HTTP/2 client sends its first WebSocket frame in the same breath as
     * the extended CONNECT, before the proxy has dialled the origin or answered 200. The frame waits on the stream and
     * goes upstream once the tunnel is wired; the echo follows the 200.
     */
    @Test
    void dataSentRightBehindTheExtendedConnectIsNotLost() throws Exception {
        HTTP2Client h2 = new HTTP2Client();
        h2.start();
        try {
            CompletableFuture<org.eclipse.jetty.http2.api.Session> sessionPromise = new CompletableFuture<>();
            h2.connect(new InetSocketAddress("127.0.0.1", reverse.port()), new org.eclipse.jetty.http2.api.Session.Listener() {
            }, Promise.from(sessionPromise::complete, sessionPromise::completeExceptionally));
            org.eclipse.jetty.http2.api.Session session = sessionPromise.get(10, TimeUnit.SECONDS);
            MetaData.ConnectRequest request = new MetaData.ConnectRequest(HttpScheme.HTTP,
                    new HostPortHttpField("127.0.0.1:" + reverse.port()), "/echo/early",
                    HttpFields.build().put("Sec-WebSocket-Version", "13"), "websocket");
            CompletableFuture<Integer> status = new CompletableFuture<>();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            CompletableFuture<byte[]> echo = new CompletableFuture<>();
            CompletableFuture<Stream> streamPromise = new CompletableFuture<>();
            session.newStream(new HeadersFrame(request, null, false), Promise.from(streamPromise::complete,
                    streamPromise::completeExceptionally), new Stream.Listener() {
                        @Override
                        public void onHeaders(Stream stream, HeadersFrame frame) {
                            status.complete(((MetaData.Response) frame.getMetaData()).getStatus());
                            stream.demand();
                        }

                        @Override
                        public void onDataAvailable(Stream stream) {
                            Stream.Data data = stream.readData();
                            if (data != null) {
                                ByteBuffer b = data.frame().getByteBuffer();
                                byte[] bytes = new byte[b.remaining()];
                                b.get(bytes);
                                data.release();
                                synchronized (received) {
                                    received.writeBytes(bytes);
                                    if (received.size() >= 2 + 5) {
                                        echo.complete(received.toByteArray());
                                    }
                                }
                            }
                            stream.demand();
                        }
                    });
            Stream stream = streamPromise.get(10, TimeUnit.SECONDS);
            CompletableFuture<Void> sent = new CompletableFuture<>();
            stream.data(new DataFrame(stream.getId(), maskedText("early"), false),
                    org.eclipse.jetty.util.Callback.from(() -> sent.complete(null), sent::completeExceptionally));
            sent.get(10, TimeUnit.SECONDS);
            assertThat(status.get(10, TimeUnit.SECONDS)).isEqualTo(200);
            byte[] frame = echo.get(10, TimeUnit.SECONDS);
            assertThat(frame[0] & 0xFF).as("FIN + text").isEqualTo(0x81);
            assertThat(new String(frame, 2, frame[1], StandardCharsets.UTF_8)).isEqualTo("early");
        } finally {
            h2.stop();
        }
    }

    /** A client's text frame: FIN, opcode 1, masked (RFC 6455 §5.3), for a payload under 126 bytes. */
    static ByteBuffer maskedText(String text) {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        byte[] mask = {0x11, 0x22, 0x33, 0x44};
        ByteBuffer b = ByteBuffer.allocate(2 + 4 + payload.length);
        b.put((byte) 0x81).put((byte) (0x80 | payload.length)).put(mask);
        for (int i = 0; i < payload.length; i++) {
            b.put((byte) (payload[i] ^ mask[i % 4]));
        }
        return b.flip();
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + (i >>> 9));
        }
        return b;
    }

    /** Echoes text and binary messages; "close:CODE:REASON" closes with that code. */
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

    /** What Jetty's client receives: texts, "binary N intact|corrupted", "pong:...", and the close. */
    public static final class Collector implements Session.Listener.AutoDemanding {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();

        String next() throws InterruptedException {
            return next(10);
        }

        String next(int seconds) throws InterruptedException {
            String m = messages.poll(seconds, TimeUnit.SECONDS);
            assertThat(m).as("a message within %s s", seconds).isNotNull();
            return m;
        }

        @Override
        public void onWebSocketText(String message) {
            messages.add(message);
        }

        @Override
        public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
            int n = payload.remaining();
            byte[] expected = pattern(n);
            boolean intact = true;
            for (int i = 0; i < n && intact; i++) {
                intact = payload.get() == expected[i];
            }
            messages.add("binary " + n + (intact ? " intact" : " corrupted"));
            callback.succeed();
        }

        @Override
        public void onWebSocketPong(ByteBuffer payload) {
            messages.add("pong:" + StandardCharsets.UTF_8.decode(payload));
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason, Callback callback) {
            closed.complete(statusCode + " " + reason);
            callback.succeed();
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            closed.completeExceptionally(cause);
        }
    }
}
