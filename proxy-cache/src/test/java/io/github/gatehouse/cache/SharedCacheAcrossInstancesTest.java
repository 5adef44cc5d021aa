package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.GridStore;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three Gatehouse instances, each with its own cache and its own embedded Hazelcast member (loopback, TCP-IP join),
 * in front of one origin: what one stores is a hit on the others, a purge on one removes everywhere, and
 * concurrent misses on several instances make one upstream request. The members start once for the class (a few
 * seconds); each test uses its own paths.
 */
class SharedCacheAcrossInstancesTest {
    static final MutableClock clock = MutableClock.atWholeSecond();
    static MockOrigin origin;
    static final List<Instance> instances = new ArrayList<>();
    static final ExecutorService clients = Executors.newFixedThreadPool(4, r -> new Thread(r, "client"));

    record Instance(Cluster cluster, SharedCache cache, GridStore grid, ProxyServer proxy) {
        RawHttp.Reply get(String path) throws IOException {
            return RawHttp.exchange(proxy.port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + origin.port() + "\r\nConnection: close\r\n\r\n");
        }

        RawHttp.Reply get(String path, String header) throws IOException {
            return RawHttp.exchange(proxy.port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + origin.port() + "\r\n" + header + "\r\nConnection: close\r\n\r\n");
        }

        /** GET {@code path} with {@code header} and wait until this instance stored the response (grid write included). */
        RawHttp.Reply getAndStore(String path, String header) throws Exception {
            Semaphore stored = new Semaphore(0);
            cache.onStored(stored::release);
            RawHttp.Reply reply = get(path, header);
            assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("stored " + path + " " + header).isTrue();
            return reply;
        }

        /** GET {@code path} and wait until this instance stored the response (grid write included). */
        RawHttp.Reply getAndStore(String path) throws Exception {
            Semaphore stored = new Semaphore(0);
            cache.onStored(stored::release);
            RawHttp.Reply reply = get(path);
            assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("stored " + path).isTrue();
            return reply;
        }
    }

    @BeforeAll
    static void start() throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        int first = freePort();
        for (int i = 0; i < 3; i++) {
            ClusterConfig.Builder config = ClusterConfig.builder().name("test-" + first).bind("127.0.0.1",
                    i == 0 ? first : freePort()).operationTimeout(Duration.ofSeconds(2));
            if (i > 0) {
                config.member("127.0.0.1:" + first);
            }
            Cluster cluster = Cluster.join(config.build());
            SharedCache cache = HttpCaches.builder().clock(clock).memory(DataSize.mebibytes(4)).cluster(cluster).build();
            ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache)
                    .upstreamTimeout(Duration.ofSeconds(5)).build().start();
            instances.add(new Instance(cluster, cache, (GridStore) cache.store(), proxy));
        }
        // the first request waits for a formed, rebalanced cluster: right after the joins the partitions migrate,
        // and a grid operation that does not land within the operation timeout is (rightly) a miss
        for (Instance i : instances) {
            assertThat(i.cluster().awaitSafe(3, Duration.ofSeconds(30))).as("cluster safe on " + i.cluster()).isTrue();
        }
    }

    @AfterAll
    static void stop() throws Exception {
        for (Instance i : instances) {
            i.proxy().close();
            i.cache().close();
            i.cluster().kill();
        }
        origin.close();
        clients.shutdownNow();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aResponseStoredByOneInstanceIsAHitOnTheOthers() throws Exception {
        origin.serve("/shared", MockResponse.ok().body("one copy").header("Cache-Control", "max-age=100"));
        Instance a = instances.get(0);
        Instance b = instances.get(1);
        Instance c = instances.get(2);

        assertThat(a.getAndStore("/shared").bodyText()).isEqualTo("one copy");
        RawHttp.Reply fromB = b.get("/shared");
        RawHttp.Reply fromC = c.get("/shared");
        RawHttp.Reply againB = b.get("/shared");

        assertThat(fromB.bodyText()).isEqualTo("one copy");
        assertThat(fromC.bodyText()).isEqualTo("one copy");
        assertThat(fromB.headers().get("cache-status")).contains("hit");
        assertThat(againB.headers().get("cache-status")).contains("hit");
        assertThat(origin.requestCount("/shared")).as("origin requests for one object across 3 instances").isEqualTo(1);
        assertThat(b.grid().gridHits()).isGreaterThanOrEqualTo(1);
        assertThat(b.grid().nearHits()).as("the second hit on b is served by its near tier").isGreaterThanOrEqualTo(1);
        SharedTierStats stats = b.cache().sharedTier().orElseThrow();
        assertThat(stats.members()).hasSize(3).contains(b.cluster().localMember());
        assertThat(stats.gridHits()).isEqualTo(b.grid().gridHits());
    }

    @Test
    void theClientThatFilledAnEntryHitsItOnAnotherInstanceWithNoWaitInBetween() throws Exception {
        // read your writes: a client (or the load balancer in front) that got the last byte of a miss through one
        // instance finds the entry through another at once. The grid write may still be in flight then, but the fill
        // lease is released only after it landed, so the other instance waits for the lease and then reads the entry
        origin.serve("/at-once", MockResponse.ok().body("written").header("Cache-Control", "max-age=100"));
        Instance a = instances.get(0);
        Instance c = instances.get(2);

        RawHttp.Reply filled = a.get("/at-once");
        RawHttp.Reply fromC = c.get("/at-once");

        assertThat(filled.headers().get("cache-status")).contains("stored");
        assertThat(fromC.bodyText()).isEqualTo("written");
        assertThat(fromC.headers().get("cache-status")).contains("hit");
        assertThat(origin.requestCount("/at-once")).isEqualTo(1);
    }

    @Test
    void aClaimJustAfterAnotherInstancesFillEndedLosesAndItsWaitEndsAtOnce() throws Exception {
        // the race this closes: c's grid read misses just before a's write lands, and c's claim comes just after a
        // released its lease. c must read again (and hit) rather than fetch the object a second time
        Instance a = instances.get(0);
        Instance c = instances.get(2);
        String primary = "http://127.0.0.1:1/just-filled";
        CountDownLatch released = new CountDownLatch(1);
        c.grid().onEvent(message -> {
            if (message.startsWith("R") && message.endsWith(primary)) {
                released.countDown();
            }
        });
        assertThat(a.grid().claimFill(primary, Duration.ofSeconds(30)).toCompletableFuture().get(5, TimeUnit.SECONDS))
                .isTrue();
        a.grid().releaseFill(primary);
        assertThat(released.await(10, TimeUnit.SECONDS)).as("c heard the release").isTrue();

        assertThat(c.grid().claimFill(primary, Duration.ofSeconds(30)).toCompletableFuture().get(5, TimeUnit.SECONDS))
                .as("c's claim right after a's fill ended").isFalse();
        c.grid().awaitRelease(primary, Duration.ofSeconds(60)).toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(a.grid().claimFill(primary, Duration.ofSeconds(30)).toCompletableFuture().get(5, TimeUnit.SECONDS))
                .as("the instance that filled may claim again (a purge, a new fill)").isTrue();
        a.grid().releaseFill(primary);
    }

    @Test
    void theSharedTiersMetersCountWhereALookupWasAnswered() throws Exception {
        origin.serve("/metered", MockResponse.ok().body("m").header("Cache-Control", "max-age=100"));
        Instance a = instances.get(0);
        Instance b = instances.get(1);
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (io.github.gatehouse.cache.metrics.SharedCacheMetrics meters =
                io.github.gatehouse.cache.metrics.SharedCacheMetrics.bindTo(registry, b.proxy())) {
            double gridHits = registry.get("gatehouse.cache.grid.hits").functionCounter().count();
            double nearHits = registry.get("gatehouse.cache.near.hits").functionCounter().count();
            a.getAndStore("/metered");
            assertThat(b.get("/metered").headers().get("cache-status")).contains("hit");
            assertThat(b.get("/metered").headers().get("cache-status")).contains("hit");

            assertThat(registry.get("gatehouse.cluster.members").gauge().value()).isEqualTo(3.0);
            assertThat(registry.get("gatehouse.cache.grid.hits").functionCounter().count()).isEqualTo(gridHits + 1);
            assertThat(registry.get("gatehouse.cache.near.hits").functionCounter().count()).isEqualTo(nearHits + 1);
            meters.close();
            assertThat(registry.find("gatehouse.cache.grid.hits").functionCounter()).as("removed on close").isNull();
        }
    }

    @Test
    void aPurgeOnOneInstanceRemovesTheEntryEverywhere() throws Exception {
        origin.serve("/purge/url", MockResponse.ok().body("u").header("Cache-Control", "max-age=100"));
        origin.serve("/purge/dir/1", MockResponse.ok().body("d1").header("Cache-Control", "max-age=100"));
        origin.serve("/purge/tagged", MockResponse.ok().body("t").header("Cache-Control", "max-age=100").header("Surrogate-Key", "red"));
        Instance a = instances.get(0);
        Instance b = instances.get(1);
        for (String p : List.of("/purge/url", "/purge/dir/1", "/purge/tagged")) {
            a.getAndStore(p);
            assertThat(b.get(p).headers().get("cache-status")).as(p).contains("hit"); // now in b's near tier too
        }

        CountDownLatch seenByA = awaitEvents(a, 3);
        assertThat(b.cache().purge(URI.create(origin.url("/purge/url")), PurgeMode.HARD)).isEqualTo(1);
        assertThat(b.cache().purgePrefix(URI.create(origin.url("/purge/dir/")), PurgeMode.HARD)).isEqualTo(1);
        assertThat(b.cache().purgeTag("red", PurgeMode.HARD)).isEqualTo(1);
        assertThat(seenByA.await(5, TimeUnit.SECONDS)).as("a handled the three purges").isTrue();

        for (String p : List.of("/purge/url", "/purge/dir/1", "/purge/tagged")) {
            assertThat(a.get(p).headers().get("cache-status")).as(p + " on a").doesNotContain("hit");
            assertThat(origin.requestCount(p)).as(p).isEqualTo(2);
        }
    }

    @Test
    void concurrentMissesOnTwoInstancesMakeOneUpstreamRequest() throws Exception {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        origin.serve("/slow", MockResponse.ok().body("filled once").header("Cache-Control", "max-age=100").holdUntil(gate));
        Instance a = instances.get(0);
        Instance c = instances.get(2);
        CountDownLatch cWaits = new CountDownLatch(1);
        c.grid().onRemoteWait(cWaits::countDown);

        CompletableFuture<RawHttp.Reply> fromA = CompletableFuture.supplyAsync(() -> send(a, "/slow"), clients);
        assertThat(origin.takeRequest().path()).isEqualTo("/slow"); // a is filling
        CompletableFuture<RawHttp.Reply> fromC = CompletableFuture.supplyAsync(() -> send(c, "/slow"), clients);
        assertThat(cWaits.await(5, TimeUnit.SECONDS)).as("c waits for a's fill").isTrue();
        gate.complete(null);

        assertThat(fromA.get(10, TimeUnit.SECONDS).bodyText()).isEqualTo("filled once");
        RawHttp.Reply replyC = fromC.get(10, TimeUnit.SECONDS);
        assertThat(replyC.bodyText()).isEqualTo("filled once");
        assertThat(replyC.headers().get("cache-status")).contains("hit");
        assertThat(origin.requestCount("/slow")).isEqualTo(1);
    }

    /**
     * A bounded count, not a benchmark: 30 objects, each requested on all three instances. The origin sees each once;
     * the medians of a first read on another instance (from the grid) and a repeat read there (near tier) go to
     * target/cluster-figures.txt for the README (loopback, one JVM, a busy machine: a rough figure).
     */
    @Test
    void eachObjectReachesTheOriginOnceAcrossThreeInstances() throws Exception {
        Instance a = instances.get(0);
        int objects = 30;
        long[] grid = new long[objects];
        long[] near = new long[objects];
        for (int n = 0; n < objects; n++) {
            origin.serve("/count/" + n, MockResponse.ok().body("object " + n).header("Cache-Control", "max-age=100"));
            a.getAndStore("/count/" + n);
        }
        for (int n = 0; n < objects; n++) {
            for (Instance other : instances.subList(1, 3)) {
                long t0 = System.nanoTime();
                RawHttp.Reply first = other.get("/count/" + n);
                long t1 = System.nanoTime();
                RawHttp.Reply again = other.get("/count/" + n);
                long t2 = System.nanoTime();
                assertThat(first.bodyText()).isEqualTo("object " + n);
                assertThat(again.bodyText()).isEqualTo("object " + n);
                if (other == instances.get(1)) {
                    grid[n] = t1 - t0;
                    near[n] = t2 - t1;
                }
            }
        }
        int total = 0;
        for (int n = 0; n < objects; n++) {
            total += origin.requestCount("/count/" + n);
        }
        assertThat(total).as("origin requests for %d objects on 3 instances", objects).isEqualTo(objects);
        java.util.Arrays.sort(grid);
        java.util.Arrays.sort(near);
        java.nio.file.Files.writeString(java.nio.file.Path.of("target", "cluster-figures.txt"), String.format(
                "objects %d, instances 3, origin requests %d%nmedian exchange, first read on another instance (grid)"
                        + " %.2f ms, repeat read (near tier) %.2f ms%n", objects, total, grid[objects / 2] / 1e6,
                near[objects / 2] / 1e6));
    }

    /**
     * Partial entries (stored 206 ranges) live in the grid like any other variant: a range stored by one instance
     * answers a range request on another, the second instance's new range completes the entry there, and the
     * complete entry is a hit on the third.
     */
    @Test
    void storedRangesAreSharedAndCompletedAcrossInstances() throws Exception {
        byte[] body = new byte[1000];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        origin.serve("/ranges", r -> {
            String range = r.headers().get("Range");
            long[] one = range == null ? null : io.github.gatehouse.cache.internal.Ranges.single(range, body.length);
            if (one == null || one == io.github.gatehouse.cache.internal.Ranges.UNSATISFIABLE) {
                return MockResponse.status(200).body(body).header("ETag", "\"r1\"").header("Cache-Control", "max-age=3600");
            }
            return MockResponse.status(206).body(java.util.Arrays.copyOfRange(body, (int) one[0], (int) (one[0] + one[1])))
                    .header("ETag", "\"r1\"").header("Cache-Control", "max-age=3600")
                    .header("Content-Range", "bytes " + one[0] + "-" + (one[0] + one[1] - 1) + "/" + body.length);
        });
        Instance a = instances.get(0);
        Instance b = instances.get(1);
        Instance c = instances.get(2);
        String all = new String(body, java.nio.charset.StandardCharsets.US_ASCII);

        assertThat(a.getAndStore("/ranges", "Range: bytes=0-499").status()).isEqualTo(206);
        RawHttp.Reply inside = b.get("/ranges", "Range: bytes=100-199");
        assertThat(inside.status()).isEqualTo(206);
        assertThat(inside.headers().get("cache-status")).contains("hit").contains("detail=partial");
        assertThat(inside.bodyText()).isEqualTo(all.substring(100, 200));
        assertThat(origin.requestCount("/ranges")).isEqualTo(1);

        assertThat(b.getAndStore("/ranges", "Range: bytes=500-999").status()).isEqualTo(206);
        RawHttp.Reply whole = c.get("/ranges");
        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.headers().get("cache-status")).contains("hit");
        assertThat(whole.bodyText()).isEqualTo(all);
        assertThat(origin.requestCount("/ranges")).as("two ranges fetched, the rest from the grid").isEqualTo(2);
    }

    private static RawHttp.Reply send(Instance i, String path) {
        try {
            return i.get(path);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A latch that opens once {@code instance} handled {@code n} purge events. */
    private static CountDownLatch awaitEvents(Instance instance, int n) {
        CountDownLatch latch = new CountDownLatch(n);
        instance.grid().onEvent(m -> {
            char kind = m.charAt(0);
            if (kind == 'U' || kind == 'P' || kind == 'T') {
                latch.countDown();
            }
        });
        return latch;
    }
}
