package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cache in front of a reverse route: keys by public host, background revalidation through the route's pool. */
class ReverseProxyCacheTest {
    private final MutableClock clock = MutableClock.atWholeSecond();
    private MockOrigin origin;
    private SharedCache cache;
    private ProxyServer proxy;

    @BeforeEach
    void start() throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        cache = HttpCaches.builder().memory(DataSize.mebibytes(4)).clock(clock).build();
        proxy = ProxyServer.builder().route(Route.host("shop.test").to(UpstreamPool.of("http://127.0.0.1:" + origin.port())))
                .cache(cache).build().start();
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        cache.close();
        origin.close();
    }

    private RawHttp.Reply get(String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + path + " HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    }

    @Test
    void backgroundRevalidationGoesThroughTheRoutesUpstreamWithThePublicHost() throws Exception {
        AtomicInteger version = new AtomicInteger(1);
        origin.serve("/s", r -> MockResponse.ok().body("v" + version.get() + " for " + r.headers().get("Host"))
                .header("Cache-Control", "max-age=10, stale-while-revalidate=100"));
        java.util.concurrent.Semaphore stored = new java.util.concurrent.Semaphore(0);
        cache.onStored(stored::release);
        assertThat(get("/s").bodyText()).isEqualTo("v1 for shop.test");
        origin.takeRequest();
        version.set(2);
        clock.advance(Duration.ofSeconds(20));
        assertThat(get("/s").bodyText()).isEqualTo("v1 for shop.test");
        assertThat(origin.takeRequest().headers().get("Host")).isEqualTo("shop.test");
        // the first response and the revalidated one stored
        assertThat(stored.tryAcquire(2, 5, TimeUnit.SECONDS)).as("two stores within 5 s").isTrue();
        assertThat(get("/s").bodyText()).isEqualTo("v2 for shop.test");
        assertThat(cache.purgePrefix(java.net.URI.create("http://shop.test/"), PurgeMode.HARD)).isEqualTo(1);
    }
}
