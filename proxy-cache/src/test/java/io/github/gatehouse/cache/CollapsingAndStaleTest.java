package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Request collapsing, stale-while-revalidate and stale-if-error (RFC 5861), through the wire. */
class CollapsingAndStaleTest {
    private CacheProxy t;
    private final ExecutorService clients = Executors.newFixedThreadPool(8, r -> new Thread(r, "client"));

    @BeforeEach
    void start() throws Exception {
        t = CacheProxy.memory();
    }

    @AfterEach
    void stop() throws Exception {
        clients.shutdownNow();
        t.close();
    }

    @Test
    void concurrentMissesForOneKeyMakeOneUpstreamRequestAndFollowersStreamTheFill() throws Exception {
        CompletableFuture<Void> rest = new CompletableFuture<>();
        t.origin.serve("/big", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("first-", "second").pauseBeforeChunk(1, rest));
        int n = 6;
        List<Future<RawHttp.Reply>> replies = new ArrayList<>();
        replies.add(clients.submit(() -> t.get("/big")));
        t.origin.takeRequest(); // the leader reached the origin and got the first part
        int lookups = t.observed.lookups();
        for (int i = 1; i < n; i++) {
            replies.add(clients.submit(() -> t.get("/big")));
        }
        // every follower is attached once its lookup returned; they show up as collapsed in the stats
        t.observed.awaitLookups(lookups + n - 1);
        assertThat(t.cache.stats().collapsed()).isEqualTo(n - 1);
        rest.complete(null);
        for (Future<RawHttp.Reply> f : replies) {
            RawHttp.Reply r = f.get(5, TimeUnit.SECONDS);
            assertThat(r.status()).isEqualTo(200);
            assertThat(dechunk(r)).isEqualTo("first-second");
        }
        assertThat(t.origin.requestCount("/big")).isEqualTo(1);
        assertThat(t.get("/big").bodyText()).isEqualTo("first-second");
        assertThat(t.origin.requestCount("/big")).isEqualTo(1);
    }

    @Test
    void missesOfAKeyWhoseLastAnswerCouldNotBeStoredGoUpstreamSideBySide() throws Exception {
        t.origin.serve("/nostore", MockResponse.ok("fresh").header("Cache-Control", "no-store"));
        assertThat(t.get("/nostore").bodyText()).isEqualTo("fresh"); // a fill whose answer could not be stored
        t.origin.takeRequest();

        CompletableFuture<Void> gate = new CompletableFuture<>();
        t.origin.serve("/nostore", MockResponse.ok("held").header("Cache-Control", "no-store").holdUntil(gate));
        Future<RawHttp.Reply> first = clients.submit(() -> t.get("/nostore"));
        Future<RawHttp.Reply> second = clients.submit(() -> t.get("/nostore"));
        // both reach the origin while it holds its answers: neither waits for the other's fill (hit-for-miss)
        t.origin.takeRequest();
        t.origin.takeRequest();
        assertThat(t.cache.stats().collapsed()).isZero();
        gate.complete(null);
        assertThat(first.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("held");
        assertThat(second.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("held");

        // an answer that can be stored still is, and ends the mark
        t.origin.serve("/nostore", MockResponse.ok("cacheable now").header("Cache-Control", "max-age=100"));
        java.util.concurrent.Semaphore stored = new java.util.concurrent.Semaphore(0);
        t.cache.onStored(stored::release);
        assertThat(t.get("/nostore").bodyText()).isEqualTo("cacheable now");
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("stored").isTrue();
        int before = t.origin.requestCount("/nostore");
        assertThat(t.get("/nostore").headers().get("cache-status")).contains("hit");
        assertThat(t.origin.requestCount("/nostore")).isEqualTo(before);

        // and after the mark's time an unstorable key collapses again
        t.origin.serve("/nostore-2", MockResponse.ok("x").header("Cache-Control", "no-store"));
        t.get("/nostore-2");
        t.advance(Duration.ofSeconds(121));
        CompletableFuture<Void> gate2 = new CompletableFuture<>();
        t.origin.serve("/nostore-2", MockResponse.ok("y").header("Cache-Control", "no-store").holdUntil(gate2));
        int lookups = t.observed.lookups();
        Future<RawHttp.Reply> leader = clients.submit(() -> t.get("/nostore-2"));
        t.observed.awaitLookups(lookups + 1);
        Future<RawHttp.Reply> follower = clients.submit(() -> t.get("/nostore-2"));
        t.observed.awaitLookups(lookups + 2);
        assertThat(t.cache.stats().collapsed()).as("the follower waits for the leader's fill again").isEqualTo(1);
        gate2.complete(null);
        assertThat(leader.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("y");
        assertThat(follower.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("y");
    }

    @Test
    void followersOfAFillThatDiesMidBodyAreAbortedNotCompleted() throws Exception {
        CompletableFuture<Void> die = new CompletableFuture<>();
        t.origin.serve("/dies", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("partial-", "").abortAfter(8).pauseBeforeChunk(1, die));
        Future<RawHttp.Reply> leader = clients.submit(() -> t.get("/dies"));
        t.origin.takeRequest();
        int lookups = t.observed.lookups();
        Future<RawHttp.Reply> follower = clients.submit(() -> t.get("/dies"));
        t.observed.awaitLookups(lookups + 1); // the follower is attached to the leader's fill
        assertThat(t.cache.stats().collapsed()).isEqualTo(1);
        die.complete(null);
        for (RawHttp.Reply r : List.of(leader.get(5, TimeUnit.SECONDS), follower.get(5, TimeUnit.SECONDS))) {
            assertThat(r.bodyText()).contains("partial-").doesNotEndWith("0\r\n\r\n");
        }
        t.origin.serve("/dies", MockResponse.ok().body("whole").header("Cache-Control", "max-age=100"));
        assertThat(t.get("/dies").bodyText()).isEqualTo("whole");
    }

    @Test
    void concurrentRevalidationsOfAStaleEntryMakeOneConditionalRequest() throws Exception {
        CompletableFuture<Void> release = new CompletableFuture<>();
        AtomicInteger calls = new AtomicInteger();
        t.origin.serve("/r", r -> calls.incrementAndGet() == 1
                ? MockResponse.ok().body("body").header("Cache-Control", "max-age=10").header("ETag", "\"r\"")
                : MockResponse.status(304).header("ETag", "\"r\"").header("Cache-Control", "max-age=10").holdUntil(release));
        t.get("/r");
        t.origin.takeRequest();
        t.advance(Duration.ofSeconds(20));
        int n = 5;
        List<Future<RawHttp.Reply>> replies = new ArrayList<>();
        replies.add(clients.submit(() -> t.get("/r")));
        assertThat(t.origin.takeRequest().headers().get("If-None-Match")).isEqualTo("\"r\"");
        int lookups = t.observed.lookups();
        for (int i = 1; i < n; i++) {
            replies.add(clients.submit(() -> t.get("/r")));
        }
        t.observed.awaitLookups(lookups + n - 1); // every follower is attached to the revalidation
        release.complete(null);
        for (Future<RawHttp.Reply> f : replies) {
            RawHttp.Reply r = f.get(5, TimeUnit.SECONDS);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("body");
        }
        assertThat(t.origin.requestCount("/r")).isEqualTo(2);
        assertThat(t.cache.stats().collapsed()).isEqualTo(n - 1);
    }

    @Test
    void followersGoUpstreamThemselvesWhenTheResponseIsNotStorable() throws Exception {
        CompletableFuture<Void> release = new CompletableFuture<>();
        t.origin.serve("/p", MockResponse.ok().body("private").header("Cache-Control", "private").holdUntil(release));
        Future<RawHttp.Reply> leader = clients.submit(() -> t.get("/p"));
        t.origin.takeRequest();
        Future<RawHttp.Reply> follower = clients.submit(() -> t.get("/p"));
        release.complete(null);
        assertThat(leader.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("private");
        assertThat(follower.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("private");
        assertThat(t.origin.requestCount("/p")).isEqualTo(2);
    }

    @Test
    void staleWhileRevalidateServesStaleAtOnceAndRevalidatesInTheBackground() throws Exception {
        AtomicInteger version = new AtomicInteger(1);
        t.origin.serve("/s", r -> MockResponse.ok().body("v" + version.get()).header("Cache-Control", "max-age=10, stale-while-revalidate=60"));
        java.util.concurrent.Semaphore stored = new java.util.concurrent.Semaphore(0);
        t.cache.onStored(stored::release);
        t.get("/s");
        t.origin.takeRequest();
        version.set(2);
        t.advance(Duration.ofSeconds(30));

        RawHttp.Reply stale = t.get("/s");
        assertThat(stale.bodyText()).isEqualTo("v1");
        assertThat(stale.headers().get("cache-status")).contains("hit").contains("stale-while-revalidate");
        assertThat(stale.headers().get("age")).isEqualTo("30");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
        t.origin.takeRequest(); // the background revalidation
        // the first response and the revalidated one stored
        assertThat(stored.tryAcquire(2, 5, TimeUnit.SECONDS)).as("two stores within 5 s").isTrue();
        RawHttp.Reply fresh = t.get("/s");
        assertThat(fresh.bodyText()).isEqualTo("v2");
        assertThat(fresh.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(t.origin.requestCount("/s")).isEqualTo(2);
    }

    @Test
    void pastTheStaleWhileRevalidateWindowTheClientWaitsForTheOrigin() throws Exception {
        t.origin.serve("/s", MockResponse.ok().body("v").header("Cache-Control", "max-age=10, stale-while-revalidate=5"));
        t.get("/s");
        t.advance(Duration.ofSeconds(30));
        t.get("/s");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.origin.requestCount("/s")).isEqualTo(2);
    }

    @Test
    void staleIfErrorServesTheStaleEntryWhenTheUpstreamIsStopped() throws Exception {
        t.origin.serve("/e", MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-if-error=60"));
        t.get("/e");
        t.origin.close();
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("kept");
        assertThat(r.headers().get("cache-status")).contains("stale-if-error");
        assertThat(t.cache.stats().staleServed()).isEqualTo(1);
        t.advance(Duration.ofSeconds(60));
        assertThat(t.get("/e").status()).isEqualTo(502);
    }

    @Test
    void staleIfErrorServesTheStaleEntryWhenTheUpstreamAnswers5xx() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        t.origin.serve("/e", r -> calls.incrementAndGet() == 1
                ? MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-if-error=60").header("ETag", "\"e\"")
                : MockResponse.status(503).body("down"));
        t.get("/e");
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("kept");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
    }

    @Test
    void mustRevalidateForbidsStaleIfError() throws Exception {
        t.origin.serve("/e", MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-if-error=60, must-revalidate"));
        t.get("/e");
        t.origin.close();
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(504);
        assertThat(r.bodyText()).contains("must be revalidated");
    }

    @Test
    void staleIfErrorServesTheStaleEntryWhenTheUpstreamTimesOut() throws Exception {
        t.close();
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)),
                p -> p.upstreamTimeout(Duration.ofMillis(300)));
        CompletableFuture<Void> never = new CompletableFuture<>();
        AtomicInteger calls = new AtomicInteger();
        t.origin.serve("/slow", r -> calls.incrementAndGet() == 1
                ? MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-if-error=60")
                : MockResponse.ok().body("late").holdUntil(never));
        t.get("/slow");
        t.advance(Duration.ofSeconds(30));
        try {
            RawHttp.Reply r = t.get("/slow");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("kept");
        } finally {
            never.complete(null);
        }
    }

    @Test
    void responsesLargerThanMaxObjectSizeAreRelayedButNotStored() throws Exception {
        t.close();
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).maxObjectSize(DataSize.bytes(10)));
        CompletableFuture<Void> rest = new CompletableFuture<>();
        rest.complete(null);
        t.origin.serve("/chunked", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("0123456789", "abcdef").pauseBeforeChunk(1, rest));
        t.origin.serve("/sized", MockResponse.ok().body("0123456789abcdef").header("Cache-Control", "max-age=100"));
        t.origin.serve("/small", MockResponse.ok().body("0123").header("Cache-Control", "max-age=100"));
        for (String p : new String[] {"/chunked", "/sized", "/small"}) {
            RawHttp.Reply r = t.get(p);
            assertThat(dechunk(r)).as(p).startsWith("0123");
            t.get(p);
        }
        assertThat(t.origin.requestCount("/chunked")).isEqualTo(2);
        assertThat(t.origin.requestCount("/sized")).isEqualTo(2);
        assertThat(t.origin.requestCount("/small")).isEqualTo(1);
    }

    /** Decodes a chunked body if the reply is chunked. */
    static String dechunk(RawHttp.Reply r) {
        String body = r.bodyText();
        if (!"chunked".equalsIgnoreCase(r.headers().get("transfer-encoding"))) {
            return body;
        }
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (true) {
            int eol = body.indexOf("\r\n", at);
            int size = Integer.parseInt(body.substring(at, eol).split(";")[0].trim(), 16);
            if (size == 0) {
                return out.toString();
            }
            out.append(body, eol + 2, eol + 2 + size);
            at = eol + 2 + size + 2;
        }
    }
}
