package io.github.gatehouse.core.testing;

import io.github.gatehouse.core.testsupport.Clients;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
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
}
