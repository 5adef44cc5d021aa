package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.Proxy;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The SOCKS5 front door through the wire: java.net's SOCKS client ({@code Socket} through a SOCKS {@code Proxy}),
 * curl {@code --socks5-hostname}, and raw sockets for the exact reply bytes, to a real origin on loopback.
 */
class Socks5Test {
    static MockOrigin origin;
    static ProxyServer open;      // no authenticator: no-auth method; internal destinations allowed; blocked.test denied
    static ProxyServer guarded;   // users; internal destinations refused
    static final RecordingAccessLog accessLog = new RecordingAccessLog();

    @BeforeAll
    static void start() throws Exception {
        origin = MockOrigin.named("origin")
                .serve("/hello", MockResponse.ok("hello"))
                .dispatcher(req -> MockResponse.ok("origin origin " + req.path())).start();
        open = ProxyServer.builder().forward().listenSocks(0).allowAllInternalDestinations()
                .connectPorts(origin.port(), 443).filter(HostRules.deny("blocked.test")).accessLog(accessLog).build()
                .start();
        guarded = ProxyServer.builder().forward().listenSocks(0).connectPorts(origin.port())
                .authenticator(BasicAuthenticator.users(Map.of("alice", "wonderland")))
                .allowInternalDestination("127.0.0.1:" + origin.port()).accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        open.close();
        guarded.close();
        origin.close();
    }

    @BeforeEach
    void clear() {
        accessLog.clear();
    }

    @Test
    void aJavaSocketThroughSocksReachesTheOriginByNameAndTheTunnelIsLogged() throws Exception {
        String authority = "localhost:" + origin.port();
        try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", open.socksPort())))) {
            s.connect(InetSocketAddress.createUnresolved("localhost", origin.port())); // sent as a domain name
            String response = get(s, "/hello", "localhost");
            assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
        }
        AccessLogEntry entry = accessLog.take(authority);
        assertThat(entry.method()).isEqualTo("CONNECT");
        assertThat(entry.status()).isEqualTo(200);
        assertThat(entry.bytesIn()).isGreaterThan(20);
        assertThat(entry.bytesOut()).isGreaterThan(20);
        assertThat(AccessLogFormat.squid().format(entry)).contains(" TCP_TUNNEL/200 ", "CONNECT " + authority);
    }

    @Test
    void anIpv4TargetAndAnIpv6LiteralAreTunnelled() throws Exception {
        try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", open.socksPort())))) {
            s.connect(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), origin.port()));
            assertThat(get(s, "/hello", "127.0.0.1")).endsWith("hello");
        }
        assertThat(accessLog.take("127.0.0.1:" + origin.port()).status()).isEqualTo(200);

        byte[] answer = "pong from ::1".getBytes(StandardCharsets.US_ASCII);
        try (ServerSocket v6 = new ServerSocket(0, 1, InetAddress.getByName("::1"));
                ProxyServer p = ProxyServer.builder().forward().listenSocks(0).allowAllInternalDestinations()
                        .connectPorts(v6.getLocalPort()).accessLog(accessLog).build().start()) {
            CompletableFuture<byte[]> received = serveOnce(v6, 4, answer);
            try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", p.socksPort())))) {
                s.connect(new InetSocketAddress(InetAddress.getByName("::1"), v6.getLocalPort()));
                s.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
                assertThat(s.getInputStream().readAllBytes()).isEqualTo(answer);
            }
            assertThat(received.join()).isEqualTo("ping".getBytes(StandardCharsets.US_ASCII));
            AccessLogEntry entry = accessLog.take("[::1]:" + v6.getLocalPort());
            assertThat(entry.bytesIn()).isEqualTo(4);
            assertThat(entry.bytesOut()).isEqualTo(answer.length);
        }
    }

    @Test
    void usernameAndPasswordAreCheckedByTheAuthenticatorAndTheUserIsLogged() throws Exception {
        java.net.Authenticator.setDefault(new java.net.Authenticator() {
            @Override
            protected PasswordAuthentication getPasswordAuthentication() {
                return new PasswordAuthentication("alice", "wonderland".toCharArray());
            }
        });
        try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", guarded.socksPort())))) {
            s.connect(new InetSocketAddress("127.0.0.1", origin.port()));
            assertThat(get(s, "/hello", "127.0.0.1")).endsWith("hello");
        } finally {
            java.net.Authenticator.setDefault(null);
        }
        AccessLogEntry entry = accessLog.take("127.0.0.1:" + origin.port());
        assertThat(entry.userName()).contains("alice");
        assertThat(AccessLogFormat.squid().format(entry)).doesNotContain("wonderland");
    }

    @Test
    void aWrongPasswordGetsStatus1AndTheConnectionCloses() throws Exception {
        java.net.Authenticator.setDefault(new java.net.Authenticator() {
            @Override
            protected PasswordAuthentication getPasswordAuthentication() {
                return new PasswordAuthentication("alice", "guess".toCharArray());
            }
        });
        try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", guarded.socksPort())))) {
            assertThatThrownBy(() -> s.connect(new InetSocketAddress("127.0.0.1", origin.port())))
                    .isInstanceOf(SocketException.class).hasMessageContaining("authentication failed");
        } finally {
            java.net.Authenticator.setDefault(null);
        }
        try (Socket raw = raw(guarded)) {
            assertThat(exchange(raw, bytes(5, 1, 2), 2)).containsExactly(5, 2);
            byte[] auth = concat(bytes(1, 5), ascii("alice"), bytes(5), ascii("guess"));
            assertThat(exchange(raw, auth, 2)).containsExactly(1, 1);
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void noAuthenticationIsNotOfferedWhenAnAuthenticatorIsSet() throws Exception {
        try (Socket raw = raw(guarded)) {
            assertThat(exchange(raw, bytes(5, 1, 0), 2)).containsExactly(5, 0xff);
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
        try (Socket raw = raw(open)) { // and without one, no-auth is chosen even when both are offered
            assertThat(exchange(raw, bytes(5, 2, 2, 0), 2)).containsExactly(5, 0);
        }
    }

    @Test
    void anInternalDestinationIsRefusedAfterResolutionWithReply2() throws Exception {
        java.net.Authenticator.setDefault(new java.net.Authenticator() {
            @Override
            protected PasswordAuthentication getPasswordAuthentication() {
                return new PasswordAuthentication("alice", "wonderland".toCharArray());
            }
        });
        try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", guarded.socksPort())))) {
            // loopback, and not the one address allowed (127.0.0.1:origin)
            assertThatThrownBy(() -> s.connect(new InetSocketAddress("127.0.0.2", origin.port())))
                    .isInstanceOf(SocketException.class).hasMessageContaining("not allowed by ruleset");
        } finally {
            java.net.Authenticator.setDefault(null);
        }
        try (Socket raw = raw(guarded)) {
            exchange(raw, bytes(5, 1, 2), 2);
            assertThat(exchange(raw, concat(bytes(1, 5), ascii("alice"), bytes(10), ascii("wonderland")), 2))
                    .containsExactly(1, 0);
            // the origin's port, but the loopback address ::1 is not the allowed 127.0.0.1
            byte[] v6 = InetAddress.getByName("::1").getAddress();
            byte[] reply = exchange(raw, concat(bytes(5, 1, 0, 4), v6, port(origin.port())), 10);
            assertThat(reply[1]).isEqualTo((byte) 0x02);
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
        AccessLogEntry entry = accessLog.take("[::1]:" + origin.port());
        assertThat(entry.status()).isEqualTo(403);
        assertThat(entry.denied()).isTrue();
    }

    @Test
    void aBlacklistedHostAndAForbiddenPortAreRefusedBeforeAnythingIsDialled() throws Exception {
        int before = origin.requestCount();
        try (Socket raw = raw(open)) {
            exchange(raw, bytes(5, 1, 0), 2);
            byte[] reply = exchange(raw, concat(bytes(5, 1, 0, 3, "blocked.test".length()), ascii("blocked.test"),
                    port(origin.port())), 10);
            assertThat(reply).containsExactly(5, 2, 0, 1, 0, 0, 0, 0, 0, 0);
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(accessLog.take("blocked.test").status()).isEqualTo(403);
        try (Socket raw = raw(open)) {
            exchange(raw, bytes(5, 1, 0), 2);
            byte[] reply = exchange(raw, concat(bytes(5, 1, 0, 1, 127, 0, 0, 1), port(25)), 10);
            assertThat(reply[1]).as("port 25 is not a connect port").isEqualTo((byte) 0x02);
        }
        assertThat(origin.requestCount()).isEqualTo(before);
    }

    @Test
    void aClosedPortIsConnectionRefused5AndBindAndUdpAreNotSupported7() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            closed = s.getLocalPort();
        }
        try (ProxyServer p = ProxyServer.builder().forward().listenSocks(0).allowAllInternalDestinations()
                .connectPorts(closed).accessLog(accessLog).build().start();
                Socket raw = raw(p)) {
            exchange(raw, bytes(5, 1, 0), 2);
            byte[] reply = exchange(raw, concat(bytes(5, 1, 0, 1, 127, 0, 0, 1), port(closed)), 10);
            assertThat(reply[1]).isEqualTo((byte) 0x05);
            assertThat(accessLog.take("127.0.0.1:" + closed).status()).isEqualTo(502);
        }
        for (int command : new int[] {2, 3}) {
            try (Socket raw = raw(open)) {
                exchange(raw, bytes(5, 1, 0), 2);
                byte[] reply = exchange(raw, concat(bytes(5, command, 0, 1, 127, 0, 0, 1), port(origin.port())), 10);
                assertThat(reply[1]).isEqualTo((byte) 0x07);
                assertThat(raw.getInputStream().read()).isEqualTo(-1);
            }
        }
    }

    @Test
    void notSocks5AndOversizedOrEarlyBytesCloseTheConnection() throws Exception {
        try (Socket raw = raw(open)) {
            raw.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
        try (Socket raw = raw(open)) { // a request with bytes after it, before the reply
            exchange(raw, bytes(5, 1, 0), 2);
            raw.getOutputStream().write(concat(bytes(5, 1, 0, 1, 127, 0, 0, 1), port(origin.port()), ascii("GET")));
            assertThat(raw.getInputStream().read()).isEqualTo(-1);
        }
        try (Socket raw = raw(open)) { // a name with a CR LF in it never reaches the relay
            exchange(raw, bytes(5, 1, 0), 2);
            byte[] name = ascii("a\r\nX: y");
            byte[] reply = exchange(raw, concat(bytes(5, 1, 0, 3, name.length), name, port(origin.port())), 10);
            assertThat(reply[1]).isEqualTo((byte) 0x01);
        }
    }

    @Test
    void aRateLimitedClientGetsReply2AndASlowHandshakeIsClosed() throws Exception {
        try (ProxyServer p = ProxyServer.builder().forward().listenSocks(0).allowAllInternalDestinations()
                .connectPorts(origin.port()).filter(RateLimits.perClient(1)).socksHandshakeTimeout(java.time.Duration.ofMillis(300))
                .accessLog(accessLog).build().start()) {
            byte[] request = concat(bytes(5, 1, 0, 1, 127, 0, 0, 1), port(origin.port()));
            try (Socket first = raw(p)) {
                exchange(first, bytes(5, 1, 0), 2);
                assertThat(exchange(first, request, 10)[1]).isEqualTo((byte) 0x00);
                try (Socket second = raw(p)) {
                    exchange(second, bytes(5, 1, 0), 2);
                    assertThat(exchange(second, request, 10)[1]).as("429 from the rate limit").isEqualTo((byte) 0x02);
                }
            }
            try (Socket silent = raw(p)) {
                assertThat(silent.getInputStream().read()).as("closed at the handshake timeout").isEqualTo(-1);
            }
        }
    }

    @Test
    void curlSocks5HostnameFetchesThroughTheProxy() throws Exception {
        assumeTrue(onPath("curl"), "curl is not installed");
        Process curl = new ProcessBuilder("curl", "-s", "--max-time", "20", "--socks5-hostname",
                "127.0.0.1:" + open.socksPort(), "http://localhost:" + origin.port() + "/hello").redirectErrorStream(true)
                .start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor()).as(out).isZero();
        assertThat(out).isEqualTo("hello");

        curl = new ProcessBuilder("curl", "-s", "--max-time", "20", "-x",
                "socks5h://alice:wonderland@127.0.0.1:" + guarded.socksPort(), "http://127.0.0.1:" + origin.port() + "/hello")
                .redirectErrorStream(true).start();
        out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor()).as(out).isZero();
        assertThat(out).isEqualTo("hello");
        assertThat(accessLog.take("127.0.0.1:" + origin.port()).userName()).contains("alice");
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (new File(dir, program).canExecute()) {
                return true;
            }
        }
        return false;
    }

    /** Sends an HTTP/1.1 GET with {@code Connection: close} and reads the whole response. */
    private static String get(Socket s, String path, String host) throws IOException {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    private static CompletableFuture<byte[]> serveOnce(ServerSocket server, int expect, byte[] answer) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket s = server.accept()) {
                byte[] in = s.getInputStream().readNBytes(expect);
                s.getOutputStream().write(answer);
                return in;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private static Socket raw(ProxyServer p) throws IOException {
        Socket s = new Socket("127.0.0.1", p.socksPort());
        s.setSoTimeout(10_000);
        return s;
    }

    /** Writes {@code message} and reads exactly {@code answerLength} bytes (unsigned values as ints via bytes). */
    private static byte[] exchange(Socket s, byte[] message, int answerLength) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(message);
        out.flush();
        InputStream in = s.getInputStream();
        byte[] answer = in.readNBytes(answerLength);
        assertThat(answer).as("answer length").hasSize(answerLength);
        return answer;
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] port(int port) {
        return bytes(port >> 8, port & 0xff);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
