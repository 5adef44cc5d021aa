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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Parsing that errs on the safe side (RFC 9111 §4.2.1, §5.1, §5.3) and heuristic freshness only for the statuses of
 * RFC 9110 §15.1, through a real origin, the caching proxy and a raw client.
 */
class SafeSideThroughProxyTest {
    private CacheProxy t;

    @BeforeEach
    void start() throws Exception {
        t = CacheProxy.memory();
    }

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    private String inSeconds(long s) {
        return HttpDates.format(t.clock.instant().plusSeconds(s));
    }

    @Test
    void anAgeListCountsByItsFirstValue() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("x").header("Cache-Control", "max-age=60").header("Age", "50, 0"));
        t.get("/a");
        t.advance(Duration.ofSeconds(5));
        RawHttp.Reply hit = t.get("/a");
        assertThat(hit.headers().get("age")).isEqualTo("55");
        assertThat(hit.headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=5");
        t.advance(Duration.ofSeconds(10)); // age 65 > 60: stale (with "50, 0" read as invalid, it would be 15)
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void severalAgeLinesCountByTheFirst() throws Exception {
        t.origin.serve("/a", MockResponse.ok().body("x").header("Cache-Control", "max-age=60").header("Age", "50").header("Age", "0"));
        t.get("/a");
        t.advance(Duration.ofSeconds(11));
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void anExpiresWithAOneDigitHourIsAlreadyExpired() throws Exception {
        String valid = inSeconds(3600);
        String oneDigitHour = valid.replaceFirst(" (\\d)(\\d):", " $2:"); // e.g. "08:15:00" -> "8:15:00"
        t.origin.serve("/valid", MockResponse.ok().body("v").header("Expires", valid));
        t.origin.serve("/bad", MockResponse.ok().body("b").header("Expires", oneDigitHour));
        t.get("/valid");
        t.get("/bad");
        t.advance(Duration.ofSeconds(1));
        assertThat(t.get("/valid").headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(t.get("/bad").headers().get("cache-status")).doesNotContain("hit");
        assertThat(t.origin.requestCount("/valid")).isEqualTo(1);
        assertThat(t.origin.requestCount("/bad")).isEqualTo(2);
    }

    @Test
    void severalExpiresLinesAreStale() throws Exception {
        t.origin.serve("/two", MockResponse.ok().body("2").header("Expires", inSeconds(3600)).header("Expires", inSeconds(3600)));
        t.get("/two");
        t.advance(Duration.ofSeconds(1));
        t.get("/two");
        assertThat(t.origin.requestCount("/two")).isEqualTo(2);
    }

    @Test
    void twoDifferentMaxAgesAreStaleAndTwoEqualOnesAreNot() throws Exception {
        t.origin.serve("/conflict", MockResponse.ok().body("c").header("Cache-Control", "max-age=600").header("Cache-Control", "max-age=60"));
        t.origin.serve("/same", MockResponse.ok().body("s").header("Cache-Control", "max-age=60, max-age=60"));
        t.get("/conflict");
        t.get("/same");
        t.advance(Duration.ofSeconds(1));
        t.get("/conflict");
        t.get("/same");
        assertThat(t.origin.requestCount("/conflict")).isEqualTo(2);
        assertThat(t.origin.requestCount("/same")).isEqualTo(1);
    }

    @ParameterizedTest(name = "{0} with public and Last-Modified: not stored")
    @ValueSource(ints = {500, 502, 503, 302, 307})
    void statusesNotHeuristicallyCacheableAreNotStoredWithoutExplicitFreshness(int status) throws Exception {
        t.origin.serve("/h", MockResponse.status(status).body("e").header("Cache-Control", "public")
                .header("Location", "/elsewhere").header("Last-Modified", inSeconds(-100_000)));
        RawHttp.Reply first = t.get("/h");
        assertThat(first.status()).isEqualTo(status);
        assertThat(first.headers().get("cache-status")).isEqualTo("gatehouse; fwd=uri-miss; fwd-status=" + status);
        t.advance(Duration.ofSeconds(1));
        t.get("/h");
        assertThat(t.origin.requestCount("/h")).isEqualTo(2);
    }

    @ParameterizedTest(name = "{0} with max-age: stored")
    @ValueSource(ints = {500, 503})
    void anErrorWithExplicitFreshnessIsStored(int status) throws Exception {
        t.origin.serve("/x", MockResponse.status(status).body("e").header("Cache-Control", "max-age=60"));
        t.get("/x");
        t.advance(Duration.ofSeconds(1));
        RawHttp.Reply hit = t.get("/x");
        assertThat(hit.status()).isEqualTo(status);
        assertThat(hit.headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=59");
        assertThat(t.origin.requestCount("/x")).isEqualTo(1);
    }

    @ParameterizedTest(name = "{0} with only Last-Modified: heuristically fresh")
    @ValueSource(ints = {200, 404, 410, 501})
    void heuristicallyCacheableStatusesGetAHeuristic(int status) throws Exception {
        t.origin.serve("/l", MockResponse.status(status).body("l").header("Last-Modified", inSeconds(-10_000)));
        t.get("/l");
        t.advance(Duration.ofSeconds(1));
        assertThat(t.get("/l").headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=999");
        assertThat(t.origin.requestCount("/l")).isEqualTo(1);
    }
}
