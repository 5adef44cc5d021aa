package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RawOrigin.Reply;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The relay passes on exactly what the endpoints said: codings, framing, the origin's own error answers, interim
 * responses and field spellings, in both modes, checked byte for byte on raw sockets.
 */
class RelayFidelityTest {
    enum Mode { FORWARD, REVERSE }

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final RecordingAccessLog accessLog = new RecordingAccessLog();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private RawOrigin origin(java.util.function.Function<String, Reply> script) {
        RawOrigin origin = RawOrigin.start(script);
        closeables.add(origin);
        return origin;
    }

    private ProxyServer proxy(Mode mode, RawOrigin origin) {
        ProxyServer.Builder b = ProxyServer.builder().via("gh-fid").accessLog(accessLog);
        ProxyServer proxy = (mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.any().to(UpstreamPool.of(origin.baseUrl())))).build().start();
        closeables.add(proxy);
        return proxy;
    }

    private static String target(Mode mode, RawOrigin origin, String path) {
        return mode == Mode.FORWARD ? origin.baseUrl() + path : path;
    }

    private static String host(Mode mode, RawOrigin origin) {
        return mode == Mode.FORWARD ? "127.0.0.1:" + origin.port() : "site.test";
    }

    /** Sends {@code request} and reads every byte until the proxy closes the connection. */
    static byte[] exchange(int port, String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    all.write(buf, 0, n);
                }
            } catch (java.net.SocketException e) {
                // reset: what arrived before it is the answer
            }
            return all.toByteArray();
        }
    }

    static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    static String head(byte[] response) {
        String t = text(response);
        return t.substring(0, t.indexOf("\r\n\r\n") + 2);
    }

    static byte[] body(byte[] response) {
        int end = text(response).indexOf("\r\n\r\n") + 4;
        return java.util.Arrays.copyOfRange(response, end, response.length);
    }

    /** The value of {@code name} in a raw head, or null; several lines joined with a newline. */
    static String field(String head, String name) {
        List<String> values = new ArrayList<>();
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                values.add(line.substring(colon + 1).trim());
            }
        }
        return values.isEmpty() ? null : String.join("\n", values);
    }

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    static byte[] gzip(String text) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(text.repeat(200).getBytes(StandardCharsets.UTF_8));
        }
        return out.toByteArray();
    }

    // ---- content codings --------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, Accept-Encoding: {1}")
    @CsvSource({"FORWARD, ''", "FORWARD, gzip", "FORWARD, identity", "REVERSE, ''", "REVERSE, gzip",
            "REVERSE, identity", "FORWARD, 'gzip, deflate, br'", "REVERSE, 'GZip;q=0.5'"})
    void gzipFromTheOriginReachesTheClientByteForByte(Mode mode, String acceptEncoding) throws Exception {
        byte[] gz = gzip("gatehouse relays codings untouched. ");
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                + "Content-Length: " + gz.length + "\r\nETag: \"v1-gz\"\r\nVary: Accept-Encoding\r\n\r\n", gz));
        ProxyServer proxy = proxy(mode, origin);

        String ae = acceptEncoding.isEmpty() ? "" : "Accept-Encoding: " + acceptEncoding + "\r\n";
        byte[] response = exchange(proxy.port(), "GET " + target(mode, origin, "/doc") + " HTTP/1.1\r\nHost: "
                + host(mode, origin) + "\r\n" + ae + "Connection: close\r\n\r\n");

        String upstreamHead = origin.takeHead();
        assertThat(field(upstreamHead, "Accept-Encoding")).isEqualTo(acceptEncoding.isEmpty() ? null : acceptEncoding);
        String head = head(response);
        assertThat(head).startsWith("HTTP/1.1 200 ");
        assertThat(field(head, "Content-Encoding")).isEqualTo("gzip");
        assertThat(field(head, "Content-Length")).isEqualTo(Integer.toString(gz.length));
        assertThat(field(head, "ETag")).isEqualTo("\"v1-gz\"");
        assertThat(field(head, "Transfer-Encoding")).isNull();
        assertThat(sha256(body(response))).isEqualTo(sha256(gz));
    }

    // ---- the origin's own answers -----------------------------------------------------------------------

    private static final String MAINTENANCE = "{\"maintenance\":true,\"back\":\"soon\"}";

    private static Reply maintenance(int status) {
        return Reply.of("HTTP/1.1 " + status + " Down For Maintenance\r\nContent-Type: application/json\r\nRetry-After: 120\r\n"
                + "Content-Length: " + MAINTENANCE.length() + "\r\n\r\n" + MAINTENANCE);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"FORWARD, 502", "FORWARD, 503", "FORWARD, 504", "REVERSE, 502", "REVERSE, 503", "REVERSE, 504", "REVERSE, 500"})
    void theOriginsOwnErrorReachesTheClientAsSent(Mode mode, int status) throws Exception {
        RawOrigin origin = origin(head -> maintenance(status));
        ProxyServer proxy = proxy(mode, origin);

        byte[] response = exchange(proxy.port(), "GET " + target(mode, origin, "/x") + " HTTP/1.1\r\nHost: "
                + host(mode, origin) + "\r\nConnection: close\r\n\r\n");

        String head = head(response);
        assertThat(head).startsWith("HTTP/1.1 " + status + " ");
        assertThat(field(head, "Retry-After")).isEqualTo("120");
        assertThat(field(head, "Content-Type")).isEqualTo("application/json");
        assertThat(field(head, "Proxy-Status")).isNull();
        assertThat(text(body(response))).isEqualTo(MAINTENANCE);
        assertThat(origin.takeHead()).startsWith("GET /x ");
        assertThat(origin.pendingHeads()).isZero();
    }

    @Test
    void aPoolDoesNotRetryA503ByDefault() throws Exception {
        RawOrigin down = origin(head -> maintenance(503));
        RawOrigin up = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        ProxyServer proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(down.baseUrl(), up.baseUrl())
                .balance(LoadBalancing.roundRobin()))).build().start();
        closeables.add(proxy);

        int served503 = 0;
        for (int i = 0; i < 4; i++) {
            byte[] response = exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
            if (head(response).startsWith("HTTP/1.1 503 ")) {
                served503++;
                assertThat(text(body(response))).isEqualTo(MAINTENANCE);
            }
        }
        assertThat(served503).isEqualTo(2);
    }

    @Test
    void aPoolThatOptsInRetriesA503AndTheLastAnswerPassesAsSent() throws Exception {
        RawOrigin down = origin(head -> maintenance(503));
        RawOrigin up = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        RetryPolicy retryOn503 = RetryPolicy.defaults().budgetPercent(100).retryOnStatus(503);
        ProxyServer proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(down.baseUrl(), up.baseUrl())
                .balance(LoadBalancing.roundRobin()).retries(retryOn503))).build().start();
        closeables.add(proxy);
        for (int i = 0; i < 4; i++) {
            byte[] response = exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
            assertThat(head(response)).startsWith("HTTP/1.1 200 ");
        }

        // with no other member, the 503 the only member gave goes to the client unchanged
        RawOrigin alone = origin(head -> maintenance(503));
        ProxyServer single = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(alone.baseUrl()).retries(retryOn503)))
                .build().start();
        closeables.add(single);
        byte[] response = exchange(single.port(), "GET /x HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
        assertThat(head(response)).startsWith("HTTP/1.1 503 ");
        assertThat(field(head(response), "Proxy-Status")).isNull();
        assertThat(text(body(response))).isEqualTo(MAINTENANCE);
    }

    @Test
    void retryConditionsAreValidated() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RetryPolicy.defaults().retryOnStatus(404))
                .hasMessageContaining("retryOnStatus: 404 (expected: 500..599)");
        assertThat(RetryPolicy.defaults().retryConditions())
                .containsExactlyInAnyOrder(RetryPolicy.Condition.CONNECT_FAILURE, RetryPolicy.Condition.RESET);
        assertThat(RetryPolicy.defaults().retryStatuses()).isEmpty();
    }

    // ---- interim and upgrade responses ------------------------------------------------------------------

    private static final String INTERIM_THEN_FINAL = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 102 Processing\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfinal";

    @ParameterizedTest
    @EnumSource(Mode.class)
    void interimResponsesAreRelayedBeforeTheFinalOneAndStayOutOfIt(Mode mode) throws Exception {
        RawOrigin origin = origin(head -> Reply.of(INTERIM_THEN_FINAL));
        ProxyServer proxy = proxy(mode, origin);

        String all = text(exchange(proxy.port(), "GET " + target(mode, origin, "/hints") + " HTTP/1.1\r\nHost: "
                + host(mode, origin) + "\r\nConnection: close\r\n\r\n"));

        int early = all.indexOf("HTTP/1.1 103 ");
        int processing = all.indexOf("HTTP/1.1 102 ");
        int fin = all.indexOf("HTTP/1.1 200 ");
        assertThat(early).as(all).isGreaterThanOrEqualTo(0);
        assertThat(processing).as(all).isGreaterThan(early);
        assertThat(fin).as(all).isGreaterThan(processing);
        assertThat(field(all.substring(early, processing), "Link")).isEqualTo("</style.css>; rel=preload");
        String finalHead = all.substring(fin, all.indexOf("\r\n\r\n", fin) + 2);
        assertThat(field(finalHead, "Link")).isNull();
        assertThat(all).endsWith("\r\n\r\nfinal");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void anHttp10ClientGetsNoInterimResponse(Mode mode) throws Exception {
        RawOrigin origin = origin(head -> Reply.of(INTERIM_THEN_FINAL));
        ProxyServer proxy = proxy(mode, origin);

        String all = text(exchange(proxy.port(), "GET " + target(mode, origin, "/hints") + " HTTP/1.0\r\nHost: "
                + host(mode, origin) + "\r\n\r\n"));

        assertThat(all).startsWith("HTTP/1.1 200 ").doesNotContain(" 103 ").doesNotContain(" 102 ").endsWith("final");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aClientThatExpectsContinueGetsExactlyOneBeforeTheFinalResponse(Mode mode) throws Exception {
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .then(RawOrigin.Ending.CLOSE));
        ProxyServer proxy = proxy(mode, origin);

        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST " + target(mode, origin, "/c") + " HTTP/1.1\r\nHost: " + host(mode, origin)
                    + "\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            assertThat(readHead(socket.getInputStream())).startsWith("HTTP/1.1 100 ");
            socket.getOutputStream().write("hello".getBytes(StandardCharsets.ISO_8859_1));
            String rest = text(socket.getInputStream().readAllBytes());
            assertThat(rest).startsWith("HTTP/1.1 200 ").doesNotContain("100 Continue").endsWith("\r\n\r\nok");
        }
        assertThat(field(origin.takeHead(), "Expect")).isNull();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void anUnsolicited101Is502(Mode mode) throws Exception {
        // (a request that asks for an upgrade is relayed with it: WebSocketRelayTest)
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\n\r\n"));
        ProxyServer proxy = proxy(mode, origin);

        byte[] response = exchange(proxy.port(), "GET " + target(mode, origin, "/ws") + " HTTP/1.1\r\nHost: "
                + host(mode, origin) + "\r\nConnection: close\r\n\r\n");

        String upstream = origin.takeHead();
        assertThat(field(upstream, "Upgrade")).isNull();
        assertThat(field(upstream, "Connection")).isNull();
        String head = head(response);
        assertThat(head).startsWith("HTTP/1.1 502 ");
        assertThat(field(head, "Proxy-Status")).contains("http_protocol_error");
        assertThat(text(body(response))).contains("without being asked to switch protocols");
    }

    // ---- what real clients send -------------------------------------------------------------------------

    @Test
    void anAbsoluteFormTargetWinsOverADifferentHost() throws Exception {
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        ProxyServer proxy = proxy(Mode.FORWARD, origin);

        byte[] response = exchange(proxy.port(), "GET " + origin.baseUrl() + "/a HTTP/1.1\r\nHost: other.example\r\n"
                + "Connection: close\r\n\r\n");

        assertThat(head(response)).startsWith("HTTP/1.1 200 ");
        String upstream = origin.takeHead();
        assertThat(field(upstream, "Host")).isEqualTo("127.0.0.1:" + origin.port());
    }

    @Test
    void aConnectWhoseHostLacksThePortIsTunnelled() throws Exception {
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ninside"));
        ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(origin.port())
                .via("gh-fid").build().start();
        closeables.add(proxy);

        // Apache HttpClient 4.5: "CONNECT host:port" with "Host: host"
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("CONNECT 127.0.0.1:" + origin.port() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            String established = readHead(socket.getInputStream());
            assertThat(established).startsWith("HTTP/1.1 200 ");
            socket.getOutputStream().write("GET /in HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            String inner = readHead(socket.getInputStream());
            assertThat(inner).startsWith("HTTP/1.1 200 ");
        }
        assertThat(origin.takeHead()).startsWith("GET /in HTTP/1.1\r\n");
    }

    static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void aRequestTheParserRejectsIsLogged() throws Exception {
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        ProxyServer proxy = proxy(Mode.REVERSE, origin);

        byte[] response = exchange(proxy.port(), "GET /dup HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n");

        assertThat(head(response)).startsWith("HTTP/1.1 400 ");
        AccessLogEntry entry = accessLog.take();
        assertThat(entry.status()).isEqualTo(400);
        assertThat(entry.method()).isEqualTo("GET");
        assertThat(entry.upstream()).isNull();
        assertThat(origin.pendingHeads()).isZero();
    }

    // ---- field values byte for byte ---------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Mode.class)
    void fieldValuesKeepTheirSpellingOnReusedConnections(Mode mode) throws Exception {
        AtomicInteger n = new AtomicInteger();
        RawOrigin origin = origin(head -> {
            String cc = n.incrementAndGet() == 1 ? "max-age=3600" : "MaX-aGe=3600";
            return Reply.of("HTTP/1.1 200 OK\r\nCache-Control: " + cc + "\r\nX-Dup: one\r\nX-Dup: Two\r\n"
                    + "Content-Type: Text/Plain; Charset=UTF-8\r\nContent-Length: 2\r\n\r\nok");
        });
        ProxyServer proxy = proxy(mode, origin);
        String[] accept = {"text/html", "TEXT/HTML"};
        String[] received = new String[2];
        for (int i = 0; i < 2; i++) {
            byte[] response = exchange(proxy.port(), "GET " + target(mode, origin, "/f") + " HTTP/1.1\r\nHost: "
                    + host(mode, origin) + "\r\nAccept: " + accept[i] + "\r\nX-Req: a\r\nX-Req: B\r\n"
                    + "Cache-Control: No-Cache\r\nConnection: close\r\n\r\n");
            received[i] = head(response);
        }

        assertThat(field(received[0], "Cache-Control")).isEqualTo("max-age=3600");
        assertThat(field(received[1], "Cache-Control")).isEqualTo("MaX-aGe=3600");
        for (String head : received) {
            assertThat(field(head, "X-Dup")).isEqualTo("one\nTwo");
            assertThat(field(head, "Content-Type")).isEqualTo("Text/Plain; Charset=UTF-8");
        }
        String first = origin.takeHead();
        String second = origin.takeHead();
        assertThat(field(first, "Accept")).isEqualTo("text/html");
        assertThat(field(second, "Accept")).isEqualTo("TEXT/HTML");
        for (String head : List.of(first, second)) {
            assertThat(field(head, "X-Req")).isEqualTo("a\nB");
            assertThat(field(head, "Cache-Control")).isEqualTo("No-Cache");
            assertThat(head.toLowerCase(Locale.ROOT)).doesNotContain("accept-encoding");
        }
    }
}
