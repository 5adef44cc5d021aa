package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.HttpDates;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Storing and reusing responses (RFC 9111 §3, §4.2), through a real origin, proxy and client. */
class FreshnessThroughProxyTest {
    private CacheProxy t;

    @BeforeEach
    void start() throws Exception {
        t = CacheProxy.memory();
    }

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    @Test
    void freshResponseIsServedFromTheCacheWithAgeAndCacheStatus() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("hello").header("Cache-Control", "max-age=60"));

        RawHttp.Reply first = t.get("/a");
        assertThat(first.status()).isEqualTo(200);
        assertThat(first.headers().get("cache-status")).isEqualTo("gatehouse; fwd=uri-miss; fwd-status=200; stored");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        t.advance(Duration.ofSeconds(10));
        RawHttp.Reply second = t.get("/a");
        assertThat(second.bodyText()).isEqualTo("hello");
        assertThat(second.headers().get("age")).isEqualTo("10");
        assertThat(second.headers().get("content-length")).isEqualTo("5");
        assertThat(second.headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=50");
        assertThat(second.headers().get("via")).endsWith(t.proxy.viaName()).doesNotContain(", ");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        assertThat(t.cache.stats().hits()).isEqualTo(1);
        assertThat(t.cache.stats().misses()).isEqualTo(1);
        assertThat(t.cache.stats().bytesServed()).isEqualTo(5);
    }

    @Test
    void staleResponseWithoutValidatorsGoesUpstreamAgain() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=60"));
        t.get("/a");
        t.advance(Duration.ofSeconds(61));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void sMaxageWinsOverMaxAgeAndExpires() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=10, s-maxage=100")
                .header("Expires", HttpDates.format(t.clock.instant().plusSeconds(5))));
        t.get("/a");
        t.advance(Duration.ofSeconds(50));
        assertThat(t.get("/a").headers().get("age")).isEqualTo("50");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void maxAgeWinsOverExpires() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100")
                .header("Expires", HttpDates.format(t.clock.instant().plusSeconds(5))));
        t.get("/a");
        t.advance(Duration.ofSeconds(50));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void expiresIsUsedRelativeToDate() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Expires", HttpDates.format(t.clock.instant().plusSeconds(30))));
        t.get("/a");
        t.advance(Duration.ofSeconds(29));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        t.advance(Duration.ofSeconds(2));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void heuristicFreshnessIsTenPercentOfTheLastModifiedAge() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Last-Modified", HttpDates.format(t.clock.instant().minusSeconds(1000))));
        t.get("/a");
        t.advance(Duration.ofSeconds(99));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        t.advance(Duration.ofSeconds(2));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void noHeuristicForStatusesThatAreNotHeuristicallyCacheable() throws Exception {
        t.origin.serve("/a", MockResponse.status(302).header("Location", "/b")
                .header("Last-Modified", HttpDates.format(t.clock.instant().minusSeconds(1000))));
        t.get("/a");
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void ageFromUpstreamIsAddedToTheResidentTime() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100").header("Age", "30"));
        t.get("/a");
        t.advance(Duration.ofSeconds(5));
        assertThat(t.get("/a").headers().get("age")).isEqualTo("35");
        t.advance(Duration.ofSeconds(66));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void noStorePrivateAndUnqualifiedResponsesAreNotStored() throws Exception {
        t.origin.serve("/no-store", MockResponse.ok().body("v").header("Cache-Control", "max-age=60, no-store"));
        t.origin.serve("/private", MockResponse.ok().body("v").header("Cache-Control", "max-age=60, private"));
        t.origin.serve("/plain", MockResponse.status(201).body("v"));
        for (String p : new String[] {"/no-store", "/private", "/plain"}) {
            RawHttp.Reply r = t.get(p);
            assertThat(r.headers().get("cache-status")).doesNotContain("stored");
            t.get(p);
            assertThat(t.origin.requestCount(p)).as(p).isEqualTo(2);
        }
    }

    @Test
    void responsesSettingCookiesAreStoredOnlyWhenExplicitlyShared() throws Exception {
        t.origin.serve("/cookie", MockResponse.ok().body("v").header("Cache-Control", "max-age=60").header("Set-Cookie", "session=alice"));
        t.origin.serve("/shared", MockResponse.ok().body("v").header("Cache-Control", "public, max-age=60").header("Set-Cookie", "lang=en"));
        t.get("/cookie");
        RawHttp.Reply second = t.get("/cookie");
        assertThat(t.origin.requestCount("/cookie")).isEqualTo(2);
        assertThat(second.headers().get("set-cookie")).isEqualTo("session=alice");
        t.get("/shared");
        t.get("/shared");
        assertThat(t.origin.requestCount("/shared")).isEqualTo(1);
    }

    @Test
    void qualifiedPrivateStoresTheResponseWithoutTheNamedFields() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=60, private=\"X-User\"").header("X-User", "alice"));
        assertThat(t.get("/a").headers().get("x-user")).isEqualTo("alice");
        RawHttp.Reply hit = t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        assertThat(hit.headers()).doesNotContainKey("x-user");
    }

    @Test
    void requestNoStoreIsNotStored() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=60"));
        t.get("/a", "Cache-Control: no-store");
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void responsesToAuthorizedRequestsAreStoredOnlyWhenExplicitlyAllowed() throws Exception {
        t.origin.serve("/secret", MockResponse.ok().body("v").header("Cache-Control", "max-age=60"));
        t.origin.serve("/public", MockResponse.ok().body("v").header("Cache-Control", "public, max-age=60"));
        t.origin.serve("/smax", MockResponse.ok().body("v").header("Cache-Control", "s-maxage=60"));
        for (String p : new String[] {"/secret", "/public", "/smax"}) {
            t.get(p, "Authorization: Bearer x");
            t.get(p, "Authorization: Bearer x");
        }
        assertThat(t.origin.requestCount("/secret")).isEqualTo(2);
        assertThat(t.origin.requestCount("/public")).isEqualTo(1);
        assertThat(t.origin.requestCount("/smax")).isEqualTo(1);
    }

    @Test
    void requestMaxAgeAndMinFreshLimitWhatIsReused() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100"));
        t.get("/a");
        t.advance(Duration.ofSeconds(30));
        t.get("/a", "Cache-Control: max-age=40");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        t.get("/a", "Cache-Control: max-age=20");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
        t.advance(Duration.ofSeconds(30));
        t.get("/a", "Cache-Control: min-fresh=80");
        assertThat(t.origin.requestCount("/a")).isEqualTo(3);
    }

    @Test
    void requestMaxAgeZeroGoesUpstreamEvenForABrandNewEntry() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100"));
        t.get("/a");
        t.get("/a", "Cache-Control: max-age=0");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void maxStaleAllowsStaleUnlessMustRevalidate() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=10"));
        t.origin.serve("/m", MockResponse.ok().body("m").header("Cache-Control", "max-age=10, must-revalidate"));
        t.get("/a");
        t.get("/m");
        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply stale = t.get("/a", "Cache-Control: max-stale=15");
        assertThat(stale.bodyText()).isEqualTo("a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        t.get("/a", "Cache-Control: max-stale=5");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
        t.get("/m", "Cache-Control: max-stale");
        assertThat(t.origin.requestCount("/m")).isEqualTo(2);
    }

    @Test
    void clientNoCacheAndPragmaGoUpstream() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100"));
        t.get("/a");
        t.get("/a", "Cache-Control: no-cache");
        t.get("/a", "Pragma: no-cache");
        assertThat(t.origin.requestCount("/a")).isEqualTo(3);
    }

    @Test
    void responseNoCacheIsStoredButAlwaysValidated() throws Exception {
        t.origin.serve("/a", r -> r.headers().get("If-None-Match") != null
                ? MockResponse.status(304).header("ETag", "\"1\"")
                : MockResponse.ok().body("v").header("Cache-Control", "no-cache, max-age=100").header("ETag", "\"1\""));
        t.get("/a");
        RawHttp.Reply second = t.get("/a");
        assertThat(second.bodyText()).isEqualTo("v");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_UNMODIFIED");
    }

    @Test
    void onlyIfCachedAnswers504WhenNothingIsStored() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("v").header("Cache-Control", "max-age=100"));
        RawHttp.Reply r = t.get("/a", "Cache-Control: only-if-cached");
        assertThat(r.status()).isEqualTo(504);
        assertThat(r.bodyText()).contains("only-if-cached");
        assertThat(t.origin.requestCount("/a")).isZero();
        t.get("/a");
        assertThat(t.get("/a", "Cache-Control: only-if-cached").status()).isEqualTo(200);
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void headIsAnsweredFromAStoredGet() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("hello").header("Cache-Control", "max-age=100"));
        t.get("/a");
        RawHttp.Reply head = t.send("HEAD", "/a");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.headers().get("content-length")).isEqualTo("5");
        assertThat(head.body()).isEmpty();
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void forcedTtlStoresAndOverridesFreshness() throws Exception {
        t.close();
        t = CacheProxy.with(b -> b.memory(io.github.gatehouse.core.DataSize.mebibytes(1)).forceTtl(404, Duration.ofSeconds(30)));
        t.origin.serve("/missing", MockResponse.status(404).body("gone").header("Cache-Control", "max-age=0"));
        t.get("/missing");
        t.advance(Duration.ofSeconds(20));
        assertThat(t.get("/missing").status()).isEqualTo(404);
        assertThat(t.origin.requestCount("/missing")).isEqualTo(1);
    }
}
