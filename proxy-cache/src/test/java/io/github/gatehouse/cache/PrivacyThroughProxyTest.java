package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The shared cache shares nothing private, through a forward proxy: stored {@code Set-Cookie} is withheld from every
 * response served from the cache (unless replaying is configured), qualified {@code private="..."} and
 * {@code no-cache="..."} keep the named fields out of the stored copy, and a GET or HEAD with a body bypasses the
 * cache ("fat GET" poisoning).
 */
class PrivacyThroughProxyTest {
    private CacheProxy t;
    private final ExecutorService clients = Executors.newFixedThreadPool(2, r -> new Thread(r, "client"));

    @AfterEach
    void stop() throws Exception {
        clients.shutdownNow();
        t.close();
    }

    // ---- Set-Cookie ---------------------------------------------------------------------------------------

    @Test
    void aSecondClientNeverGetsTheFirstClientsCookieFromAHit() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/public", MockResponse.ok().body("shared").header("Cache-Control", "public, max-age=60")
                .header("Set-Cookie", "sid=alice; Path=/").header("X-Kept", "1"));
        t.origin.serve("/smax", MockResponse.ok().body("shared").header("Cache-Control", "s-maxage=60")
                .header("Set-Cookie", "sid=alice"));
        for (String path : new String[] {"/public", "/smax"}) {
            RawHttp.Reply first = t.get(path);
            assertThat(first.headers().get("set-cookie")).as(path).startsWith("sid=alice");
            assertThat(first.headers().get("cache-status")).as(path).endsWith("; stored");
            assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

            RawHttp.Reply second = t.get(path, "Cookie: sid=bob");
            assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
            assertThat(second.bodyText()).isEqualTo("shared");
            assertThat(second.headers()).as(path).doesNotContainKey("set-cookie");
            assertThat(t.origin.requestCount(path)).isEqualTo(1);
        }
        assertThat(t.get("/public").headers().get("x-kept")).isEqualTo("1");
    }

    @Test
    void aCookieResponseWithoutPublicOrSMaxageIsNotStoredAndEachClientGetsItsOwn() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/mine", r -> MockResponse.ok().body("for " + r.headers().get("Cookie")).header("Cache-Control", "max-age=60")
                .header("Set-Cookie", "sid=" + r.headers().get("Cookie")));
        assertThat(t.get("/mine", "Cookie: alice").headers().get("set-cookie")).isEqualTo("sid=alice");
        RawHttp.Reply bob = t.get("/mine", "Cookie: bob");
        assertThat(bob.bodyText()).isEqualTo("for bob");
        assertThat(bob.headers().get("set-cookie")).isEqualTo("sid=bob");
        assertThat(t.origin.requestCount("/mine")).isEqualTo(2);
    }

    @Test
    void aResponseRefreshedByA304CarriesNoStoredCookieOnlyThe304sOwn() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/r", r -> r.headers().get("If-None-Match") != null
                ? (r.headers().get("Cookie") != null
                        ? MockResponse.status(304).header("ETag", "\"v1\"").header("Cache-Control", "public, max-age=10")
                                .header("Set-Cookie", "sid=fresh-for-" + r.headers().get("Cookie"))
                        : MockResponse.status(304).header("ETag", "\"v1\"").header("Cache-Control", "public, max-age=10"))
                : MockResponse.ok().body("v1").header("ETag", "\"v1\"").header("Cache-Control", "public, max-age=10")
                        .header("Set-Cookie", "sid=alice"));
        assertThat(t.get("/r").headers().get("set-cookie")).isEqualTo("sid=alice");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply refreshed = t.get("/r");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_UNMODIFIED");
        assertThat(refreshed.status()).isEqualTo(200);
        assertThat(refreshed.bodyText()).isEqualTo("v1");
        assertThat(refreshed.headers()).doesNotContainKey("set-cookie");

        // a 304 that sets a cookie answered this client's request: it gets that cookie, never the stored one
        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply carol = t.get("/r", "Cookie: carol");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_UNMODIFIED");
        assertThat(carol.headers().get("set-cookie")).isEqualTo("sid=fresh-for-carol");
        RawHttp.Reply hit = t.get("/r");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(hit.headers()).doesNotContainKey("set-cookie");
        assertThat(t.origin.requestCount("/r")).isEqualTo(3);
    }

    @Test
    void staleResponsesCarryNoStoredCookie() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/s", MockResponse.ok().body("s").header("Cache-Control", "public, max-age=10, stale-if-error=600")
                .header("Set-Cookie", "sid=alice"));
        t.get("/s");
        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply maxStale = t.get("/s", "Cache-Control: max-stale=60");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
        assertThat(maxStale.headers().get("cache-status")).contains("detail=max-stale");
        assertThat(maxStale.headers()).doesNotContainKey("set-cookie");

        t.origin.close();
        RawHttp.Reply onError = t.get("/s");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
        assertThat(onError.bodyText()).isEqualTo("s");
        assertThat(onError.headers().get("cache-status")).contains("detail=stale-if-error");
        assertThat(onError.headers()).doesNotContainKey("set-cookie");
    }

    @Test
    void aCollapsedFollowerGetsNoCookieWhileTheLeaderGetsIts() throws Exception {
        t = CacheProxy.memory();
        CompletableFuture<Void> rest = new CompletableFuture<>();
        t.origin.serve("/c", MockResponse.ok().header("Cache-Control", "public, max-age=60").header("Set-Cookie", "sid=alice")
                .chunks("first-", "second").pauseBeforeChunk(1, rest));
        Future<RawHttp.Reply> leader = clients.submit(() -> t.get("/c"));
        t.origin.takeRequest(); // the leader's fill is registered before it goes upstream
        try (Socket follower = new Socket("127.0.0.1", t.proxy.port())) {
            follower.setSoTimeout(10_000);
            follower.getOutputStream().write(("GET " + t.origin.url("/c") + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + t.origin.port() + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            // the head comes while the origin still holds the rest of the body: the fill cannot be complete yet,
            // so this response was served from the leader's fill
            String head = readHead(follower.getInputStream());
            assertThat(head).startsWith("HTTP/1.1 200").contains("collapsed").doesNotContainIgnoringCase("set-cookie");
        } finally {
            rest.complete(null); // also when an assertion failed, so the origin is not held
        }
        RawHttp.Reply first = leader.get(10, TimeUnit.SECONDS);
        assertThat(first.headers().get("set-cookie")).isEqualTo("sid=alice");
        t.log.take(); // the follower's line
        assertThat(t.get("/c").headers()).doesNotContainKey("set-cookie");
        assertThat(t.origin.requestCount("/c")).isEqualTo(1);
    }

    @Test
    void replaySetCookieRestoresTheRfcLiteralBehaviourButQualifiedDirectivesStillWin() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).replaySetCookie(true));
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "public, max-age=60").header("Set-Cookie", "lang=en"));
        t.origin.serve("/b", MockResponse.ok().body("b").header("Cache-Control", "public, max-age=60, no-cache=\"Set-Cookie\"")
                .header("Set-Cookie", "sid=alice"));
        t.get("/a");
        RawHttp.Reply hit = t.get("/a");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(hit.headers().get("set-cookie")).isEqualTo("lang=en");
        assertThat(t.get("/b").headers().get("set-cookie")).isEqualTo("sid=alice");
        assertThat(t.get("/b").headers()).doesNotContainKey("set-cookie");
        assertThat(t.origin.requestCount("/a") + t.origin.requestCount("/b")).isEqualTo(2);
    }

    // ---- qualified private / no-cache ---------------------------------------------------------------------

    @Test
    void qualifiedPrivateStoresTheResponseWithoutTheNamedFields() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/p", MockResponse.ok().body("page").header("Cache-Control", "max-age=60, private=\"X-Foo, Set-Cookie\"")
                .header("X-Foo", "alice's").header("Set-Cookie", "sid=alice").header("X-Bar", "everyone's"));
        RawHttp.Reply first = t.get("/p");
        assertThat(first.headers()).containsEntry("x-foo", "alice's").containsEntry("set-cookie", "sid=alice");
        RawHttp.Reply second = t.get("/p");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(second.bodyText()).isEqualTo("page");
        assertThat(second.headers()).doesNotContainKeys("x-foo", "set-cookie").containsEntry("x-bar", "everyone's");
        assertThat(t.origin.requestCount("/p")).isEqualTo(1);
    }

    @Test
    void qualifiedNoCacheServesWithoutRevalidationButWithoutTheNamedFields() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/n", MockResponse.ok().body("n").header("Cache-Control", "max-age=60, no-cache=\"X-Foo\"").header("ETag", "\"1\"")
                .header("X-Foo", "fresh only").header("X-Bar", "kept"));
        assertThat(t.get("/n").headers()).containsEntry("x-foo", "fresh only");
        RawHttp.Reply hit = t.get("/n");
        assertThat(hit.headers()).doesNotContainKey("x-foo").containsEntry("x-bar", "kept");
        assertThat(t.origin.requestCount("/n")).isEqualTo(1);
    }

    @Test
    void anUnqualifiedOccurrenceAppliesToTheWholeResponseWhateverTheOrder() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/priv", MockResponse.ok().body("p").header("Cache-Control", "max-age=60, private=\"X-Foo\", private"));
        t.origin.serve("/nc", r -> r.headers().get("If-None-Match") != null
                ? MockResponse.status(304).header("ETag", "\"1\"").header("Cache-Control", "max-age=60, no-cache=\"X-Foo\", no-cache")
                : MockResponse.ok().body("n").header("ETag", "\"1\"").header("Cache-Control", "max-age=60, no-cache=\"X-Foo\", no-cache"));
        t.get("/priv");
        t.get("/priv");
        assertThat(t.origin.requestCount("/priv")).isEqualTo(2);
        t.get("/nc");
        for (int i = 0; i < 3; i++) {
            t.origin.takeRequest(); // /priv twice, /nc once
        }
        t.get("/nc");
        assertThat(t.origin.takeRequest().headers().get("If-None-Match")).isEqualTo("\"1\"");
        assertThat(t.origin.requestCount("/nc")).isEqualTo(2);
    }

    // ---- fat GET ------------------------------------------------------------------------------------------

    private void bodySensitiveOrigin() {
        // an origin that answers a GET by its body: exactly what must not reach the entry of a clean request
        t.origin.serve("/f", r -> MockResponse.ok().body(r.headers().get("Content-Length") != null || r.headers().get("Transfer-Encoding") != null
                ? "poison" : "clean").header("Cache-Control", "max-age=60"));
    }

    @Test
    void aGetWithABodyIsNotStoredSoTheNextCleanGetIsAMissThatReachesTheOrigin() throws Exception {
        t = CacheProxy.memory();
        bodySensitiveOrigin();
        RawHttp.Reply fat = t.sendBody("GET", "/f", "x");
        assertThat(fat.bodyText()).isEqualTo("poison");
        assertThat(fat.headers().get("cache-status")).isEqualTo("gatehouse; fwd=bypass; fwd-status=200; detail=request-body");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        RawHttp.Reply clean = t.get("/f");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(clean.bodyText()).isEqualTo("clean");
        assertThat(t.origin.requestCount("/f")).isEqualTo(2);
        assertThat(t.get("/f").bodyText()).isEqualTo("clean");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(t.cache.stats().stores()).isEqualTo(1);
    }

    @Test
    void aGetWithABodyAfterACleanFillReachesTheOriginAndLeavesTheEntryAlone() throws Exception {
        t = CacheProxy.memory();
        bodySensitiveOrigin();
        t.get("/f");
        RawHttp.Reply fat = t.sendBody("GET", "/f", "x");
        assertThat(fat.bodyText()).isEqualTo("poison");
        assertThat(fat.headers().get("cache-status")).contains("fwd=bypass").contains("detail=request-body");
        assertThat(t.origin.requestCount("/f")).isEqualTo(2);

        // chunked: Transfer-Encoding instead of Content-Length
        RawHttp.Reply chunked = RawHttp.exchange(t.proxy.port(), "GET " + t.origin.url("/f") + " HTTP/1.1\r\nHost: 127.0.0.1:"
                + t.origin.port() + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n");
        t.log.take();
        assertThat(chunked.bodyText()).isEqualTo("poison");
        assertThat(chunked.headers().get("cache-status")).contains("fwd=bypass");
        assertThat(t.origin.requestCount("/f")).isEqualTo(3);

        RawHttp.Reply head = t.sendBody("HEAD", "/f", "x");
        assertThat(head.headers().get("cache-status")).contains("fwd=bypass");
        assertThat(t.origin.requestCount("/f")).isEqualTo(4);

        assertThat(t.get("/f").bodyText()).isEqualTo("clean");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS"); // the clean fill
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS"); // the fat GET
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS"); // the fat HEAD
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(t.origin.requestCount("/f")).isEqualTo(4);
    }

    @Test
    void aGetWithABodyAndOnlyIfCachedGets504EvenWhenAnEntryExists() throws Exception {
        t = CacheProxy.memory();
        bodySensitiveOrigin();
        t.get("/f");
        RawHttp.Reply reply = t.sendBody("GET", "/f", "x", "Cache-Control: only-if-cached");
        assertThat(reply.status()).isEqualTo(504);
        assertThat(reply.bodyText()).isEqualTo("not in cache (only-if-cached)\n");
        assertThat(t.origin.requestCount("/f")).isEqualTo(1);
    }

    @Test
    void anExplicitlyEmptyBodyIsNoBody() throws Exception {
        t = CacheProxy.memory();
        bodySensitiveOrigin();
        t.get("/f");
        RawHttp.Reply empty = t.sendBody("GET", "/f", "");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(empty.bodyText()).isEqualTo("clean");
        assertThat(t.origin.requestCount("/f")).isEqualTo(1);
    }

    /** Reads a response head (up to the blank line) without waiting for the body. */
    static String readHead(InputStream in) throws Exception {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed before the end of the head: " + head);
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }
}
