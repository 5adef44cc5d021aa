package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.cache.testing.ScriptedOrigin;
import io.github.gatehouse.cache.testing.ScriptedOrigin.Answer;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk store behind a real proxy: survives restarts, never serves half-written entries. */
class DiskCacheThroughProxyTest {
    @TempDir
    Path dir;
    private final MutableClock clock = MutableClock.atWholeSecond();
    private ScriptedOrigin origin;
    private final ExecutorService clients = Executors.newFixedThreadPool(2, r -> new Thread(r, "client"));

    @BeforeEach
    void start() throws Exception {
        origin = new ScriptedOrigin(clock);
    }

    @AfterEach
    void stop() throws Exception {
        clients.shutdownNow();
        origin.close();
    }

    private GatehouseCache diskCache() {
        return HttpCaches.builder().disk(dir, DataSize.mebibytes(8)).clock(clock).build();
    }

    private static ProxyServer proxy(GatehouseCache cache) {
        return ProxyServer.builder().forward().allowInternalDestinations().cache(cache).build().start();
    }

    private RawHttp.Reply get(ProxyServer proxy, String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                + "\r\nConnection: close\r\n\r\n");
    }

    private static void awaitStores(GatehouseCache cache, long n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (cache.stats().stores() < n && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(cache.stats().stores()).isEqualTo(n);
    }

    @Test
    void entriesSurviveARestartOfTheProxy() throws Exception {
        String big = "x".repeat(300_000) + "end";
        origin.on("/big", Answer.ok(big).header("Cache-Control", "max-age=100").header("ETag", "\"b\""));
        GatehouseCache first = diskCache();
        try (ProxyServer proxy = proxy(first)) {
            assertThat(get(proxy, "/big").bodyText()).isEqualTo(big);
            awaitStores(first, 1);
            RawHttp.Reply hit = get(proxy, "/big");
            assertThat(hit.bodyText()).isEqualTo(big);
            assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        } finally {
            first.close();
        }

        GatehouseCache second = diskCache();
        try (ProxyServer proxy = proxy(second)) {
            assertThat(second.stats().entries()).isEqualTo(1);
            RawHttp.Reply hit = get(proxy, "/big");
            assertThat(hit.status()).isEqualTo(200);
            assertThat(hit.bodyText()).isEqualTo(big);
            assertThat(hit.headers().get("etag")).isEqualTo("\"b\"");
            assertThat(origin.count("/big")).isEqualTo(1);
        } finally {
            second.close();
        }
    }

    @Test
    void memoryTierInFrontOfTheDiskServesHitsAndTheDiskSurvivesRestart() throws Exception {
        origin.on("/t", Answer.ok("tiered").header("Cache-Control", "max-age=100"));
        GatehouseCache first = HttpCaches.builder().memory(DataSize.mebibytes(1)).disk(dir, DataSize.mebibytes(8))
                .clock(clock).build();
        assertThat(first.toString()).contains("memory 1MiB").contains("disk");
        try (ProxyServer proxy = proxy(first)) {
            get(proxy, "/t");
            awaitStores(first, 1);
            assertThat(get(proxy, "/t").bodyText()).isEqualTo("tiered");
        } finally {
            first.close();
        }
        GatehouseCache second = HttpCaches.builder().disk(dir, DataSize.mebibytes(8)).memory(DataSize.mebibytes(1))
                .clock(clock).build();
        try (ProxyServer proxy = proxy(second)) {
            assertThat(get(proxy, "/t").bodyText()).isEqualTo("tiered");
            assertThat(origin.count("/t")).isEqualTo(1);
        } finally {
            second.close();
        }
    }

    @Test
    void collapsedFollowersShareSmallBodiesButNotBodiesOfUnknownLength() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        origin.on("/small", Answer.ok("small").header("Cache-Control", "max-age=100").heldUntil(release));
        CountDownLatch rest = new CountDownLatch(1);
        origin.on("/stream", Answer.ok("").header("Cache-Control", "max-age=100").inTwoParts("a", rest, "b"));
        GatehouseCache cache = diskCache();
        try (ProxyServer proxy = proxy(cache)) {
            Future<RawHttp.Reply> leader = clients.submit(() -> get(proxy, "/small"));
            origin.take();
            Future<RawHttp.Reply> follower = clients.submit(() -> get(proxy, "/small"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (cache.stats().collapsed() < 1 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            release.countDown();
            assertThat(leader.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("small");
            assertThat(follower.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("small");
            assertThat(origin.count("/small")).isEqualTo(1);

            Future<RawHttp.Reply> streamLeader = clients.submit(() -> get(proxy, "/stream"));
            origin.take();
            Future<RawHttp.Reply> streamFollower = clients.submit(() -> get(proxy, "/stream"));
            origin.take(); // not shared: the follower reached the origin itself
            rest.countDown();
            assertThat(streamLeader.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(streamFollower.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(origin.count("/stream")).isEqualTo(2);
        } finally {
            cache.close();
        }
    }

    @Test
    void aCrashMidWriteLeavesNoServableEntry() throws Exception {
        CountDownLatch rest = new CountDownLatch(1);
        origin.on("/half", Answer.ok("").header("Cache-Control", "max-age=100").inTwoParts("first-half;", rest, "second-half"));
        GatehouseCache crashed = diskCache();
        ProxyServer crashedProxy = proxy(crashed);
        Future<RawHttp.Reply> inFlight = clients.submit(() -> get(crashedProxy, "/half"));
        origin.take();
        Path tmp = dir.resolve("tmp");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (listing(tmp) == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(listing(tmp)).as("half-written entry in tmp").isEqualTo(1);

        // "restart after a crash": a new cache opens the same directory while the old one is mid-write
        GatehouseCache restarted = diskCache();
        assertThat(listing(tmp)).isZero();
        assertThat(restarted.stats().entries()).isZero();
        try (ProxyServer proxy = proxy(restarted)) {
            rest.countDown();
            inFlight.get(5, TimeUnit.SECONDS);
            origin.on("/half", Answer.ok("whole").header("Cache-Control", "max-age=100"));
            assertThat(get(proxy, "/half").bodyText()).isEqualTo("whole");
            assertThat(origin.count("/half")).isEqualTo(2);
        } finally {
            crashedProxy.close();
            crashed.close();
            restarted.close();
        }
    }

    @Test
    void anUpstreamThatDiesMidBodyStoresNothing() throws Exception {
        CountDownLatch die = new CountDownLatch(1);
        origin.on("/dies", Answer.ok("").header("Cache-Control", "max-age=100").dieAfter("partial", die));
        GatehouseCache cache = diskCache();
        try (ProxyServer proxy = proxy(cache)) {
            die.countDown();
            RawHttp.Reply broken = get(proxy, "/dies");
            assertThat(broken.bodyText()).doesNotEndWith("0\r\n\r\n");
            origin.on("/dies", Answer.ok("ok").header("Cache-Control", "max-age=100"));
            assertThat(get(proxy, "/dies").bodyText()).isEqualTo("ok");
            assertThat(origin.count("/dies")).isEqualTo(2);
        } finally {
            cache.close();
        }
        assertThat(listing(dir.resolve("tmp"))).isZero();
        assertThat(listing(dir.resolve("entries"))).isEqualTo(1);
    }

    private static long listing(Path p) throws Exception {
        try (Stream<Path> s = Files.list(p)) {
            return s.count();
        }
    }
}
