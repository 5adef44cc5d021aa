package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * WebSocket over HTTP/2 (RFC 8441 extended CONNECT) from h2c clients, relayed to an HTTP/1.1 WebSocket origin as an
 * upgrade: Jetty's WebSocket client on an HTTP/2 transport, the proxy with {@code -Dgatehouse.h2.websocket=true} when
 * built (experimental), and a Jetty WebSocket origin. Without the property the listener does not announce extended
 * CONNECT and the client's handshake fails.
 */
class WebSocketOverHttp2Test {
    static Server origin;
    static int originPort;
    static final BlockingQueue<String> upgrades = new LinkedBlockingQueue<>();
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static ProxyServer enabled;
    static ProxyServer disabled;

    @BeforeAll
    static void start() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("origin");
        origin = new Server(threads);
        ServerConnector connector = new ServerConnector(origin);
        connector.setHost("127.0.0.1");
        origin.addConnector(connector);
        origin.setHandler(WebSocketUpgradeHandler.from(origin, container -> {
            container.setMaxBinaryMessageSize(1 << 20);
            container.addMapping("/echo/*", (rq, rs, cb) -> {
                upgrades.add(rq.getMethod() + " " + rq.getHttpURI().getPath() + " " + rq.getConnectionMetaData().getProtocol()
                        + " via=" + rq.getHeaders().get("Via"));
                return new EchoSocket();
            });
        }));
        origin.start();
        originPort = connector.getLocalPort();
        System.setProperty("gatehouse.h2.websocket", "true");
        try {
            enabled = ProxyServer.builder().route(Route.any().to("http://127.0.0.1:" + originPort)).accessLog(accessLog)
                    .build().start();
        } finally {
            System.clearProperty("gatehouse.h2.websocket");
        }
        disabled = ProxyServer.builder().route(Route.any().to("http://127.0.0.1:" + originPort)).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        enabled.close();
        disabled.close();
        origin.stop();
    }

    private static WebSocketClient h2cClient() throws Exception {
        HttpClient http = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
        WebSocketClient ws = new WebSocketClient(http);
        ws.setMaxBinaryMessageSize(1 << 20);
        ws.start();
        return ws;
    }

    @Test
    void anExtendedConnectIsRelayedAsAnUpgradeAndFramesFlowBothWays() throws Exception {
        WebSocketClient ws = h2cClient();
        try {
            Collector c = new Collector();
            Session session = ws.connect(c, URI.create("ws://127.0.0.1:" + enabled.port() + "/echo/h2")).get(10, TimeUnit.SECONDS);
            assertThat(session.getUpgradeResponse().getStatusCode()).isEqualTo(200); // RFC 8441 §5: 200 on the stream
            session.sendText("over an h2 stream", Callback.NOOP);
            assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo("over an h2 stream");
            byte[] big = new byte[600_000]; // past the 256 KiB stream receive window: flow control both ways
            java.util.Arrays.fill(big, (byte) 7);
            session.sendBinary(ByteBuffer.wrap(big), Callback.NOOP);
            assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo("binary " + big.length);
            assertThat(upgrades.take()).startsWith("GET /echo/h2 HTTP/1.1 via=2 ");
            session.close(1000, "bye", Callback.NOOP);
            assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1000 bye");
        } finally {
            ws.stop();
        }
        // not asserted: the access-log line. It is written once both sides of the tunnel have closed, and Jetty's client
        // leaves its HTTP/2 stream half-open after the WebSocket close, so the line comes only at the idle timeout.
    }

    @Test
    void withoutThePropertyTheListenerDoesNotOfferExtendedConnect() throws Exception {
        WebSocketClient ws = h2cClient();
        try {
            assertThatThrownBy(() -> ws.connect(new Collector(), URI.create("ws://127.0.0.1:" + disabled.port() + "/echo/off"))
                    .get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        } finally {
            ws.stop();
        }
    }

    /** Echoes text and binary messages. */
    public static final class EchoSocket implements Session.Listener.AutoDemanding {
        private volatile Session session;

        @Override
        public void onWebSocketOpen(Session session) {
            this.session = session;
        }

        @Override
        public void onWebSocketText(String message) {
            session.sendText(message, Callback.NOOP);
        }

        @Override
        public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
            ByteBuffer copy = ByteBuffer.allocate(payload.remaining());
            copy.put(payload).flip();
            callback.succeed();
            session.sendBinary(copy, Callback.NOOP);
        }
    }

    /** What Jetty's client receives. */
    public static final class Collector implements Session.Listener.AutoDemanding {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();

        @Override
        public void onWebSocketText(String message) {
            messages.add(message);
        }

        @Override
        public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
            boolean sevens = true;
            int n = payload.remaining();
            while (payload.hasRemaining()) {
                sevens &= payload.get() == 7;
            }
            messages.add("binary " + n + (sevens ? "" : " corrupted"));
            callback.succeed();
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
