package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WebSocket upgrades to {@code https://} upstreams ({@code wss} to the origin) on the wire: a Jetty WebSocket origin
 * on TLS with a certificate from a throw-away CA, the proxy (a reverse route to an {@code https://} pool, or forward
 * mode with an absolute-form {@code wss://} target), and real clients. The pool's TLS settings apply to the upgrade:
 * extra roots, endpoint identification, the client certificate (mTLS).
 */
class SecureWebSocketUpstreamTest {
    @TempDir
    static Path dir;
    static TestPki pki;
    static Path caPem;
    static Path clientCrt;
    static Path clientKey;
    static Server origin;
    static int originPort;
    static int mtlsPort;
    static final BlockingQueue<String> upgrades = new LinkedBlockingQueue<>();
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static final HttpClient client = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        pki = TestPki.create("wss test CA");
        caPem = Files.writeString(dir.resolve("ca.pem"), pki.caPem());
        Path keyStore = pki.issue("localhost").writePkcs12(dir.resolve("origin.p12"), "origin", "secret".toCharArray());
        Path[] clientPem = pki.issue("gatehouse-client").writePem(dir, "client", TestPki.KeyFormat.PKCS8);
        clientCrt = clientPem[0];
        clientKey = clientPem[1];

        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("origin");
        origin = new Server(threads);
        // a reverse proxy keeps the client's Host (127.0.0.1:port) while SNI names the member: no SNI/Host check here
        org.eclipse.jetty.server.HttpConfiguration http = new org.eclipse.jetty.server.HttpConfiguration();
        http.addCustomizer(new org.eclipse.jetty.server.SecureRequestCustomizer(false));
        ServerConnector tls = new ServerConnector(origin, serverSsl(keyStore, false),
                new org.eclipse.jetty.server.HttpConnectionFactory(http));
        tls.setHost("127.0.0.1");
        origin.addConnector(tls);
        ServerConnector mtls = new ServerConnector(origin, serverSsl(keyStore, true),
                new org.eclipse.jetty.server.HttpConnectionFactory(http));
        mtls.setHost("127.0.0.1");
        origin.addConnector(mtls);
        origin.setHandler(WebSocketUpgradeHandler.from(origin, container -> container.addMapping("/echo/*", (rq, rs, cb) -> {
            upgrades.add(rq.getHttpURI().getPath() + " secure=" + rq.isSecure() + " via=" + rq.getHeaders().get("Via"));
            return new EchoSocket();
        })));
        origin.start();
        originPort = tls.getLocalPort();
        mtlsPort = mtls.getLocalPort();
    }

    private static SslContextFactory.Server serverSsl(Path keyStore, boolean needClientAuth) throws Exception {
        SslContextFactory.Server ssl = new SslContextFactory.Server();
        ssl.setKeyStorePath(keyStore.toString());
        ssl.setKeyStorePassword("secret");
        if (needClientAuth) {
            java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            try (InputStream in = Files.newInputStream(caPem)) {
                trust.setCertificateEntry("ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            ssl.setTrustStore(trust);
            ssl.setNeedClientAuth(true);
        }
        return ssl;
    }

    @AfterAll
    static void stop() throws Exception {
        origin.stop();
    }

    @BeforeEach
    void clear() {
        upgrades.clear();
        accessLog.clear();
    }

    @Test
    void aReverseRouteToAnHttpsPoolUpgradesOverTlsAndFramesEchoBothWays() throws Exception {
        UpstreamPool pool = UpstreamPool.of("https://localhost:" + originPort).tls(UpstreamTls.defaults().trust(caPem));
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).accessLog(accessLog).build().start()) {
            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + p.port() + "/echo/tls"), c)
                    .get(10, TimeUnit.SECONDS);
            ws.sendText("over tls", true).get(10, TimeUnit.SECONDS);
            assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo("over tls");
            String big = "y".repeat(60_000); // under the origin's 64 KiB message limit, over TLS records of 16 KiB
            ws.sendText(big, true).get(10, TimeUnit.SECONDS);
            assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo(big);
            assertThat(upgrades.take()).startsWith("/echo/tls secure=true via=1.1 ");
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
            assertThat(c.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1000 done");
            AccessLogEntry line = accessLog.take("/echo/tls");
            assertThat(line.status()).isEqualTo(101);
            assertThat(line.bytesIn()).isGreaterThan(60_000);
            assertThat(line.bytesOut()).isGreaterThan(60_000);
        }
    }

    @Test
    void anOriginCertificateThatDoesNotNameTheMemberIs502WithATlsErrorAndNoUpgrade() throws Exception {
        // the certificate names localhost; the member is 127.0.0.1
        UpstreamPool pool = UpstreamPool.of("https://127.0.0.1:" + originPort).tls(UpstreamTls.defaults().trust(caPem));
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).accessLog(accessLog).build().start()) {
            assertThatThrownBy(() -> client.newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + p.port() + "/echo/wrong-name"), new Collector()).get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(WebSocketHandshakeException.class)
                    .satisfies(e -> assertThat(((WebSocketHandshakeException) e).getResponse().statusCode()).isEqualTo(502));
            AccessLogEntry line = accessLog.take("/echo/wrong-name");
            assertThat(line.status()).isEqualTo(502);
            assertThat(upgrades).isEmpty();
        }
    }

    @Test
    void anUntrustedOriginIs502() throws Exception {
        UpstreamPool pool = UpstreamPool.of("https://localhost:" + originPort); // the JDK's roots only
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).accessLog(accessLog).build().start()) {
            assertThatThrownBy(() -> client.newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + p.port() + "/echo/untrusted"), new Collector()).get(10, TimeUnit.SECONDS))
                    .cause().isInstanceOf(WebSocketHandshakeException.class)
                    .satisfies(e -> assertThat(((WebSocketHandshakeException) e).getResponse().statusCode()).isEqualTo(502));
            assertThat(upgrades).isEmpty();
        }
    }

    @Test
    void anOriginThatWantsAClientCertificateGetsThePoolsOne() throws Exception {
        UpstreamTls trusting = UpstreamTls.defaults().trust(caPem);
        UpstreamPool without = UpstreamPool.of("https://localhost:" + mtlsPort).tls(trusting);
        UpstreamPool with = UpstreamPool.of("https://localhost:" + mtlsPort).tls(trusting.clientCertificate(Tls.pem(clientCrt, clientKey)));
        try (ProxyServer p = ProxyServer.builder().route(Route.host("anonymous.test").to(without)).route(Route.any().to(with))
                .accessLog(accessLog).build().start()) {
            Collector c = new Collector();
            WebSocket ws = client.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + p.port() + "/echo/mtls"), c)
                    .get(10, TimeUnit.SECONDS);
            ws.sendText("with a client certificate", true).get(10, TimeUnit.SECONDS);
            assertThat(c.messages.poll(10, TimeUnit.SECONDS)).isEqualTo("with a client certificate");
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            c.closed.get(10, TimeUnit.SECONDS);
            upgrades.clear();

            try (Socket s = new Socket("127.0.0.1", p.port())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(upgradeRequest("/echo/anonymous", "anonymous.test").getBytes(StandardCharsets.US_ASCII));
                assertThat(readHead(s.getInputStream())).startsWith("HTTP/1.1 502");
            }
            assertThat(upgrades).isEmpty();
        }
    }

    @Test
    void forwardModeCarriesAnAbsoluteFormWssUpgradeOverTls() throws Exception {
        try (ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations()
                .upstreamTls(UpstreamTls.defaults().trust(caPem)).accessLog(accessLog).build().start();
                Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(upgradeRequest("wss://localhost:" + originPort + "/echo/forward", "localhost:" + originPort)
                    .getBytes(StandardCharsets.US_ASCII));
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 101 ").containsIgnoringCase("\r\nUpgrade: websocket\r\n")
                    .contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
            out.write(maskedTextFrame("forwarded over tls"));
            out.flush();
            assertThat(in.read()).isEqualTo(0x81); // FIN, text
            int length = in.read();
            assertThat(new String(in.readNBytes(length), StandardCharsets.UTF_8)).isEqualTo("forwarded over tls");
            assertThat(upgrades.take()).startsWith("/echo/forward secure=true");
            out.write(new byte[] {(byte) 0x88, (byte) 0x82, 0, 0, 0, 0, 0x03, (byte) 0xe8}); // close 1000, mask 0
            out.flush();
            assertThat(in.read()).isEqualTo(0x88); // the origin's close frame, then the end of the tunnel
            in.readAllBytes();
            s.shutdownOutput(); // the client's side of the tunnel ends too
            AccessLogEntry line = accessLog.take("/echo/forward");
            assertThat(line.status()).isEqualTo(101);
            assertThat(line.target()).isEqualTo("https://localhost:" + originPort + "/echo/forward"); // wss:// is https://
        }
    }

    static String upgradeRequest(String target, String host) {
        return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    }

    /** A client-to-server text frame (RFC 6455 §5.2), masked, of at most 125 bytes. */
    static byte[] maskedTextFrame(String text) {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        byte[] mask = {0x11, 0x22, 0x33, 0x44};
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(0x81);
        frame.write(0x80 | payload.length);
        frame.writeBytes(mask);
        for (int i = 0; i < payload.length; i++) {
            frame.write(payload[i] ^ mask[i % 4]);
        }
        return frame.toByteArray();
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
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3)) ? matched + 1 : 0;
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    /** Echoes each text message back. */
    public static final class EchoSocket implements Session.Listener.AutoDemanding {
        private Session session;

        @Override
        public void onWebSocketOpen(Session session) {
            this.session = session;
        }

        @Override
        public void onWebSocketText(String message) {
            session.sendText(message, org.eclipse.jetty.websocket.api.Callback.NOOP);
        }
    }

    /** Collects what a java.net.http WebSocket receives. */
    static final class Collector implements WebSocket.Listener {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();
        private final StringBuilder text = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                messages.add(text.toString());
                text.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode + " " + reason);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.completeExceptionally(error);
        }
    }
}
