package io.github.gatehouse.core;

import static io.github.gatehouse.core.RelayFidelityTest.body;
import static io.github.gatehouse.core.RelayFidelityTest.exchange;
import static io.github.gatehouse.core.RelayFidelityTest.field;
import static io.github.gatehouse.core.RelayFidelityTest.head;
import static io.github.gatehouse.core.RelayFidelityTest.text;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.RelayFidelityTest.Mode;
import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RawOrigin.Ending;
import io.github.gatehouse.core.testsupport.RawOrigin.Reply;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every way an upstream body can end early reaches the client as an aborted response, never as one that looks
 * complete, and the access log says so. A clean end of a close-delimited body is complete.
 */
class TruncationTest {
    private static final String HALF = "x".repeat(500);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final RecordingAccessLog accessLog = new RecordingAccessLog();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private byte[] fetch(Mode mode, Reply reply) throws Exception {
        return fetch(mode, reply, "");
    }

    private byte[] fetch(Mode mode, Reply reply, String extra) throws Exception {
        RawOrigin origin = RawOrigin.start(head -> reply);
        closeables.add(origin);
        ProxyServer.Builder b = ProxyServer.builder().via("gh-trunc").accessLog(accessLog);
        ProxyServer proxy = (mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.any().to(UpstreamPool.of(origin.baseUrl()).retries(RetryPolicy.none())))).build().start();
        closeables.add(proxy);
        String target = mode == Mode.FORWARD ? origin.baseUrl() + "/t" : "/t";
        String host = mode == Mode.FORWARD ? "127.0.0.1:" + origin.port() : "site.test";
        // keep-alive on purpose: only the framing may tell the client whether the body was whole
        return exchange(proxy.port(), "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n");
    }

    private void assertLoggedAborted() throws InterruptedException {
        AccessLogEntry entry = accessLog.take();
        assertThat(entry.completed()).as("access log: completed").isFalse();
        assertThat(entry.reason()).isNotNull();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aResetDuringAFixedLengthBodyIsNotPassedOffAsComplete(Mode mode) throws Exception {
        byte[] response = fetch(mode, Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + HALF).then(Ending.RESET));

        assertThat(field(head(response), "Content-Length")).isEqualTo("1000");
        assertThat(body(response).length).isLessThan(1000);
        assertLoggedAborted();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aFinBeforeContentLengthBytesIsNotPassedOffAsComplete(Mode mode) throws Exception {
        byte[] response = fetch(mode, Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + HALF).then(Ending.CLOSE));

        assertThat(field(head(response), "Content-Length")).isEqualTo("1000");
        assertThat(body(response).length).isLessThan(1000);
        assertLoggedAborted();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aChunkedBodyWithoutItsLastChunkGetsNoLastChunk(Mode mode) throws Exception {
        byte[] response = fetch(mode, Reply.of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n" + HALF + "\r\n")
                .then(Ending.CLOSE));

        assertThat(field(head(response), "Transfer-Encoding")).isEqualTo("chunked");
        assertThat(text(body(response))).doesNotEndWith("0\r\n\r\n");
        assertLoggedAborted();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aCloseDelimitedBodyEndedByAResetGetsNoLastChunk(Mode mode) throws Exception {
        byte[] response = fetch(mode, Reply.of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + HALF).then(Ending.RESET));

        String head = head(response);
        assertThat(field(head, "Content-Length")).isNull();
        assertThat(field(head, "Transfer-Encoding")).isEqualTo("chunked");
        assertThat(text(body(response))).doesNotEndWith("0\r\n\r\n");
        assertLoggedAborted();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aCloseDelimitedBodyEndedByACleanFinIsComplete(Mode mode) throws Exception {
        byte[] response = fetch(mode, Reply.of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + HALF).then(Ending.CLOSE),
                "Connection: close\r\n");

        String body = text(body(response));
        if ("chunked".equals(field(head(response), "Transfer-Encoding"))) {
            assertThat(body).endsWith("\r\n0\r\n\r\n").contains(HALF);
        } else {
            assertThat(body).isEqualTo(HALF);
        }
        assertThat(accessLog.take().completed()).isTrue();
    }
}
