package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The proxy answers some requests before reading their body (a 407 challenge, a filter's 403). Clients such as
 * Apache HttpClient 5 write the whole body before reading: the connection must neither be reset under them nor
 * mix the rest of the body into the next request. On raw sockets, exact bytes.
 */
class UnreadRequestBodyTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("unread")
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin unread " + req.path()));

    private static final Authenticator ALICE_ONLY = (credentials, exchange) -> CompletableFuture.completedFuture(
            credentials.flatMap(Credentials::basic)
                    .filter(up -> up.user().equals("alice") && up.password().equals("wonder"))
                    .map(up -> AuthResult.authenticated(up.user()))
                    .orElse(AuthResult.challenge("Basic realm=\"office\"", "valid credentials required")));
    private static final ProxyFilter NO_UPLOADS = exchange -> exchange.request().path().startsWith("/upload")
            ? Verdict.deny("uploads are denied by policy") : Verdict.proceed();

    static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        proxy = ProxyServer.builder().forward().allowAllInternalDestinations().via("gh").authenticator(ALICE_ONLY)
                .filter(NO_UPLOADS).build().start();
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    private static final String AUTHORIZED = "Proxy-Authorization: Basic "
            + Base64.getEncoder().encodeToString("alice:wonder".getBytes(StandardCharsets.UTF_8)) + "\r\n";

    private static final String CHALLENGE = "HTTP/1.1 407 Proxy Authentication Required\r\n"
            + "Content-Type: text/plain;charset=utf-8\r\n"
            + "Cache-Control: no-store\r\n"
            + "Via: 1.1 gh\r\n"
            + "Proxy-Authenticate: Basic realm=\"office\"\r\n";
    private static final String CHALLENGE_BODY = "407 valid credentials required\n";

    private static String post(String path, String extraHeaders, long length) {
        return "POST " + origin.baseUrl() + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n"
                + extraHeaders + "Content-Type: text/plain\r\nContent-Length: " + length + "\r\n\r\n";
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] body(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    /** Reads one response with a Content-Length body, leaving the connection open. */
    private static String readResponse(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed after " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        int length = Integer.parseInt(RawHttp.parseHeaders(text).get("content-length"));
        return text + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    @Test
    void aChallengedPostWhoseBodyIsStillArrivingIsReadToTheEndAndTheRetryUsesTheSameConnection() throws Exception {
        byte[] body = body(200_000);
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(ascii(post("/echo", "", body.length)));
            out.write(body, 0, 1000);
            out.flush();

            assertThat(readResponse(in)).isEqualTo(CHALLENGE + "Content-Length: " + CHALLENGE_BODY.length() + "\r\n\r\n" + CHALLENGE_BODY);

            out.write(body, 1000, body.length - 1000);      // as a client that writes all before reading would
            out.write(ascii(post("/echo", AUTHORIZED, 5) + "hello"));
            out.flush();
            String retried = readResponse(in);

            assertThat(retried).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nhello");
        }
        RecordedRequest received = origin.takeRequest();
        assertThat(received.method()).isEqualTo("POST");
        assertThat(received.bodySize()).isEqualTo(5);
        assertThat(received.headers().get("Proxy-Authorization")).isNull();
        assertThat(origin.requestCount()).isEqualTo(1);
    }

    @Test
    void aPostDeniedByAFilterIsReadToTheEndAndTheConnectionServesTheNextRequest() throws Exception {
        byte[] body = body(100_000);
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(ascii(post("/upload", AUTHORIZED, body.length)));
            out.flush();

            String denied = readResponse(in);
            assertThat(denied).isEqualTo("HTTP/1.1 403 Forbidden\r\n"
                    + "Content-Type: text/plain;charset=utf-8\r\n"
                    + "Cache-Control: no-store\r\n"
                    + "Via: 1.1 gh\r\n"
                    + "Proxy-Status: gh; error=http_request_denied; details=\"uploads are denied by policy\"\r\n"
                    + "Content-Length: 33\r\n\r\n"
                    + "403 uploads are denied by policy\n");

            out.write(body);
            out.write(ascii(post("/echo", AUTHORIZED, 2) + "ok"));
            out.flush();
            assertThat(readResponse(in)).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok");
        }
        assertThat(origin.takeRequest().target()).isEqualTo("/echo");
        assertThat(origin.requestCount()).isEqualTo(1);
    }

    @Test
    void aChallengedBodyLongerThanTheDrainLimitIsAnsweredWithConnectionClose() throws Exception {
        assertClosingChallenge(post("/echo", "", 2L * 1024 * 1024));
    }

    @Test
    void aChallengedChunkedBodyIsAnsweredWithConnectionClose() throws Exception {
        assertClosingChallenge("POST " + origin.baseUrl() + "/echo HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    }

    @Test
    void aChallengedBodyHeldBackForContinueIsAnsweredWithConnectionCloseAndNo100() throws Exception {
        assertClosingChallenge(post("/echo", "Expect: 100-continue\r\n", 10));
    }

    private static void assertClosingChallenge(String request) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(ascii(request));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();

            assertThat(readResponse(in)).isEqualTo(CHALLENGE + "Content-Length: " + CHALLENGE_BODY.length() + "\r\n"
                    + "Connection: close\r\n\r\n" + CHALLENGE_BODY);
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(origin.requestCount()).isZero();
    }
}
