package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.cache.testing.ObservedCache;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
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
    private MockOrigin origin;
    private final ExecutorService clients = Executors.newFixedThreadPool(2, r -> new Thread(r, "client"));

    @BeforeEach
    void start() throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
    }

    @AfterEach
    void stop() throws Exception {
        clients.shutdownNow();
        origin.close();
    }

    private SharedCache diskCache() {
        return HttpCaches.builder().disk(dir, DataSize.mebibytes(8)).clock(clock).build();
    }

    private static ProxyServer proxy(HttpCache cache) {
        return ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache).build().start();
    }

    private RawHttp.Reply get(ProxyServer proxy, String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                + "\r\nConnection: close\r\n\r\n");
    }

    /** Released once for each entry {@code cache} stores from now on (a disk store commits after the response). */
    private static Semaphore stores(SharedCache cache) {
        Semaphore stored = new Semaphore(0);
        cache.onStored(stored::release);
        return stored;
    }

    private static void awaitStores(SharedCache cache, Semaphore stored, long n) throws InterruptedException {
        assertThat(stored.tryAcquire((int) n, 5, TimeUnit.SECONDS)).as("%d entries stored within 5 s", n).isTrue();
        assertThat(cache.stats().stores()).isEqualTo(n);
    }

    @Test
    void entriesSurviveARestartOfTheProxy() throws Exception {
        String big = "x".repeat(300_000) + "end";
        origin.serve("/big", MockResponse.ok().body(big).header("Cache-Control", "max-age=100").header("ETag", "\"b\""));
        SharedCache first = diskCache();
        Semaphore stored = stores(first);
        try (ProxyServer proxy = proxy(first)) {
            assertThat(get(proxy, "/big").bodyText()).isEqualTo(big);
            awaitStores(first, stored, 1);
            RawHttp.Reply hit = get(proxy, "/big");
            assertThat(hit.bodyText()).isEqualTo(big);
            assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        } finally {
            first.close();
        }

        SharedCache second = diskCache();
        try (ProxyServer proxy = proxy(second)) {
            assertThat(second.stats().entries()).isEqualTo(1);
            RawHttp.Reply hit = get(proxy, "/big");
            assertThat(hit.status()).isEqualTo(200);
            assertThat(hit.bodyText()).isEqualTo(big);
            assertThat(hit.headers().get("etag")).isEqualTo("\"b\"");
            assertThat(origin.requestCount("/big")).isEqualTo(1);
        } finally {
            second.close();
        }
    }

    @Test
    void memoryTierInFrontOfTheDiskServesHitsAndTheDiskSurvivesRestart() throws Exception {
        origin.serve("/t", MockResponse.ok().body("tiered").header("Cache-Control", "max-age=100"));
        SharedCache first = HttpCaches.builder().memory(DataSize.mebibytes(1)).disk(dir, DataSize.mebibytes(8))
                .clock(clock).build();
        assertThat(first.toString()).contains("memory 1MiB").contains("disk");
        Semaphore stored = stores(first);
        try (ProxyServer proxy = proxy(first)) {
            get(proxy, "/t");
            awaitStores(first, stored, 1);
            assertThat(get(proxy, "/t").bodyText()).isEqualTo("tiered");
        } finally {
            first.close();
        }
        SharedCache second = HttpCaches.builder().disk(dir, DataSize.mebibytes(8)).memory(DataSize.mebibytes(1))
                .clock(clock).build();
        try (ProxyServer proxy = proxy(second)) {
            assertThat(get(proxy, "/t").bodyText()).isEqualTo("tiered");
            assertThat(origin.requestCount("/t")).isEqualTo(1);
        } finally {
            second.close();
        }
    }

    @Test
    void collapsedFollowersShareSmallBodiesButNotBodiesOfUnknownLength() throws Exception {
        CompletableFuture<Void> release = new CompletableFuture<>();
        origin.serve("/small", MockResponse.ok().body("small").header("Cache-Control", "max-age=100").holdUntil(release));
        CompletableFuture<Void> rest = new CompletableFuture<>();
        origin.serve("/stream", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("a", "b").pauseBeforeChunk(1, rest));
        SharedCache cache = diskCache();
        ObservedCache observed = new ObservedCache(cache);
        try (ProxyServer proxy = proxy(observed)) {
            Future<RawHttp.Reply> leader = clients.submit(() -> get(proxy, "/small"));
            origin.takeRequest();
            Future<RawHttp.Reply> follower = clients.submit(() -> get(proxy, "/small"));
            observed.awaitLookups(2); // the follower's lookup returned: it is attached to the leader's fill
            assertThat(cache.stats().collapsed()).isEqualTo(1);
            release.complete(null);
            assertThat(leader.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("small");
            assertThat(follower.get(5, TimeUnit.SECONDS).bodyText()).isEqualTo("small");
            assertThat(origin.requestCount("/small")).isEqualTo(1);

            Future<RawHttp.Reply> streamLeader = clients.submit(() -> get(proxy, "/stream"));
            origin.takeRequest();
            Future<RawHttp.Reply> streamFollower = clients.submit(() -> get(proxy, "/stream"));
            origin.takeRequest(); // not shared: the follower reached the origin itself
            rest.complete(null);
            assertThat(streamLeader.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(streamFollower.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(origin.requestCount("/stream")).isEqualTo(2);
        } finally {
            cache.close();
        }
    }

    @Test
    void aCrashMidWriteLeavesNoServableEntry() throws Exception {
        CompletableFuture<Void> rest = new CompletableFuture<>();
        origin.serve("/half", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("first-half;", "second-half").pauseBeforeChunk(1, rest));
        SharedCache crashed = diskCache();
        ProxyServer crashedProxy = proxy(crashed);
        Path tmp = dir.resolve("tmp");
        Future<RawHttp.Reply> inFlight;
        try (WatchService watcher = tmp.getFileSystem().newWatchService()) {
            tmp.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
            inFlight = clients.submit(() -> get(crashedProxy, "/half"));
            origin.takeRequest();
            // the store creates the entry's temporary file: the directory's create event (inotify on Linux)
            assertThat(watcher.poll(5, TimeUnit.SECONDS)).as("a file created in %s within 5 s", tmp).isNotNull();
        }
        assertThat(listing(tmp)).as("half-written entry in tmp").isEqualTo(1);

        // "restart after a crash": a new cache opens the same directory while the old one is mid-write
        SharedCache restarted = diskCache();
        assertThat(listing(tmp)).isZero();
        assertThat(restarted.stats().entries()).isZero();
        try (ProxyServer proxy = proxy(restarted)) {
            rest.complete(null);
            inFlight.get(5, TimeUnit.SECONDS);
            origin.serve("/half", MockResponse.ok().body("whole").header("Cache-Control", "max-age=100"));
            assertThat(get(proxy, "/half").bodyText()).isEqualTo("whole");
            assertThat(origin.requestCount("/half")).isEqualTo(2);
        } finally {
            crashedProxy.close();
            crashed.close();
            restarted.close();
        }
    }

    @Test
    void anUpstreamThatDiesMidBodyStoresNothing() throws Exception {
        CompletableFuture<Void> die = new CompletableFuture<>();
        origin.serve("/dies", MockResponse.ok().header("Cache-Control", "max-age=100").chunks("partial", "").abortAfter(7).pauseBeforeChunk(1, die));
        SharedCache cache = diskCache();
        try (ProxyServer proxy = proxy(cache)) {
            die.complete(null);
            RawHttp.Reply broken = get(proxy, "/dies");
            assertThat(broken.bodyText()).doesNotEndWith("0\r\n\r\n");
            origin.serve("/dies", MockResponse.ok().body("ok").header("Cache-Control", "max-age=100"));
            assertThat(get(proxy, "/dies").bodyText()).isEqualTo("ok");
            assertThat(origin.requestCount("/dies")).isEqualTo(2);
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
