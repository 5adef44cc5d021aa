package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.LoadBalancer;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Background revalidation ({@code stale-while-revalidate}) goes through the relay's own path, as a client-less
 * exchange: the proxy's {@code Via} and forwarding fields, the route's pool with its retries and member accounting,
 * the request as the filters left it, and an access-log line with {@code -} as the client.
 */
class BackgroundRevalidationThroughRelayTest {

    @Test
    void aForwardRevalidationCarriesTheProxysViaAndTheFiltersRewriteAndIsLoggedAsBackground() throws Exception {
        try (CacheProxy t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(4)),
                b -> b.via("edge-cache").filter(exchange -> {
                    exchange.request().headers().set("X-Filtered", "yes");
                    return Verdict.proceed();
                }))) {
            t.origin.serve("/s", r -> r.headers().get("If-None-Match") != null
                    ? MockResponse.status(304).header("ETag", "\"v1\"").header("Cache-Control", "max-age=10, stale-while-revalidate=60")
                    : MockResponse.ok().body("v1").header("ETag", "\"v1\"").header("Cache-Control", "max-age=10, stale-while-revalidate=60"));
            t.get("/s");
            t.origin.takeRequest();
            t.advance(Duration.ofSeconds(30));

            RawHttp.Reply stale = t.get("/s");
            assertThat(stale.bodyText()).isEqualTo("v1");
            assertThat(stale.headers().get("cache-status")).contains("stale-while-revalidate");

            RecordedRequest revalidation = t.origin.takeRequest();
            assertThat(revalidation.method()).isEqualTo("GET");
            assertThat(revalidation.headers().get("If-None-Match")).isEqualTo("\"v1\"");
            assertThat(revalidation.headers().get("Via")).isEqualTo("1.1 edge-cache");
            assertThat(revalidation.headers().get("X-Filtered")).as("the request as the filters left it").isEqualTo("yes");

            AccessLogEntry line = t.background.take();
            assertThat(line.background()).as("marked as the cache's own exchange").isTrue();
            assertThat(io.github.gatehouse.core.AccessLogFormat.json().format(line)).endsWith(",\"background\":true}");
            assertThat(line.clientAddress()).isEqualTo("-");
            assertThat(line.user()).isNull();
            assertThat(line.method()).isEqualTo("GET");
            assertThat(line.target()).isEqualTo(t.origin.url("/s"));
            assertThat(line.status()).isEqualTo(304);
            assertThat(line.cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.REFRESH_UNMODIFIED);
            assertThat(line.upstream()).isEqualTo("127.0.0.1:" + t.origin.port());
            assertThat(line.completed()).isTrue();
            // the 304 freshened the entry: the next request is a hit, and the client lines never saw the background one
            t.log.clear();
            RawHttp.Reply fresh = t.get("/s");
            assertThat(fresh.headers().get("cache-status")).startsWith("gatehouse; hit");
            assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
            assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
            assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
            assertThat(t.origin.requestCount("/s")).isEqualTo(2);
        }
    }

    @Test
    void aReverseRevalidationIsRetriedOnTheHealthyMemberAndCountsAgainstTheDeadOne() throws Exception {
        MutableClock clock = MutableClock.atWholeSecond();
        int deadPort = closedPort();
        RecordingAccessLog log = new RecordingAccessLog();
        // the balancer always tries the dead member first: only a retry reaches the origin
        LoadBalancer deadFirst = (candidates, exchange) -> candidates.stream()
                .filter(m -> m.upstream().port() == deadPort).findFirst().orElse(candidates.get(0));
        try (MockOrigin origin = MockOrigin.named("origin").datesFrom(clock).start();
                SharedCache cache = HttpCaches.builder().memory(DataSize.mebibytes(4)).clock(clock).build()) {
            UpstreamPool pool = UpstreamPool.of("http://127.0.0.1:" + deadPort, "http://127.0.0.1:" + origin.port())
                    .balance(deadFirst);
            AtomicInteger version = new AtomicInteger(1);
            origin.serve("/p", r -> MockResponse.ok().body("v" + version.get() + " for " + r.headers().get("Host") + " via " + r.headers().get("Via"))
                    .header("Cache-Control", "max-age=10, stale-while-revalidate=100"));
            Semaphore stored = new Semaphore(0);
            cache.onStored(stored::release);
            java.util.concurrent.BlockingQueue<io.github.gatehouse.core.ExchangeEvent> events =
                    new java.util.concurrent.LinkedBlockingQueue<>();
            try (ProxyServer proxy = ProxyServer.builder().via("edge")
                    .route(Route.host("shop.test").to(pool)).cache(cache).accessLog(log).build().start();
                    AutoCloseable listening = proxy.addListener(events::add)) {
                assertThat(get(proxy, "/p").bodyText()).isEqualTo("v1 for shop.test via 1.1 edge");
                origin.takeRequest();
                assertThat(log.take().tries()).as("the client's fill was retried too").isEqualTo(2);
                version.set(2);
                clock.advance(Duration.ofSeconds(20));

                assertThat(get(proxy, "/p").bodyText()).isEqualTo("v1 for shop.test via 1.1 edge");
                RecordedRequest revalidation = origin.takeRequest();
                assertThat(revalidation.headers().get("Host")).isEqualTo("shop.test");
                assertThat(revalidation.headers().get("Via")).isEqualTo("1.1 edge");
                assertThat(revalidation.headers().get("X-Forwarded-For")).isEqualTo("unknown");
                assertThat(revalidation.headers().get("Forwarded")).isEqualTo("for=unknown;host=shop.test;proto=http");
                assertThat(stored.tryAcquire(2, 5, TimeUnit.SECONDS)).as("the fill and the revalidation stored").isTrue();

                AccessLogEntry background = backgroundLine(log);
                assertThat(background.background()).isTrue();
                assertThat(background.tries()).isEqualTo(2);
                java.util.List<io.github.gatehouse.core.ExchangeEvent> seen = new java.util.ArrayList<>();
                while (seen.stream().noneMatch(io.github.gatehouse.core.ExchangeEvent::background)) {
                    io.github.gatehouse.core.ExchangeEvent e = events.poll(5, TimeUnit.SECONDS);
                    assertThat(e).as("an exchange event for the revalidation").isNotNull();
                    seen.add(e);
                }
                assertThat(seen).filteredOn(io.github.gatehouse.core.ExchangeEvent::background).singleElement()
                        .satisfies(e -> assertThat(e.cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.REFRESH_MODIFIED));
                assertThat(seen).filteredOn(e -> !e.background()).extracting(io.github.gatehouse.core.ExchangeEvent::cacheStatus)
                        .as("the clients' events (the stale one may come after)").contains(io.github.gatehouse.core.CacheStatus.MISS)
                        .isSubsetOf(io.github.gatehouse.core.CacheStatus.MISS, io.github.gatehouse.core.CacheStatus.STALE);
                assertThat(background.upstream()).isEqualTo("127.0.0.1:" + origin.port());
                assertThat(background.status()).isEqualTo(200);
                assertThat(background.cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.REFRESH_MODIFIED);
                assertThat(background.bytesOut()).isEqualTo("v2 for shop.test via 1.1 edge".length());
                UpstreamMember dead = pool.members().stream().filter(m -> m.upstream().port() == deadPort)
                        .findFirst().orElseThrow();
                assertThat(dead.stats().errors()).as("the fill's and the revalidation's connect failures").isEqualTo(2);
                assertThat(pool.counters().retries()).isEqualTo(2);

                assertThat(get(proxy, "/p").bodyText()).isEqualTo("v2 for shop.test via 1.1 edge");
                assertThat(origin.requestCount("/p")).isEqualTo(2);
            }
        }
    }

    @Test
    void aRevalidationWithNoHealthyMemberFailsQuietlyAndTheStaleEntryStays() throws Exception {
        MutableClock clock = MutableClock.atWholeSecond();
        RecordingAccessLog log = new RecordingAccessLog();
        try (MockOrigin origin = MockOrigin.named("origin").datesFrom(clock).start();
                SharedCache cache = HttpCaches.builder().memory(DataSize.mebibytes(4)).clock(clock).build()) {
            origin.serve("/q", MockResponse.ok().body("kept").header("Cache-Control", "max-age=10, stale-while-revalidate=100"));
            try (ProxyServer proxy = ProxyServer.builder()
                    .route(Route.host("shop.test").to(UpstreamPool.of("http://127.0.0.1:" + origin.port()))).cache(cache).accessLog(log)
                    .build().start()) {
                assertThat(get(proxy, "/q").bodyText()).isEqualTo("kept");
                log.take();
                origin.close();
                clock.advance(Duration.ofSeconds(20));
                assertThat(get(proxy, "/q").bodyText()).isEqualTo("kept");
                AccessLogEntry background = backgroundLine(log);
                assertThat(background.status()).isEqualTo(502);
                assertThat(background.reason()).contains("connection refused");
                // nothing replaced or dropped the entry: it is still served stale
                assertThat(get(proxy, "/q").bodyText()).isEqualTo("kept");
            }
        }
    }

    @Test
    void theCacheHasNoHttpClientOfItsOwn() throws IOException {
        Path main = Path.of("src/main/java");
        assertThat(main).isDirectory();
        try (Stream<Path> files = Files.walk(main)) {
            List<String> offenders = files.filter(p -> p.toString().endsWith(".java")).filter(p -> {
                try {
                    String text = Files.readString(p);
                    return text.contains("org.eclipse.jetty.client") || text.contains("java.net.http");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(Path::toString).toList();
            assertThat(offenders).as("proxy-cache sends upstream only through the relay (RelayAccess)").isEmpty();
        }
    }

    private static RawHttp.Reply get(ProxyServer proxy, String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + path + " HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    }

    /** The next line of a background exchange, skipping the clients' lines. */
    private static AccessLogEntry backgroundLine(RecordingAccessLog log) throws InterruptedException {
        for (int i = 0; i < 10; i++) {
            AccessLogEntry e = log.take();
            if ("-".equals(e.clientAddress())) {
                return e;
            }
        }
        throw new AssertionError("no background line among the next 10");
    }

    /** A loopback port nothing listens on (bound, then closed): connections to it are refused. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
