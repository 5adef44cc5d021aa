package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Variants (RFC 9111 §4.1) through a real origin, the caching proxy and a raw client: equivalent Accept-Encoding and
 * Accept-Language values share a variant; {@code Vary: *} is never served from the cache.
 */
class VariantsThroughProxyTest {
    private CacheProxy t;

    @BeforeEach
    void start() throws Exception {
        t = CacheProxy.memory();
    }

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    private String status(RawHttp.Reply r) {
        return r.headers().get("cache-status");
    }

    @Test
    void equivalentAcceptEncodingsShareAVariant() throws Exception {
        t.origin.serve("/e", r -> MockResponse.ok().body("for " + r.headers().get("Accept-Encoding")).header("Cache-Control", "max-age=60")
                .header("Vary", "Accept-Encoding"));
        assertThat(t.get("/e", "Accept-Encoding: gzip, br").bodyText()).isEqualTo("for gzip, br");
        for (String same : new String[] {"br,gzip", "BR, GZip", "gzip;q=1.0, br;q=1", "gzip ; q=1.000,br"}) {
            RawHttp.Reply r = t.get("/e", "Accept-Encoding: " + same);
            assertThat(status(r)).as(same).startsWith("gatehouse; hit");
            assertThat(r.bodyText()).isEqualTo("for gzip, br");
        }
        RawHttp.Reply other = t.get("/e", "Accept-Encoding: gzip;q=0.5, br");
        assertThat(status(other)).doesNotContain("hit");
        assertThat(t.get("/e", "Accept-Encoding: br, gzip;q=0.50").bodyText()).isEqualTo("for gzip;q=0.5, br");
        assertThat(status(t.get("/e", "Accept-Encoding: gzip"))).doesNotContain("hit");
        assertThat(t.origin.requestCount("/e")).isEqualTo(3);
    }

    @Test
    void equivalentAcceptLanguagesShareAVariant() throws Exception {
        t.origin.serve("/l", r -> MockResponse.ok().body("for " + r.headers().get("Accept-Language")).header("Cache-Control", "max-age=60")
                .header("Vary", "Accept-Language"));
        t.get("/l", "Accept-Language: en-US, fr;q=0.50");
        RawHttp.Reply same = t.get("/l", "Accept-Language: fr;q=0.5,en-us");
        assertThat(status(same)).startsWith("gatehouse; hit");
        assertThat(same.bodyText()).isEqualTo("for en-US, fr;q=0.50");
        assertThat(status(t.get("/l", "Accept-Language: en-US, fr;q=0.4"))).doesNotContain("hit");
        assertThat(t.origin.requestCount("/l")).isEqualTo(2);
    }

    @Test
    void otherVaryFieldsStayCaseSensitive() throws Exception {
        t.origin.serve("/x", MockResponse.ok().body("x").header("Cache-Control", "max-age=60").header("Vary", "X-Flavour"));
        t.get("/x", "X-Flavour: a, b");
        assertThat(status(t.get("/x", "X-Flavour: b, a"))).doesNotContain("hit");
        assertThat(status(t.get("/x", "X-Flavour: a,  b"))).startsWith("gatehouse; hit");
    }

    @Test
    void varyStarIsNeverServedFromTheCache() throws Exception {
        t.origin.serve("/star", MockResponse.ok().body("s").header("Cache-Control", "max-age=60").header("Vary", "Accept, *"));
        t.get("/star", "Accept: a");
        RawHttp.Reply again = t.get("/star", "Accept: a");
        assertThat(status(again)).doesNotContain("hit");
        assertThat(t.origin.requestCount("/star")).isEqualTo(2);
    }

    @Test
    void aStoredEntryThatA304GaveVaryStarIsNotServedAgain() throws Exception {
        t.origin.serve("/v", r -> r.headers().get("If-None-Match") != null
                ? MockResponse.status(304).header("ETag", "\"v\"").header("Cache-Control", "max-age=60").header("Vary", "*")
                : MockResponse.ok().body("v").header("ETag", "\"v\"").header("Cache-Control", "max-age=10").header("Vary", "Accept"));
        t.get("/v", "Accept: a");
        t.advance(Duration.ofSeconds(20));
        RawHttp.Reply validated = t.get("/v", "Accept: a");
        assertThat(validated.status()).isEqualTo(200);
        assertThat(validated.bodyText()).isEqualTo("v");
        RawHttp.Reply next = t.get("/v", "Accept: a");
        assertThat(status(next)).doesNotContain("hit");
        assertThat(t.origin.requestCount("/v")).isEqualTo(3);
    }
}
