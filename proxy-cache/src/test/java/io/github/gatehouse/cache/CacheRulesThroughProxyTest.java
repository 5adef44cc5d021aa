package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.HttpDates;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Cache rules (Squid's {@code refresh_pattern}) through a real origin, proxy and client: an origin that sends no
 * caching field at all (no {@code Cache-Control}, {@code Expires}, {@code Last-Modified}, {@code ETag}, not even
 * {@code Date}), as a Debian mirror does for its {@code .deb} files.
 */
class CacheRulesThroughProxyTest {
    private static final String DEB = "/pool/main/h/hello/hello_2.10-3_amd64.deb";

    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        if (t != null) {
            t.close();
        }
    }

    private void start(String... rules) throws Exception {
        start(b -> b, rules);
    }

    private void start(UnaryOperator<HttpCaches.Builder> more, String... rules) throws Exception {
        t = CacheProxy.with(b -> {
            b.memory(DataSize.mebibytes(4));
            for (String r : rules) {
                b.rule(r);
            }
            return more.apply(b);
        });
    }

    private static MockResponse bare(String body) {
        return MockResponse.ok().body(body).withoutDate().header("Content-Type", "application/vnd.debian.binary-package");
    }

    @Test
    void withoutARuleAResponseWithNoCachingFieldsIsNeverReused() throws Exception {
        start();
        t.origin.serve(DEB, bare("deb bytes"));
        assertThat(t.get(DEB).bodyText()).isEqualTo("deb bytes");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.get(DEB).bodyText()).isEqualTo("deb bytes");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.origin.requestCount(DEB)).isEqualTo(2);
    }

    @Test
    void aRuleMakesTheSecondRequestAHitForMinMinutes() throws Exception {
        start("-i \\.(deb|rpm|jar|whl)$ 43200 100% 43200");
        t.origin.serve(DEB, bare("deb bytes"));
        RawHttp.Reply first = t.get(DEB);
        assertThat(first.headers().get("cache-status")).isEqualTo("gatehouse; fwd=uri-miss; fwd-status=200; stored");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        t.advance(Duration.ofDays(29));
        RawHttp.Reply second = t.get(DEB);
        assertThat(second.bodyText()).isEqualTo("deb bytes");
        assertThat(second.headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=" + Duration.ofDays(1).toSeconds());
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(t.origin.requestCount(DEB)).isEqualTo(1);

        t.advance(Duration.ofDays(1).plusSeconds(1));
        t.get(DEB);
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.origin.requestCount(DEB)).isEqualTo(2);
    }

    @Test
    void theFullUrlIsMatchedWithPortAndQueryAndCaseMatters() throws Exception {
        // the origin's port is not the default one, so it is part of the URL the rules see
        start("\\.DEB$ 60 0% 60", "^http://127\\.0\\.0\\.1:[1-9][0-9]*/q\\?v=1$ 60 0% 60");
        t.origin.serve(DEB, bare("d"));
        t.origin.serve("/q", bare("q"));
        t.get(DEB);
        t.get(DEB);
        t.get("/q?v=1");
        t.get("/q?v=1");
        t.get("/q?v=2");
        t.get("/q?v=2");
        assertThat(t.origin.requestCount(DEB)).as("\\.DEB$ is case-sensitive without -i").isEqualTo(2);
        assertThat(t.origin.requestCount("/q")).as("the query is part of the URL: v=1 once, v=2 twice").isEqualTo(3);
    }

    @Test
    void theFirstMatchingRuleWins() throws Exception {
        start("/dists/.*/(InRelease|Release|Packages(\\.(gz|xz))?)$ 0 0% 0", ". 60 0% 60");
        t.origin.serve("/debian/dists/stable/InRelease", bare("index"));
        t.origin.serve("/debian/dists/stable/main/binary-amd64/Packages.xz", bare("packages"));
        t.origin.serve("/debian/README", bare("readme"));
        for (int i = 0; i < 2; i++) {
            t.get("/debian/dists/stable/InRelease");
            t.get("/debian/dists/stable/main/binary-amd64/Packages.xz");
            t.get("/debian/README");
        }
        assertThat(t.origin.requestCount("/debian/dists/stable/InRelease")).isEqualTo(2);
        assertThat(t.origin.requestCount("/debian/dists/stable/main/binary-amd64/Packages.xz")).isEqualTo(2);
        assertThat(t.origin.requestCount("/debian/README")).isEqualTo(1);
        assertThat(t.cache.stats().stores()).as("MAX 0 and no validator: nothing worth storing for the index files")
                .isEqualTo(1);
    }

    @Test
    void indexFilesWithValidatorsAreRevalidatedEveryTime() throws Exception {
        start("/dists/.*/InRelease$ 0 0% 0");
        String lastModified = HttpDates.format(t.clock.instant().minus(Duration.ofDays(100)));
        t.origin.serve("/dists/stable/InRelease", r -> r.headers().get("If-Modified-Since") != null
                ? MockResponse.status(304).header("Last-Modified", lastModified)
                : MockResponse.ok().body("index").header("Last-Modified", lastModified));
        t.get("/dists/stable/InRelease");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        t.advance(Duration.ofMinutes(5)); // the RFC heuristic alone would keep it fresh for 10 days
        RawHttp.Reply again = t.get("/dists/stable/InRelease");
        assertThat(again.bodyText()).isEqualTo("index");
        assertThat(t.loggedCacheStatus()).isEqualTo("REFRESH_UNMODIFIED");
        assertThat(t.origin.requestCount("/dists/stable/InRelease")).isEqualTo(2);
    }

    @Test
    void percentOfTheLastModifiedAgeBoundedByMinAndMax() throws Exception {
        start("/twenty 1 20% 1000", "/capped 1 20% 100");
        String lastModified = HttpDates.format(t.clock.instant().minus(Duration.ofMinutes(1000)));
        t.origin.serve("/twenty", MockResponse.ok().body("t").header("Last-Modified", lastModified));
        t.origin.serve("/capped", MockResponse.ok().body("c").header("Last-Modified", lastModified));
        t.get("/twenty");
        t.get("/capped");
        t.advance(Duration.ofMinutes(99));
        t.get("/twenty");
        t.get("/capped");
        assertThat(t.origin.requestCount("/twenty")).isEqualTo(1);
        assertThat(t.origin.requestCount("/capped")).isEqualTo(1);
        t.advance(Duration.ofMinutes(2)); // 101 minutes: past MAX 100 of /capped, within 20% of 1000 for /twenty
        t.get("/twenty");
        t.get("/capped");
        assertThat(t.origin.requestCount("/twenty")).isEqualTo(1);
        assertThat(t.origin.requestCount("/capped")).isEqualTo(2);
        t.advance(Duration.ofMinutes(100)); // 201 minutes since /twenty was stored: past its 200
        t.get("/twenty");
        assertThat(t.origin.requestCount("/twenty")).isEqualTo(2);
    }

    @Test
    void explicitFreshnessFromTheOriginWinsWithoutOverrideExpire() throws Exception {
        start("/plain 60 0% 60", "/overridden 60 0% 60 override-expire");
        t.origin.serve("/plain", MockResponse.ok().body("p").header("Cache-Control", "max-age=5"));
        t.origin.serve("/overridden", MockResponse.ok().body("o").header("Cache-Control", "max-age=5"));
        t.get("/plain");
        t.get("/overridden");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        t.advance(Duration.ofSeconds(6));
        t.get("/plain");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        RawHttp.Reply overridden = t.get("/overridden");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        assertThat(overridden.headers().get("cache-control")).as("passed on unchanged").isEqualTo("max-age=5");
        assertThat(t.origin.requestCount("/plain")).isEqualTo(2);
        assertThat(t.origin.requestCount("/overridden")).isEqualTo(1);
    }

    @Test
    void overrideExpireAlsoCapsALongExplicitLifetimeAtMax() throws Exception {
        start("/long 0 0% 10 override-expire");
        t.origin.serve("/long", MockResponse.ok().body("l").header("Expires", HttpDates.format(t.clock.instant().plus(Duration.ofDays(7)))));
        t.get("/long");
        t.advance(Duration.ofMinutes(9));
        t.get("/long");
        assertThat(t.origin.requestCount("/long")).isEqualTo(1);
        t.advance(Duration.ofMinutes(2));
        t.get("/long");
        assertThat(t.origin.requestCount("/long")).isEqualTo(2);
    }

    @Test
    void overrideNoCacheServesWithoutRevalidating() throws Exception {
        start("/plain 60 0% 60", "/overridden 60 0% 60 override-no-cache");
        for (String p : new String[] {"/plain", "/overridden"}) {
            t.origin.serve(p, r -> r.headers().get("If-None-Match") != null ? MockResponse.status(304).header("ETag", "\"1\"")
                    : MockResponse.ok().body("x").header("Cache-Control", "no-cache").header("ETag", "\"1\""));
            t.get(p);
            t.get(p);
        }
        assertThat(t.origin.requestCount("/plain")).as("no-cache: revalidated").isEqualTo(2);
        assertThat(t.origin.requestCount("/overridden")).isEqualTo(1);
    }

    @Test
    void noStoreStillWinsOverEveryRule() throws Exception {
        start(". 60 0% 60 override-expire override-no-cache");
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "no-store"));
        t.get("/a");
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void ignoreReloadServesFreshEntriesDespiteClientReloads() throws Exception {
        start("/plain 60 0% 60", "/immutable 60 0% 60 ignore-reload");
        t.origin.serve("/plain", bare("p"));
        t.origin.serve("/immutable", bare("i"));
        for (String p : new String[] {"/plain", "/immutable"}) {
            t.get(p);
            t.get(p, "Cache-Control: no-cache");
            t.get(p, "Cache-Control: max-age=0");
            t.get(p, "Pragma: no-cache");
        }
        assertThat(t.origin.requestCount("/plain")).isEqualTo(4);
        assertThat(t.origin.requestCount("/immutable")).isEqualTo(1);
    }

    @Test
    void negativeAnswersAreNotKeptByARule() throws Exception {
        start("-i \\.deb$ 43200 100% 43200");
        t.origin.serve(DEB, MockResponse.status(404).withoutDate().body("not yet"));
        t.get(DEB);
        t.get(DEB);
        assertThat(t.origin.requestCount(DEB)).isEqualTo(2);
    }

    @Test
    void aForcedTtlForTheStatusWinsOverARule() throws Exception {
        start(b -> b.forceTtl(200, Duration.ofSeconds(10)), ". 60 0% 60");
        t.origin.serve("/a", bare("a"));
        t.get("/a");
        t.advance(Duration.ofSeconds(11));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }
}
