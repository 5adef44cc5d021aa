package io.github.gatehouse.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.Clients;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The kit's origin, straight from a client: it answers as scripted, records what it got, and fails as told. */
class MockOriginTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("kit");

    private final HttpClient client = Clients.direct();

    private HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(origin.uri(path)).build(), BodyHandlers.ofString());
    }

    @Test
    void answersEnqueuedResponsesInOrderThenTheDispatcherThen404() throws Exception {
        origin.enqueue(MockResponse.ok("first").header("X-Test", "a").header("X-Test", "b"));
        origin.enqueue(MockResponse.status(503).header("Retry-After", "1"));

        HttpResponse<String> first = get("/one?x=1");
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).isEqualTo("first");
        assertThat(first.headers().allValues("X-Test")).containsExactly("a", "b");
        assertThat(first.headers().firstValue("Content-Length")).hasValue("5");
        assertThat(get("/two").statusCode()).isEqualTo(503);
        HttpResponse<String> none = get("/three");
        assertThat(none.statusCode()).isEqualTo(404);
        assertThat(none.body()).contains("GET /three");

        RecordedRequest one = origin.takeRequest();
        assertThat(one.method()).isEqualTo("GET");
        assertThat(one.target()).isEqualTo("/one?x=1");
        assertThat(one.path()).isEqualTo("/one");
        assertThat(one.sequenceNumber()).isEqualTo(1);
        assertThat(one.queryParameter("x")).hasValue("1");
        assertThat(one.queryParameter("y")).isEmpty();
        assertThat(origin.takeRequest().path()).isEqualTo("/two");
        assertThat(origin.takeRequest().path()).isEqualTo("/three");
        assertThat(origin.pollRequest()).isEmpty();
        assertThat(origin.requestCount()).isEqualTo(3);
    }

    @Test
    void recordsBodiesAndHeadersAndConnectionReuse() throws Exception {
        origin.dispatcher(r -> MockResponse.ok("got " + r.bodySize()));
        try {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(origin.uri("/upload"))
                    .header("X-Trace", "t1").POST(HttpRequest.BodyPublishers.ofString("payload")).build(), BodyHandlers.ofString());
            assertThat(response.body()).isEqualTo("got 7");
            assertThat(get("/again").body()).isEqualTo("got 0");
        } finally {
            origin.dispatcher(r -> MockResponse.status(404));
        }
        RecordedRequest upload = origin.takeRequest();
        assertThat(upload.bodyText()).isEqualTo("payload");
        assertThat(upload.header("x-trace")).hasValue("t1");
        assertThat(upload.bodyFailure()).isEmpty();
        assertThat(origin.takeRequest().connectionId()).isEqualTo(upload.connectionId());
    }

    @Test
    void chunksStreamSeparatelyAndAGateHoldsTheRestOfTheBody() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        origin.enqueue(MockResponse.ok().chunks("part1-", "part2").pauseBeforeChunk(1, gate));

        CompletableFuture<HttpResponse<java.io.InputStream>> pending =
                client.sendAsync(HttpRequest.newBuilder(origin.uri("/slow")).build(), BodyHandlers.ofInputStream());
        HttpResponse<java.io.InputStream> response = pending.get(5, TimeUnit.SECONDS);   // the head came before the gate
        assertThat(response.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
        byte[] first = response.body().readNBytes(6);
        assertThat(new String(first, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("part1-");

        gate.complete(null);
        assertThat(new String(response.body().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("part2");
    }

    @Test
    void aHeldResponseWaitsForItsGateAndADelayedOneIsTimedNotSlept() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        origin.enqueue(MockResponse.ok("held").holdUntil(gate));
        CompletableFuture<HttpResponse<String>> held =
                client.sendAsync(HttpRequest.newBuilder(origin.uri("/held")).build(), BodyHandlers.ofString());
        origin.takeRequest();                          // it arrived, and is held
        assertThat(held).isNotDone();
        gate.complete(null);
        assertThat(held.get(5, TimeUnit.SECONDS).body()).isEqualTo("held");

        origin.enqueue(MockResponse.ok("late").headersDelay(Duration.ofMillis(50)));
        long start = System.nanoTime();
        assertThat(get("/late").body()).isEqualTo("late");
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(50).toNanos());
    }

    @Test
    void aMidBodyAbortIsNeverAComplete200Body() throws Exception {
        origin.enqueue(MockResponse.ok("0123456789").abortAfter(4));
        assertThatThrownBy(() -> get("/abort")).isInstanceOf(IOException.class);
        origin.enqueue(MockResponse.ok().chunks("ab", "cd").abortAfter(3));
        assertThatThrownBy(() -> get("/abort-chunked")).isInstanceOf(IOException.class);
    }

    @Test
    void aResetBeforeTheHeadIsAConnectionResetAndACloseIsAnEmptyEnd() throws Exception {
        origin.enqueue(MockResponse.resetBeforeHead());
        try (java.net.Socket socket = rawGet("/reset")) {
            assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(java.net.SocketException.class)
                    .hasMessageContaining("reset");
        }
        origin.enqueue(MockResponse.closeBeforeHead());
        try (java.net.Socket socket = rawGet("/close")) {
            assertThat(socket.getInputStream().read()).isEqualTo(-1);       // FIN, not a byte of answer
        }
        assertThat(origin.takeRequest().path()).isEqualTo("/reset");
        assertThat(origin.takeRequest().path()).isEqualTo("/close");
        origin.awaitConnectionClosed();
    }

    private static java.net.Socket rawGet(String path) throws IOException {
        java.net.Socket socket = new java.net.Socket("127.0.0.1", origin.port());
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: o\r\n\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    @Test
    void datesComeFromTheGivenClockAndAClosedOriginRestartsOnItsPort() throws Exception {
        SettableClock clock = SettableClock.at("2026-01-02T03:04:05Z");
        try (MockOrigin dated = MockOrigin.named("dated").datesFrom(clock).start()) {
            dated.enqueue(MockResponse.ok("x"));
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(dated.uri("/")).build(), BodyHandlers.ofString());
            assertThat(r.headers().firstValue("Date")).hasValue("Fri, 02 Jan 2026 03:04:05 GMT");
            int port = dated.port();
            dated.close();
            assertThat(dated.isRunning()).isFalse();
            assertThatThrownBy(() -> client.send(HttpRequest.newBuilder(dated.uri("/")).build(), BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class);
            dated.start();
            assertThat(dated.port()).isEqualTo(port);
        }
    }

    @Test
    void takeRequestFailsNamingTheOriginWhenNothingArrives() {
        assertThatThrownBy(() -> origin.takeRequest(Duration.ofMillis(10)))
                .isInstanceOf(AssertionError.class).hasMessageContaining("origin kit received no request");
        assertThatThrownBy(() -> MockResponse.status(42)).hasMessageContaining("status: 42 (expected: 100..599)");
        assertThat(Instant.parse("2026-01-02T03:04:05Z")).isEqualTo(SettableClock.at("2026-01-02T03:04:05Z").instant());
    }

    @Test
    void byteChunksGoAsSeparateWritesAndTrailersFollowTheLastOne() throws Exception {
        byte[] e = "é".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        origin.enqueue(MockResponse.ok().chunks(new byte[] {'C', 'A', 'F', e[0]}, new byte[] {e[1]})
                .header("Trailer", "X-Checksum").trailer("X-Checksum", "abc"));
        try (java.net.Socket socket = rawGet("/split")) {
            String raw = readUntil(socket.getInputStream(), "X-Checksum: abc\r\n\r\n");
            assertThat(raw).contains("Transfer-Encoding: chunked").doesNotContain("Content-Length")
                    .contains("\r\n4\r\nCAF").endsWith("\r\n1\r\n" + (char) (e[1] & 0xff) + "\r\n0\r\nX-Checksum: abc\r\n\r\n");
        }
        // a Content-Length of the script's own wins over chunked coding; the writes stay separate
        origin.enqueue(MockResponse.ok().header("Content-Length", "4").chunks("ab", "cd"));
        HttpResponse<String> framed = get("/framed");
        assertThat(framed.headers().firstValue("Content-Length")).hasValue("4");
        assertThat(framed.body()).isEqualTo("abcd");
    }

    @Test
    void aGeneratedBodyStreamsGigabytesWithoutHoldingThemAndCanBeChunkedOrCut() throws Exception {
        long size = 256L * 1024 * 1024 + 7;        // 4096 writes: iterated, never held, never recursing
        origin.enqueue(MockResponse.ok().generatedBody(size));
        HttpResponse<java.io.InputStream> big = client.send(HttpRequest.newBuilder(origin.uri("/big")).build(),
                BodyHandlers.ofInputStream());
        assertThat(big.headers().firstValue("Content-Length")).hasValue(Long.toString(size));
        long total = 0;
        long mismatches = 0;
        byte[] buf = new byte[64 * 1024];
        try (java.io.InputStream in = big.body()) {
            for (int n; (n = in.read(buf)) >= 0; total += n) {
                for (int k = 0; k < n; k++) {
                    mismatches += buf[k] == (byte) ('a' + (total + k) % 26) ? 0 : 1;
                }
            }
        }
        assertThat(total).isEqualTo(size);
        assertThat(mismatches).isZero();

        origin.enqueue(MockResponse.ok().generatedBody(100_000, i -> i == 70_000 ? '!' : '.').chunked());
        HttpResponse<String> chunked = get("/generated");
        assertThat(chunked.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
        assertThat(chunked.body()).hasSize(100_000).containsOnlyOnce("!");
        assertThat(chunked.body().indexOf('!')).isEqualTo(70_000);

        origin.enqueue(MockResponse.ok().generatedBody(200_000).abortAfter(100_000));
        try (java.net.Socket socket = rawGet("/truncated")) {
            byte[] raw = socket.getInputStream().readAllBytes();           // ends at the close, short of 200000
            String text = new String(raw, java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(text).contains("Content-Length: 200000");
            assertThat(raw.length - text.indexOf("\r\n\r\n") - 4).isEqualTo(100_000);
        }
        assertThatThrownBy(() -> MockResponse.ok().generatedBody(-1)).hasMessageContaining("generatedBody: -1 (expected: >= 0)");
    }

    @Test
    void aGateAfterTheLastChunkHoldsAMidBodyDeathUntilTheTestOpensIt() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        origin.enqueue(MockResponse.ok().chunks("part1", "").abortAfter(5).pauseBeforeChunk(1, gate));
        try (java.net.Socket socket = rawGet("/dies")) {
            java.io.InputStream in = socket.getInputStream();
            String head = readUntil(in, "part1");
            assertThat(head).contains("Transfer-Encoding: chunked");
            gate.complete(null);                                           // only now may it die
            String rest = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(rest).doesNotContain("0\r\n\r\n");              // no last chunk: it died
        }
    }

    private static String readUntil(java.io.InputStream in, String end) throws IOException {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith(end)) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + sb);
            }
            sb.append((char) b);
        }
        return sb.toString();
    }

    @Test
    void pathAnswersComeAfterTheQueueAndBeforeTheDispatcherAndAreCountedByPath() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        origin.serve("/fixed", MockResponse.ok("fixed"))
                .serve("/counted", r -> MockResponse.ok("call " + calls.incrementAndGet() + " " + r.target()))
                .dispatcher(r -> MockResponse.ok().body(r.body()));        // echoes the request body
        try {
            origin.enqueue(MockResponse.ok("queued"));
            assertThat(get("/fixed").body()).isEqualTo("queued");
            assertThat(get("/fixed").body()).isEqualTo("fixed");
            assertThat(get("/counted?a=1").body()).isEqualTo("call 1 /counted?a=1");
            assertThat(get("/counted").body()).isEqualTo("call 2 /counted");
            assertThat(client.send(HttpRequest.newBuilder(origin.uri("/echo"))
                    .POST(HttpRequest.BodyPublishers.ofString("ping")).build(), BodyHandlers.ofString()).body()).isEqualTo("ping");
            assertThat(origin.requestCount("/fixed")).isEqualTo(2);
            assertThat(origin.requestCount("/counted")).isEqualTo(2);
            assertThat(origin.requestCount("/none")).isZero();
            assertThat(origin.requestCount()).isEqualTo(5);
            origin.reset();
            assertThat(origin.requestCount("/fixed")).isZero();
            assertThat(get("/fixed").body()).isEqualTo("fixed");                // path answers survive a reset
        } finally {
            origin.serve("/fixed", MockResponse.status(404)).serve("/counted", MockResponse.status(404))
                    .dispatcher(r -> MockResponse.status(404));
        }
        assertThatThrownBy(() -> origin.serve("nope", MockResponse.ok())).hasMessageContaining("path: 'nope'");
    }

    @Test
    void queryParametersAreDecodedFromTheTarget() throws Exception {
        origin.enqueue(MockResponse.ok("q"));
        get("/q?b=x%20y+z&c&b=second&n=%C3%A9");
        RecordedRequest r = origin.takeRequest();
        assertThat(r.queryParameter("b")).hasValue("x y z");
        assertThat(r.queryParameter("c")).hasValue("");
        assertThat(r.queryParameter("n")).hasValue("é");
        assertThat(r.queryParameter("missing")).isEmpty();
        assertThat(r.queryParameters()).containsExactly(java.util.Map.entry("b", java.util.List.of("x y z", "second")),
                java.util.Map.entry("c", java.util.List.of("")), java.util.Map.entry("n", java.util.List.of("é")));
    }

    @Test
    void anArrivalIsSeenBeforeItsBodyIsWholeAndUnrecordedRequestsAreOnlyCounted() throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", origin.port())) {
            socket.getOutputStream().write("POST /slow HTTP/1.1\r\nHost: o\r\nContent-Length: 10\r\n\r\n12345"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            origin.awaitArrival();                                      // the head is there, half the body is not
            assertThat(origin.pollRequest()).isEmpty();
            socket.getOutputStream().write("67890".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            assertThat(origin.takeRequest().bodyText()).isEqualTo("1234567890");
        }
        try (MockOrigin quiet = MockOrigin.named("quiet").recordRequests(false).start()) {
            quiet.enqueue(MockResponse.ok("x"));
            client.send(HttpRequest.newBuilder(quiet.uri("/a")).build(), BodyHandlers.ofString());
            assertThat(quiet.requestCount()).isEqualTo(1);
            assertThat(quiet.pollRequest()).isEmpty();
        }
    }

    @Test
    void answersWithoutDateWhenToldAndWithTheRealTimeOtherwise() throws Exception {
        origin.enqueue(MockResponse.ok("dated"));
        origin.enqueue(MockResponse.ok("undated").withoutDate());
        assertThat(get("/a").headers().firstValue("Date")).isPresent();
        assertThat(get("/b").headers().firstValue("Date")).isEmpty();
    }

    @Test
    void connectionEventsAreAwaitedNotPolled() throws Exception {
        try (MockOrigin counted = MockOrigin.named("counted").start()) {
            counted.dispatcher(r -> MockResponse.ok("x"));
            java.net.Socket first = new java.net.Socket("127.0.0.1", counted.port());
            java.net.Socket second = new java.net.Socket("127.0.0.1", counted.port());
            counted.awaitConnectionsOpened(2);
            assertThat(counted.connectionsOpened()).isEqualTo(2);
            first.close();
            second.close();
            counted.awaitAllConnectionsClosed();
        }
    }

    @Test
    void anHttpsOriginServesItsCertificate() throws Exception {
        try (MockOrigin secure = MockOrigin.named("secure").useHttps(io.github.gatehouse.core.testsupport.TestCertificates.serving())
                .start()) {
            secure.enqueue(MockResponse.ok("private"));
            assertThat(secure.baseUrl()).isEqualTo("https://127.0.0.1:" + secure.port());
            HttpClient trusting = HttpClient.newBuilder()
                    .sslContext(io.github.gatehouse.core.testsupport.TestCertificates.trustingTestCertificate()).build();
            HttpResponse<String> r = trusting.send(HttpRequest.newBuilder(secure.uri("/s")).build(), BodyHandlers.ofString());
            assertThat(r.body()).isEqualTo("private");
            assertThat(r.sslSession()).isPresent();
            assertThat(secure.takeRequest().path()).isEqualTo("/s");
        }
    }

    @Test
    void aClosedOriginDropsAnUploadInFlightWithoutAnswering() throws Exception {
        MockOrigin stopping = MockOrigin.named("stopping").start();
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", stopping.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /upload HTTP/1.1\r\nHost: o\r\nContent-Length: 1000\r\n\r\n"
                    + "x".repeat(10)).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            stopping.awaitArrival();

            stopping.close();

            // like a killed process: the connection ends with nothing sent, in particular no "HTTP/1.1 500" error page
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            try {
                socket.getInputStream().transferTo(bytes);
            } catch (IOException reset) {
                // a reset ends the stream as well
            }
            assertThat(bytes.toString(java.nio.charset.StandardCharsets.ISO_8859_1)).isEmpty();
            assertThat(stopping.takeRequest().bodyFailure()).isPresent();     // its body never came whole
        } finally {
            stopping.close();
        }
    }

    /** An SSL context presenting {@code identity} and trusting {@code trusted}'s CA (or nothing, when null). */
    private static javax.net.ssl.SSLContext context(io.github.gatehouse.core.testsupport.TestPki.Issued identity,
            io.github.gatehouse.core.testsupport.TestPki.Issued trusted) throws Exception {
        java.security.KeyStore keys = java.security.KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        javax.net.ssl.KeyManager[] km = null;
        if (identity != null) {
            keys.setKeyEntry("id", identity.key(), "pw".toCharArray(),
                    new java.security.cert.Certificate[] {identity.certificate(), identity.ca()});
            javax.net.ssl.KeyManagerFactory kmf =
                    javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, "pw".toCharArray());
            km = kmf.getKeyManagers();
        }
        javax.net.ssl.TrustManager[] tm = null;
        if (trusted != null) {
            java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", trusted.ca());
            javax.net.ssl.TrustManagerFactory tmf =
                    javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            tm = tmf.getTrustManagers();
        }
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(km, tm, null);
        return ctx;
    }

    @Test
    void anHttp2OriginWithMutualTlsRecordsTheProtocolTheClientAndTheConnection() throws Exception {
        io.github.gatehouse.core.testsupport.TestPki serverCa = io.github.gatehouse.core.testsupport.TestPki.create("Server CA");
        io.github.gatehouse.core.testsupport.TestPki clientCa = io.github.gatehouse.core.testsupport.TestPki.create("Client CA");
        io.github.gatehouse.core.testsupport.TestPki.Issued server = serverCa.issue("localhost", "127.0.0.1");
        io.github.gatehouse.core.testsupport.TestPki.Issued client = clientCa.issue("the-client");
        try (MockOrigin h2 = MockOrigin.named("h2").useHttps(context(server, client)).requireClientCertificates()
                .enableHttp2().dispatcher(r -> MockResponse.ok(r.protocol() + " " + r.target())).start()) {
            HttpClient withCertificate = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2)
                    .sslContext(context(client, server)).build();
            assertThat(withCertificate.send(HttpRequest.newBuilder(h2.uri("/a")).build(), BodyHandlers.ofString()).body())
                    .isEqualTo("HTTP/2.0 /a");
            assertThat(withCertificate.send(HttpRequest.newBuilder(h2.uri("/b")).build(), BodyHandlers.ofString()).body())
                    .isEqualTo("HTTP/2.0 /b");
            RecordedRequest a = h2.takeRequest();
            RecordedRequest b = h2.takeRequest();
            assertThat(a.protocol()).isEqualTo("HTTP/2.0");
            assertThat(a.clientCertificateSubject()).hasValueSatisfying(s -> assertThat(s).contains("CN=the-client"));
            assertThat(b.connectionId()).as("two streams of one connection").isEqualTo(a.connectionId());
            assertThat(h2.connectionsOpened()).as("a TLS connection counts once").isEqualTo(1);

            HttpClient http1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(context(client, server)).build();
            assertThat(http1.send(HttpRequest.newBuilder(h2.uri("/c")).build(), BodyHandlers.ofString()).body())
                    .isEqualTo("HTTP/1.1 /c");

            HttpClient anonymous = HttpClient.newBuilder().sslContext(context(null, server)).build();
            assertThatThrownBy(() -> anonymous.send(HttpRequest.newBuilder(h2.uri("/d")).build(), BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class);
        }
        try (MockOrigin h2c = MockOrigin.named("h2c").enableHttp2().dispatcher(r -> MockResponse.ok(r.protocol())).start()) {
            HttpClient upgrading = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
            upgrading.send(HttpRequest.newBuilder(h2c.uri("/up")).build(), BodyHandlers.ofString());   // Upgrade: h2c
            assertThat(upgrading.send(HttpRequest.newBuilder(h2c.uri("/then")).build(), BodyHandlers.ofString()).body())
                    .isEqualTo("HTTP/2.0");
        }
    }
}
