package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.HttpDates;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Validation (§4.3), variants (§4.1), invalidation (§4.4), conditional and range requests, through the wire. */
class ValidationThroughProxyTest {
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
    void staleEntryIsRevalidatedWithItsValidatorsAndUpdatedFromThe304() throws Exception {
        String lastModified = HttpDates.format(t.clock.instant().minusSeconds(3600));
        t.origin.serve("/a", r -> r.headers().get("If-None-Match") != null
                ? MockResponse.status(304).header("ETag", "\"v1\"").header("Cache-Control", "max-age=100").header("X-Extra", "new")
                : MockResponse.ok().body("body").header("ETag", "\"v1\"").header("Last-Modified", lastModified)
                        .header("Cache-Control", "max-age=10").header("X-Extra", "old"));
        t.get("/a");
        t.origin.takeRequest();
        t.advance(Duration.ofSeconds(20));

        RawHttp.Reply refreshed = t.get("/a", "If-None-Match: \"other\"");
        RecordedRequest conditional = t.origin.takeRequest();
        assertThat(conditional.headers().get("If-None-Match")).isEqualTo("\"v1\"");
        assertThat(conditional.headers().get("If-Modified-Since")).isEqualTo(lastModified);
        assertThat(refreshed.status()).isEqualTo(200);
        assertThat(refreshed.bodyText()).isEqualTo("body");
        assertThat(refreshed.headers().get("x-extra")).isEqualTo("new");
        assertThat(refreshed.headers().get("cache-status")).isEqualTo("gatehouse; fwd=stale; fwd-status=304");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_UNMODIFIED");

        t.advance(Duration.ofSeconds(50));
        RawHttp.Reply hit = t.get("/a");
        assertThat(hit.headers().get("x-extra")).isEqualTo("new");
        assertThat(hit.headers().get("age")).isEqualTo("50");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
        assertThat(t.cache.stats().revalidatedUnmodified()).isEqualTo(1);
    }

    @Test
    void modifiedResponseReplacesTheStoredOne() throws Exception {
        AtomicInteger version = new AtomicInteger(1);
        t.origin.serve("/a", r -> MockResponse.ok().body("v" + version.get()).header("ETag", "\"" + version.get() + "\"")
                .header("Cache-Control", "max-age=10"));
        t.get("/a");
        version.set(2);
        t.advance(Duration.ofSeconds(20));
        assertThat(t.get("/a").bodyText()).isEqualTo("v2");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_MODIFIED");
        assertThat(t.get("/a").bodyText()).isEqualTo("v2");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void clientConditionalRequestsGet304FromAFreshEntry() throws Exception {
        String lastModified = HttpDates.format(t.clock.instant().minusSeconds(3600));
        t.origin.serve("/a", MockResponse.ok().body("body").header("ETag", "W/\"v1\"").header("Last-Modified", lastModified)
                .header("Cache-Control", "max-age=100"));
        t.get("/a");
        RawHttp.Reply byEtag = t.get("/a", "If-None-Match: \"x\", \"v1\"");
        assertThat(byEtag.status()).isEqualTo(304);
        assertThat(byEtag.body()).isEmpty();
        assertThat(byEtag.headers().get("etag")).isEqualTo("W/\"v1\"");
        RawHttp.Reply byDate = t.get("/a", "If-Modified-Since: " + lastModified);
        assertThat(byDate.status()).isEqualTo(304);
        RawHttp.Reply changed = t.get("/a", "If-None-Match: \"v2\"");
        assertThat(changed.status()).isEqualTo(200);
        assertThat(changed.bodyText()).isEqualTo("body");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void variantsAreStoredSideBySide() throws Exception {
        t.origin.serve("/v", r -> MockResponse.ok().body("lang=" + r.headers().get("Accept-Language")).header("Vary", "Accept-Language")
                .header("Cache-Control", "max-age=100"));
        assertThat(t.get("/v", "Accept-Language: en").bodyText()).isEqualTo("lang=en");
        assertThat(t.get("/v", "Accept-Language: fr").bodyText()).isEqualTo("lang=fr");
        assertThat(t.get("/v", "Accept-Language: en").bodyText()).isEqualTo("lang=en");
        assertThat(t.get("/v", "Accept-Language: fr").bodyText()).isEqualTo("lang=fr");
        assertThat(t.get("/v").bodyText()).isEqualTo("lang=null");
        assertThat(t.get("/v").bodyText()).isEqualTo("lang=null");
        assertThat(t.origin.requestCount("/v")).isEqualTo(3);
    }

    @Test
    void varyStarIsNeverReused() throws Exception {
        t.origin.serve("/v", MockResponse.ok().body("x").header("Vary", "*").header("Cache-Control", "max-age=100"));
        t.get("/v");
        t.get("/v");
        assertThat(t.origin.requestCount("/v")).isEqualTo(2);
    }

    @Test
    void unsafeMethodsInvalidateTheTargetAndSameOriginLocations() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=100"));
        t.origin.serve("/b", MockResponse.ok().body("b").header("Cache-Control", "max-age=100"));
        t.origin.serve("/c", MockResponse.ok().body("c").header("Cache-Control", "max-age=100"));
        t.origin.serve("/form", MockResponse.status(303).header("Location", "/b")
                .header("Content-Location", "http://elsewhere.example/c"));
        t.origin.serve("/failing", MockResponse.status(500).body("no"));
        for (String p : new String[] {"/a", "/b", "/c", "/failing"}) {
            t.get(p);
        }
        t.sendBody("POST", "/failing", "x");
        t.get("/failing");
        t.sendBody("POST", "/form", "x");
        t.send("DELETE", "/a");
        t.get("/a");
        t.get("/b");
        t.get("/c");
        assertThat(t.origin.requestCount("/a")).as("/a: GET, DELETE, GET again after DELETE").isEqualTo(3);
        assertThat(t.origin.requestCount("/b")).as("/b named by Location").isEqualTo(2);
        assertThat(t.origin.requestCount("/c")).as("/c named by a foreign Content-Location").isEqualTo(1);
    }

    @Test
    void onlySameOriginLocationsAreInvalidatedSchemeHostAndPortCompared() throws Exception {
        String self = "http://127.0.0.1:" + t.origin.port();
        int otherPort = t.origin.port() == 65535 ? 65534 : t.origin.port() + 1;
        for (String p : new String[] {"/d", "/e", "/f", "/g"}) {
            t.origin.serve(p, MockResponse.ok().body(p).header("Cache-Control", "max-age=100"));
            t.get(p);
        }
        t.origin.serve("/form2", MockResponse.status(201).header("Content-Location", self.toUpperCase(java.util.Locale.ROOT) + "/d")
                .header("Location", "http://127.0.0.1:" + otherPort + "/e"));
        t.origin.serve("/form3", MockResponse.status(303).header("Location", "https://127.0.0.1:" + t.origin.port() + "/f")
                .header("Content-Location", "http://localhost:" + t.origin.port() + "/g"));
        t.sendBody("POST", "/form2", "x");
        t.sendBody("PUT", "/form3", "x");
        for (String p : new String[] {"/d", "/e", "/f", "/g"}) {
            t.get(p);
        }
        assertThat(t.origin.requestCount("/d")).as("absolute Content-Location, same origin (scheme and host case-insensitive)")
                .isEqualTo(2);
        assertThat(t.origin.requestCount("/e")).as("Location on another port").isEqualTo(1);
        assertThat(t.origin.requestCount("/f")).as("Location with another scheme").isEqualTo(1);
        assertThat(t.origin.requestCount("/g")).as("Content-Location with another host name").isEqualTo(1);
    }

    @Test
    void errorResponseToUnsafeMethodDoesNotInvalidate() throws Exception {
        t.origin.serve("/a", r -> r.method().equals("POST") ? MockResponse.status(500).body("no")
                : MockResponse.ok().body("a").header("Cache-Control", "max-age=100"));
        t.get("/a");
        t.sendBody("POST", "/a", "x");
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void singleRangeIsServedFromACompleteEntry() throws Exception {
        t.origin.serve("/r", MockResponse.ok().body("0123456789").header("Cache-Control", "max-age=100").header("ETag", "\"r\""));
        t.get("/r");
        RawHttp.Reply part = t.get("/r", "Range: bytes=2-5");
        assertThat(part.status()).isEqualTo(206);
        assertThat(part.bodyText()).isEqualTo("2345");
        assertThat(part.headers().get("content-range")).isEqualTo("bytes 2-5/10");
        assertThat(t.get("/r", "Range: bytes=-3").bodyText()).isEqualTo("789");
        assertThat(t.get("/r", "Range: bytes=20-").status()).isEqualTo(416);
        RawHttp.Reply wrongIfRange = t.get("/r", "Range: bytes=2-5", "If-Range: \"other\"");
        assertThat(wrongIfRange.status()).isEqualTo(200);
        assertThat(wrongIfRange.bodyText()).isEqualTo("0123456789");
        assertThat(t.origin.requestCount("/r")).isEqualTo(1);
    }

    @Test
    void clientConditionalOnAStaleEntryIsAnswered304AfterTheUpstreamValidatedIt() throws Exception {
        t.origin.serve("/a", r -> r.headers().get("If-None-Match") != null ? MockResponse.status(304).header("ETag", "\"v1\"")
                : MockResponse.ok().body("body").header("ETag", "\"v1\"").header("Cache-Control", "max-age=10"));
        t.get("/a");
        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply r = t.get("/a", "If-None-Match: \"v1\"");
        assertThat(r.status()).isEqualTo(304);
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void headValidationDoesNotDropTheStoredGet() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("body").header("Cache-Control", "max-age=10"));
        t.get("/a");
        t.advance(Duration.ofSeconds(20));
        assertThat(t.send("HEAD", "/a").status()).isEqualTo(200);
        assertThat(t.get("/a", "Cache-Control: max-stale").bodyText()).isEqualTo("body");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void headResponseFreshensTheStoredGetOrInvalidatesItWhenItsValidatorChanged() throws Exception {
        AtomicInteger etag = new AtomicInteger(1);
        t.origin.serve("/h", r -> MockResponse.ok().body("body").header("ETag", "\"" + etag.get() + "\"")
                .header("Cache-Control", r.method().equals("HEAD") ? "max-age=100" : "max-age=10"));
        t.get("/h");
        t.advance(Duration.ofSeconds(20));
        t.origin.serve("/h", r -> MockResponse.ok().body("body").header("ETag", "\"1\"").header("Cache-Control", "max-age=100"));
        assertThat(t.send("HEAD", "/h", "Cache-Control: no-cache").status()).isEqualTo(200);
        assertThat(t.get("/h").bodyText()).isEqualTo("body");
        assertThat(t.origin.requestCount("/h")).as("GET, HEAD, then a hit freshened by the HEAD").isEqualTo(2);

        t.origin.serve("/h", r -> MockResponse.ok().body("new").header("ETag", "\"2\"").header("Cache-Control", "max-age=100"));
        t.send("HEAD", "/h", "Cache-Control: no-cache");
        assertThat(t.get("/h").bodyText()).isEqualTo("new");
        assertThat(t.origin.requestCount("/h")).as("the changed ETag invalidated the stored GET").isEqualTo(4);
    }
}
