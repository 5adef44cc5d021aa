package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A fill goes on when the client that started it leaves (nginx {@code proxy_cache_lock}, Varnish): collapsed followers
 * get the whole body, and a fill nobody waits for is finished only within the finish-without-client size.
 */
class FillsSurviveTheirClientTest {
    private static final int FIRST = 64 * 1024;
    private static final int REST = 2 * 1024 * 1024;

    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        if (t != null) {
            t.close();
        }
    }

    private void start(UnaryOperator<HttpCaches.Builder> config) throws Exception {
        t = CacheProxy.with(config);
    }

    @Test
    void theFollowerGetsTheWholeBodyWhenTheLeaderDisconnectsMidBody() throws Exception {
        start(b -> b.memory(DataSize.mebibytes(16)).finishWithoutClient(DataSize.bytes(0)));
        String[] body = body();
        CompletableFuture<Void> rest = new CompletableFuture<>();
        t.origin.serve("/big", MockResponse.ok().header("Cache-Control", "max-age=100").chunks(body[0], body[1]).pauseBeforeChunk(1, rest));

        try (Socket leader = new Socket("127.0.0.1", t.proxy.port())) {
            leader.setSoTimeout(5000);
            send(leader, "/big");
            readHeadAndSomeBody(leader.getInputStream());

            HttpResponse<InputStream> follower = Clients.throughProxy(t.proxy.port()).send(
                    HttpRequest.newBuilder(URI.create(t.origin.url("/big"))).build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(follower.headers().firstValue("cache-status").orElseThrow()).contains("collapsed");
            InputStream followerBody = follower.body();
            byte[] start = followerBody.readNBytes(FIRST); // the follower streams the fill the leader started

            leader.setSoLinger(true, 0); // the leader goes away with a reset, mid-body
            leader.close();
            rest.complete(null); // the proxy finds the leader gone at its next write
            AccessLogEntry leaderLine = t.log.take();
            assertThat(leaderLine.completed()).isFalse();

            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.write(start);
            followerBody.transferTo(all);
            assertThat(all.size()).isEqualTo(FIRST + REST);
            assertThat(sha256(all.toByteArray())).isEqualTo(sha256((body[0] + body[1]).getBytes(StandardCharsets.US_ASCII)));
        }
        assertThat(t.log.take().completed()).as("the follower's exchange").isTrue();
        RawHttp.Reply third = t.get("/big");
        assertThat(third.bodyText()).hasSize(FIRST + REST);
        assertThat(third.headers().get("cache-status")).satisfiesAnyOf(
                s -> assertThat(s).startsWith("gatehouse; hit"), s -> assertThat(s).contains("; collapsed"));
        assertThat(t.origin.requestCount("/big")).isEqualTo(1);
    }

    @Test
    void aFillNobodyWaitsForIsFinishedWhenTheRestFitsTheFinishWithoutClientSize() throws Exception {
        start(b -> b.memory(DataSize.mebibytes(16)).finishWithoutClient(DataSize.mebibytes(4)));
        leaderLeavesAlone(true);
        RawHttp.Reply again = t.get("/big");
        assertThat(again.bodyText()).hasSize(FIRST + REST);
        assertThat(t.origin.requestCount("/big")).as("served from the finished fill").isEqualTo(1);
    }

    @Test
    void aFillNobodyWaitsForIsAbandonedWhenTheRestExceedsTheFinishWithoutClientSize() throws Exception {
        start(b -> b.memory(DataSize.mebibytes(16)).finishWithoutClient(DataSize.mebibytes(1)));
        leaderLeavesAlone(true);
        t.origin.awaitConnectionClosed(); // the proxy aborted the upstream response
        RawHttp.Reply again = t.get("/big");
        assertThat(again.bodyText()).hasSize(FIRST + REST);
        assertThat(t.origin.requestCount("/big")).as("abandoned: the next request goes upstream").isEqualTo(2);
    }

    @Test
    void aFillOfUnknownLengthNobodyWaitsForReadsAtMostTheFinishWithoutClientSize() throws Exception {
        start(b -> b.memory(DataSize.mebibytes(16)).finishWithoutClient(DataSize.kibibytes(256)));
        leaderLeavesAlone(false);
        t.origin.awaitConnectionClosed(); // the proxy read its 256 KiB without a client, then aborted the upstream
        t.get("/big");
        assertThat(t.origin.requestCount("/big")).isEqualTo(2);
        t.close();
        t = null;
        start(b -> b.memory(DataSize.mebibytes(16)).finishWithoutClient(DataSize.mebibytes(3)));
        leaderLeavesAlone(false);
        t.get("/big");
        assertThat(t.origin.requestCount("/big")).isEqualTo(1);
    }

    /** A leader reads the head and part of the body, resets its connection, and the origin then sends the rest. */
    private void leaderLeavesAlone(boolean contentLength) throws Exception {
        String[] body = body();
        CompletableFuture<Void> rest = new CompletableFuture<>();
        MockResponse answer = MockResponse.ok().header("Cache-Control", "max-age=100").chunks(body[0], body[1]).pauseBeforeChunk(1, rest);
        if (contentLength) {
            answer = answer.header("Content-Length", Integer.toString(FIRST + REST));
        }
        t.origin.serve("/big", answer);
        try (Socket leader = new Socket("127.0.0.1", t.proxy.port())) {
            leader.setSoTimeout(5000);
            send(leader, "/big");
            readHeadAndSomeBody(leader.getInputStream());
            leader.setSoLinger(true, 0);
            leader.close();
            rest.complete(null);
            AccessLogEntry line = t.log.take();
            assertThat(line.completed()).isFalse();
        }
    }

    private void send(Socket s, String path) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(("GET " + t.origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + t.origin.port() + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** Reads up to the end of the head and at least one body byte. */
    private static void readHeadAndSomeBody(InputStream in) throws IOException {
        byte[] buf = new byte[8192];
        StringBuilder seen = new StringBuilder();
        while (true) {
            int n = in.read(buf);
            assertThat(n).as("the proxy closed before the body began").isPositive();
            seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            int end = seen.indexOf("\r\n\r\n");
            if (end >= 0 && seen.length() > end + 4) {
                assertThat(seen.toString()).startsWith("HTTP/1.1 200 ");
                return;
            }
        }
    }

    /** A first part and a rest of pseudo-random letters (not a repeating pattern, so a wrong splice shows). */
    private static String[] body() {
        Random random = new Random(12);
        char[] chars = new char[FIRST + REST];
        for (int i = 0; i < chars.length; i++) {
            chars[i] = (char) ('a' + random.nextInt(26));
        }
        String all = new String(chars);
        return new String[] {all.substring(0, FIRST), all.substring(FIRST)};
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
