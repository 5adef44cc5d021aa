package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.cache.internal.HttpDates;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Targeted cache-control (RFC 9213) on reverse routes, through a real origin, the caching reverse proxy and a raw
 * client: on by default with {@code CDN-Cache-Control}, a configurable list (most specific first), or off. Forward
 * proxying ignores it by default ({@code PolicyOptionsTest}).
 */
class TargetedCacheControlTest {
    private final MutableClock clock = MutableClock.atWholeSecond();
    private MockOrigin origin;
    private SharedCache cache;
    private ProxyServer proxy;

    private void start(UnaryOperator<HttpCaches.Builder> config) throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        cache = config.apply(HttpCaches.builder().memory(DataSize.mebibytes(4)).clock(clock)).build();
        proxy = ProxyServer.builder().route(Route.host("shop.test").to(UpstreamPool.of("http://127.0.0.1:" + origin.port())))
                .cache(cache).build().start();
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
            cache.close();
            origin.close();
        }
    }

    private RawHttp.Reply get(String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + path + " HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    }

    /** Two requests 30 s apart; how many reached the origin. */
    private int twice(String path, MockResponse answer) throws Exception {
        origin.serve(path, answer);
        get(path);
        clock.advance(Duration.ofSeconds(30));
        get(path);
        return origin.requestCount(path);
    }

    @Test
    void reverseRoutesHonourCdnCacheControlByDefaultAndPassItOnUnchanged() throws Exception {
        start(b -> b);
        origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "no-store").header("CDN-Cache-Control", "max-age=60"));
        RawHttp.Reply first = get("/a");
        assertThat(first.headers().get("cdn-cache-control")).isEqualTo("max-age=60");
        assertThat(first.headers().get("cache-control")).isEqualTo("no-store");
        assertThat(first.headers().get("cache-status")).endsWith("; stored");
        clock.advance(Duration.ofSeconds(30));
        RawHttp.Reply hit = get("/a");
        assertThat(hit.headers().get("cache-status")).isEqualTo("gatehouse; hit; ttl=30");
        assertThat(hit.headers().get("cdn-cache-control")).isEqualTo("max-age=60");
        assertThat(hit.headers().get("cache-control")).isEqualTo("no-store"); // for the caches downstream
        assertThat(origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void aTargetedFieldDecidesNoStorePrivateNoCacheAndMaxAge() throws Exception {
        start(b -> b);
        assertThat(twice("/no-store", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "no-store"))).isEqualTo(2);
        assertThat(twice("/private", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "private"))).isEqualTo(2);
        assertThat(twice("/short", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "max-age=10"))).isEqualTo(2);
        assertThat(twice("/no-cache", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "no-cache, max-age=600"))).isEqualTo(2);
    }

    @Test
    void withATargetedFieldExpiresIsIgnored() throws Exception {
        start(b -> b);
        String inAnHour = HttpDates.format(clock.instant().plusSeconds(3600));
        // the targeted field has no max-age: no freshness from it, and Expires does not count (RFC 9213 §2.2)
        assertThat(twice("/e", MockResponse.ok().body("x").header("Expires", inAnHour).header("CDN-Cache-Control", "must-revalidate")))
                .isEqualTo(2);
        // without the targeted field Expires counts
        assertThat(twice("/plain", MockResponse.ok().body("x").header("Expires", inAnHour))).isEqualTo(1);
    }

    @Test
    void anInvalidTargetedFieldIsIgnoredAndCacheControlDecides() throws Exception {
        start(b -> b);
        // Max-Age is not a structured-field key (upper case): the field is invalid as a whole
        assertThat(twice("/upper", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "Max-Age=0, no-store"))).isEqualTo(1);
        assertThat(twice("/junk", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "no-store; ;;"))).isEqualTo(1);
    }

    @Test
    void theMostSpecificFieldOfTheListWins() throws Exception {
        start(b -> b.targetedCacheControl("Gatehouse-Cache-Control", "CDN-Cache-Control"));
        assertThat(twice("/both", MockResponse.ok().body("x").header("Cache-Control", "no-store")
                .header("CDN-Cache-Control", "no-store").header("Gatehouse-Cache-Control", "max-age=60"))).isEqualTo(1);
        assertThat(twice("/cdn", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "no-store"))).isEqualTo(2);
        assertThat(twice("/own-invalid", MockResponse.ok().body("x").header("Cache-Control", "no-store")
                .header("Gatehouse-Cache-Control", "MAX-AGE=60").header("CDN-Cache-Control", "max-age=60"))).isEqualTo(1);
    }

    @Test
    void aConfiguredListReplacesTheDefault() throws Exception {
        start(b -> b.targetedCacheControl("Gatehouse-Cache-Control"));
        assertThat(twice("/cdn", MockResponse.ok().body("x").header("Cache-Control", "max-age=600")
                .header("CDN-Cache-Control", "no-store"))).isEqualTo(1);
    }

    @Test
    void offLeavesCacheControlAlone() throws Exception {
        start(HttpCaches.Builder::targetedCacheControlOff);
        assertThat(twice("/a", MockResponse.ok().body("x").header("Cache-Control", "no-store")
                .header("CDN-Cache-Control", "max-age=60"))).isEqualTo(2);
    }

    @Test
    void builderChecksTheFieldNames() {
        HttpCaches.Builder b = HttpCaches.builder();
        assertThatThrownBy(() -> b.targetedCacheControl("CDN Cache Control"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'CDN Cache Control'");
        assertThatThrownBy(() -> b.targetedCacheControl("A-Cache-Control", "a-cache-control"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("listed twice");
        assertThatThrownBy(() -> b.targetedCacheControl("Cache-Control"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'Cache-Control'");
    }
}
