package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestCertificates;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConnectTunnelTest {
    static MockOrigin tlsOrigin;
    static ProxyServer proxy;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();

    @BeforeAll
    static void start() throws Exception {
        tlsOrigin = MockOrigin.named("tls").useHttps(TestCertificates.serving())
                .serve("/hello", MockResponse.ok("hello"))
                .dispatcher(req -> MockResponse.ok("origin tls " + req.path())).start();
        proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(tlsOrigin.port()).accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        tlsOrigin.close();
    }

    @org.junit.jupiter.api.BeforeEach
    void clearLog() {
        accessLog.clear();
    }

    @Test
    void httpsThroughConnectTunnelReachesTheTlsOrigin() throws Exception {
        HttpResponse<String> response = Clients.throughProxy(proxy.port(), TestCertificates.trustingTestCertificate())
                .send(HttpRequest.newBuilder(tlsOrigin.uri("/hello")).build(), BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello");
        assertThat(tlsOrigin.takeRequest().target()).isEqualTo("/hello");
        // java.net.http keeps the tunnel open for its next request; the tunnel's line comes when it closes (below)
    }

    @Test
    void theAnswerToConnectIsExactlyAStatusLineAndTheBytesAroundItPassUnchanged() throws Exception {
        byte[] early = "early bytes, pipelined before the 200\n".getBytes(StandardCharsets.US_ASCII);
        byte[] late = pattern(1000, 7);
        byte[] back = pattern(3000, 13);
        try (RawOrigin raw = new RawOrigin(early.length + late.length, back, null);
                ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(raw.port())
                        .accessLog(accessLog).build().start();
                Socket client = new Socket("127.0.0.1", p.port())) {
            client.setSoTimeout(10_000);
            String authority = "127.0.0.1:" + raw.port();
            OutputStream out = client.getOutputStream();
            // the CONNECT head and the first tunnel bytes in one write: the client does not wait for the 200
            out.write(concat(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII), early));
            out.flush();
            InputStream in = client.getInputStream();

            assertThat(readHead(in)).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
            long established = System.nanoTime();
            out.write(late);
            out.flush();
            assertThat(in.readNBytes(back.length)).isEqualTo(back);
            assertThat(in.read()).as("the origin's close passes to the client").isEqualTo(-1);
            client.close();
            long lived = System.nanoTime() - established;

            assertThat(raw.received()).isEqualTo(concat(early, late));
            AccessLogEntry entry = accessLog.take(authority);
            assertThat(entry.method()).isEqualTo("CONNECT");
            assertThat(entry.status()).isEqualTo(200);
            assertThat(entry.bytesIn()).isEqualTo(early.length + late.length);
            assertThat(entry.bytesOut()).isEqualTo(back.length);
            assertThat(entry.duration().toNanos()).isGreaterThanOrEqualTo(lived);
            assertThat(entry.completed()).isTrue();
            assertThat(entry.denied()).isFalse();
            assertThat(AccessLogFormat.squid().format(entry))
                    .endsWith(" TCP_TUNNEL/200 3000 CONNECT " + authority + " - HIER_DIRECT/" + authority + " -");
            assertThat(AccessLogFormat.json().format(entry)).contains("\"bytes_in\":" + (early.length + late.length),
                    "\"bytes_out\":3000", "\"denied\":false");
        }
    }

    @Test
    void anOriginThatSpeaksFirstIsHeardAfterTheAnswer() throws Exception {
        byte[] banner = "220 origin.test ESMTP ready\r\n".getBytes(StandardCharsets.US_ASCII);
        try (RawOrigin raw = new RawOrigin(4, "bye\n".getBytes(StandardCharsets.US_ASCII), banner);
                ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(raw.port())
                        .accessLog(accessLog).build().start();
                Socket client = new Socket("127.0.0.1", p.port())) {
            client.setSoTimeout(10_000);
            String authority = "127.0.0.1:" + raw.port();
            client.getOutputStream().write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = client.getInputStream();

            assertThat(readHead(in)).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
            assertThat(in.readNBytes(banner.length)).isEqualTo(banner);
            client.getOutputStream().write("quit".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(in.readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("bye\n");
            assertThat(in.read()).isEqualTo(-1);
            client.close();

            AccessLogEntry entry = accessLog.take(authority);
            assertThat(entry.bytesIn()).isEqualTo(4);
            assertThat(entry.bytesOut()).isEqualTo(banner.length + 4);
        }
    }

    @Test
    void httpsThroughATunnelIsLoggedWhenTheTunnelCloses() throws Exception {
        String authority = "127.0.0.1:" + tlsOrigin.port();
        try (Socket client = new Socket("127.0.0.1", proxy.port())) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority
                    + "\r\nUser-Agent: tunnel-test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(readHead(client.getInputStream())).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
            try (javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) TestCertificates.trustingTestCertificate()
                    .getSocketFactory().createSocket(client, "127.0.0.1", tlsOrigin.port(), true)) {
                tls.getOutputStream().write(("GET /hello HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                String response = new String(tls.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
            }
        }

        AccessLogEntry entry = accessLog.take(authority);
        assertThat(entry.status()).isEqualTo(200);
        assertThat(entry.userAgent()).isEqualTo("tunnel-test");
        assertThat(entry.bytesIn()).isPositive();
        assertThat(entry.bytesOut()).isGreaterThan(entry.bytesIn()); // the certificate chain and the response
        assertThat(AccessLogFormat.squid().format(entry)).contains(" TCP_TUNNEL/200 " + entry.bytesOut() + " CONNECT ");
    }

    /** Reads a response head, byte by byte so that nothing after it is consumed. */
    private static String readHead(InputStream in) throws java.io.IOException {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed after " + sb);
            }
            sb.append((char) b);
        }
        return sb.toString();
    }

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * seed + 1);
        }
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /**
     * A TCP origin for one connection: writes {@code banner} (if any) on accept, reads exactly {@code expect} bytes,
     * answers {@code reply}, then closes its side and waits for the peer's close.
     */
    private static final class RawOrigin implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        private final CompletableFuture<byte[]> received = new CompletableFuture<>();
        private final Thread thread;

        RawOrigin(int expect, byte[] reply, byte[] banner) throws java.io.IOException {
            thread = new Thread(() -> {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(10_000);
                    if (banner != null) {
                        s.getOutputStream().write(banner);
                    }
                    byte[] got = s.getInputStream().readNBytes(expect);
                    received.complete(got);
                    s.getOutputStream().write(reply);
                    s.shutdownOutput();
                    s.getInputStream().read(); // the proxy passes on the client's close
                } catch (Exception e) {
                    received.completeExceptionally(e);
                }
            }, "origin");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return server.getLocalPort();
        }

        byte[] received() throws Exception {
            return received.get(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws Exception {
            server.close();
            thread.join(10_000);
        }
    }

    @Test
    void connectToAPortNotAllowedIs403BeforeDialling() throws Exception {
        try (MockOrigin other = MockOrigin.named("other")
                .serve("/hello", MockResponse.ok("hello"))
                .dispatcher(req -> MockResponse.ok("origin other " + req.path())).start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "CONNECT 127.0.0.1:" + other.port() + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + other.port() + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("port " + other.port() + " is not allowed");
            assertThat(other.requestCount()).isZero();
        }
    }

    @Test
    void connectToAClosedPortIs502() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (ProxyServer p = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(closed).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "CONNECT 127.0.0.1:" + closed + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + closed + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(502);
            assertThat(reply.headers().get("proxy-status")).contains("error=connection_refused");
        }
    }

    @Test
    void reverseOnlyProxyRefusesConnect() throws Exception {
        try (ProxyServer reverse = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(tlsOrigin.baseUrl()))).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(reverse.port(), "CONNECT 127.0.0.1:" + tlsOrigin.port() + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + tlsOrigin.port() + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(405);
        }
    }
}
