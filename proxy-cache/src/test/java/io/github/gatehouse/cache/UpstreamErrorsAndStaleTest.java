package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The origin's own error responses and broken connections, with and without stale-if-error (RFC 5861 §4), through
 * a real origin, the caching proxy and a raw client. The access log says STALE when a stale copy answered.
 */
class UpstreamErrorsAndStaleTest {
    private CacheProxy t;

    @BeforeEach
    void start() throws Exception {
        t = CacheProxy.memory();
    }

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    /** The first request gets a storable 200 with {@code cc}; every later one gets {@code status} with body "down". */
    private void thenError(String path, String cc, int status) {
        AtomicInteger calls = new AtomicInteger();
        t.origin.serve(path, r -> calls.incrementAndGet() == 1
                ? MockResponse.ok().body("kept").header("Cache-Control", cc).header("ETag", "\"k\"")
                : MockResponse.status(status).body("down").header("X-Origin-Error", "yes").header("Cache-Control", "no-store"));
    }

    @ParameterizedTest(name = "origin {0} with a response stale-if-error: the stale copy")
    @ValueSource(ints = {500, 502, 503, 504})
    void aStaleCopyAnswersTheFourErrorStatusesWhenTheResponseAllowsIt(int status) throws Exception {
        thenError("/e", "max-age=10, stale-if-error=60", status);
        t.get("/e");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("kept");
        assertThat(r.headers().get("age")).isEqualTo("30");
        assertThat(r.headers().get("cache-status"))
                .isEqualTo("gatehouse; hit; fwd=stale; fwd-status=" + status + "; detail=stale-if-error");
        assertThat(r.headers().get("x-origin-error")).isNull();
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
        assertThat(t.origin.requestCount("/e")).isEqualTo(2);
        assertThat(t.cache.stats().staleServed()).isEqualTo(1);
    }

    @ParameterizedTest(name = "origin {0} with a request stale-if-error: the stale copy")
    @ValueSource(ints = {500, 502, 503, 504})
    void aStaleCopyAnswersTheFourErrorStatusesWhenTheRequestAllowsIt(int status) throws Exception {
        thenError("/e", "max-age=10", status);
        t.get("/e");
        t.loggedCacheStatus();
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e", "Cache-Control: stale-if-error=60");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("kept");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
    }

    @ParameterizedTest(name = "origin {0} without stale-if-error: passed on unchanged")
    @ValueSource(ints = {500, 502, 503, 504})
    void withoutStaleIfErrorTheOriginsOwnErrorIsPassedOnUnchanged(int status) throws Exception {
        thenError("/e", "max-age=10", status);
        t.get("/e");
        t.loggedCacheStatus();
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(status);
        assertThat(r.bodyText()).isEqualTo("down");
        assertThat(r.headers().get("x-origin-error")).isEqualTo("yes");
        assertThat(r.headers().get("cache-status")).isEqualTo("gatehouse; fwd=stale; fwd-status=" + status);
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_MODIFIED"); // a conditional request got a new answer
        assertThat(t.origin.requestCount("/e")).isEqualTo(2); // no retry
    }

    @Test
    void pastTheStaleIfErrorWindowTheOriginsErrorIsPassedOn() throws Exception {
        thenError("/e", "max-age=10, stale-if-error=60", 503);
        t.get("/e");
        t.loggedCacheStatus();
        t.advance(Duration.ofSeconds(71));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.bodyText()).isEqualTo("down");
    }

    @ParameterizedTest(name = "origin {0} is not an error stale-if-error covers")
    @ValueSource(ints = {501, 505, 404})
    void otherStatusesAreNotCoveredByStaleIfError(int status) throws Exception {
        thenError("/e", "max-age=10, stale-if-error=60", status);
        t.get("/e");
        t.loggedCacheStatus();
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(status);
        assertThat(r.bodyText()).isEqualTo("down");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_MODIFIED");
    }

    @Test
    void aStaleCopyAnswersARefusedConnection() throws Exception {
        t.origin.serve("/e", MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-if-error=60"));
        t.get("/e");
        t.loggedCacheStatus();
        t.origin.close(); // the port now refuses connections
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply r = t.get("/e");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("kept");
        assertThat(r.headers().get("cache-status")).isEqualTo("gatehouse; hit; fwd=stale; detail=stale-if-error");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
    }

    @Test
    void aStaleCopyAnswersAResetConnectionAndATimeout() throws Exception {
        MutableClock clock = MutableClock.atWholeSecond();
        AtomicInteger calls = new AtomicInteger();
        RecordingAccessLog log = new RecordingAccessLog();
        CountDownLatch release = new CountDownLatch(1);
        try (RawOrigin origin = RawOrigin.start(head -> {
                int n = calls.incrementAndGet();
                if (n == 1) {
                    return RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nCache-Control: max-age=10, stale-if-error=60\r\n"
                            + "Content-Length: 4\r\n\r\nkept");
                }
                if (n == 2) {
                    return RawOrigin.Reply.of("").then(RawOrigin.Ending.RESET);
                }
                try {
                    release.await(10, TimeUnit.SECONDS); // no head before the proxy's upstream timeout
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return RawOrigin.Reply.of("").then(RawOrigin.Ending.RESET);
            });
                SharedCache cache = HttpCaches.builder().clock(clock).memory(DataSize.mebibytes(1)).build();
                ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache).accessLog(log)
                        .upstreamTimeout(Duration.ofMillis(500)).build().start()) {
            String request = "GET " + origin.baseUrl() + "/e HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                    + "\r\nConnection: close\r\n\r\n";
            assertThat(RawHttp.exchange(proxy.port(), request).bodyText()).isEqualTo("kept");
            assertThat(log.take().cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.MISS);
            clock.advance(Duration.ofSeconds(30));

            RawHttp.Reply reset = RawHttp.exchange(proxy.port(), request);
            assertThat(reset.status()).isEqualTo(200);
            assertThat(reset.bodyText()).isEqualTo("kept");
            assertThat(reset.headers().get("cache-status")).isEqualTo("gatehouse; hit; fwd=stale; detail=stale-if-error");
            AccessLogEntry resetLine = log.take();
            assertThat(resetLine.cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.STALE);
            assertThat(resetLine.status()).isEqualTo(200);

            RawHttp.Reply timedOut = RawHttp.exchange(proxy.port(), request);
            assertThat(timedOut.status()).isEqualTo(200);
            assertThat(timedOut.bodyText()).isEqualTo("kept");
            assertThat(log.take().cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.STALE);
        } finally {
            release.countDown();
        }
    }
}
