package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.CachePeerStats;
import io.github.gatehouse.core.CachePeers;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Cache-peer routing over the members of a cluster: three instances with embedded Hazelcast members, each publishing its
 * proxy listener in the cluster. CARP alone (memory caches, no grid tier): one origin request and one stored copy per
 * object, and a member that leaves hands its keys to the others without moving anyone else's. CARP with the grid tier:
 * the home stores in the grid, the other instances then hit the grid and their near tier.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CachePeersInClusterTest {
    static final MockOrigin origin = MockOrigin.named("carp-cluster");
    static final Map<String, AtomicInteger> originCounts = new ConcurrentHashMap<>();
    static final List<Instance> alone = new ArrayList<>();
    static final List<Instance> withGrid = new ArrayList<>();

    record Instance(Cluster cluster, SharedCache cache, CachePeers peers, ProxyServer proxy) {
        RawHttp.Reply get(String path) throws IOException {
            return RawHttp.exchange(proxy.port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: " + origin.authority()
                    + "\r\nConnection: close\r\n\r\n");
        }

        String url() {
            return "http://127.0.0.1:" + proxy.port();
        }

        long entries() {
            return cache.counters().orElseThrow().entries();
        }

        void close() {
            proxy.close();
            cache.close();
            cluster.kill();
        }
    }

    @BeforeAll
    static void start() throws Exception {
        origin.start();
        origin.dispatcher(r -> {
            originCounts.computeIfAbsent(r.path(), p -> new AtomicInteger()).incrementAndGet();
            return MockResponse.ok("body of " + r.path()).header("Cache-Control", "max-age=100");
        });
        group(alone, 3, false);
        group(withGrid, 2, true);
    }

    static void group(List<Instance> into, int size, boolean grid) throws Exception {
        int first = freePort();
        for (int i = 0; i < size; i++) {
            ClusterConfig.Builder config = ClusterConfig.builder().name("carp-" + first).bind("127.0.0.1",
                    i == 0 ? first : freePort()).operationTimeout(Duration.ofSeconds(2));
            if (i > 0) {
                config.member("127.0.0.1:" + first);
            }
            Cluster cluster = Cluster.join(config.build());
            HttpCaches.Builder cache = HttpCaches.builder().memory(DataSize.mebibytes(4));
            if (grid) {
                cache.cluster(cluster); // one name for all: the grid's maps are the cache name's
            } else {
                cache.name("carp" + i); // Cache-Status tells the instances apart
            }
            SharedCache c = cache.build();
            CachePeers peers = CachePeers.builder().cluster(cluster).timeout(Duration.ofSeconds(1)).build();
            ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(c).cachePeers(peers)
                    .upstreamTimeout(Duration.ofSeconds(5)).build().start();
            into.add(new Instance(cluster, c, peers, proxy));
        }
        for (Instance i : into) {
            assertThat(i.cluster().awaitSafe(size, Duration.ofSeconds(30))).isTrue();
            awaitMembers(i, size);
        }
    }

    /** Waits (on the cluster's change events) until {@code i} routes over {@code n} members. */
    static void awaitMembers(Instance i, int n) throws Exception {
        Semaphore changed = new Semaphore(0);
        try (AutoCloseable listening = i.cluster().onCachePeersChange(changed::release)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (i.peers().members().size() != n) {
                assertThat(System.nanoTime()).as("%s sees %s members: %s", i.url(), n, i.peers().members())
                        .isLessThan(deadline);
                changed.tryAcquire(100, TimeUnit.MILLISECONDS);
            }
        }
    }

    @AfterAll
    static void stop() {
        for (Instance i : alone) {
            i.close();
        }
        for (Instance i : withGrid) {
            i.close();
        }
        origin.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static int origin(String path) {
        AtomicInteger n = originCounts.get(path);
        return n == null ? 0 : n.get();
    }

    static Instance byUrl(List<Instance> group, String url) {
        return group.stream().filter(i -> i.url().equals(url)).findFirst().orElseThrow();
    }

    static RawHttp.Reply storedOn(Instance where, Instance via, String path) throws Exception {
        Semaphore stored = new Semaphore(0);
        where.cache().onStored(stored::release);
        RawHttp.Reply r = via.get(path);
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("stored on " + where.url()).isTrue();
        return r;
    }

    @Test
    @Order(1)
    void theMembersPublishTheirListenersAndAgreeOnTheHomes() {
        List<String> members = alone.get(0).peers().members();
        assertThat(members).containsExactlyInAnyOrderElementsOf(alone.stream().map(Instance::url).toList());
        for (Instance i : alone) {
            assertThat(i.peers().members()).isEqualTo(members);
            assertThat(i.cluster().cachePeers()).isEqualTo(members);
        }
    }

    @Test
    @Order(2)
    void carpAloneFetchesAndStoresEachObjectOnce() throws Exception {
        int objects = 9;
        for (int k = 0; k < objects; k++) {
            String path = "/alone/" + k;
            Instance home = byUrl(alone, alone.get(0).peers().homeOf(origin.url(path)).orElseThrow());
            storedOn(home, alone.get(k % 3), path);
            for (Instance i : alone) {
                RawHttp.Reply r = i.get(path);
                assertThat(r.bodyText()).isEqualTo("body of " + path);
                assertThat(r.headers().get("cache-status")).contains("hit");
            }
            assertThat(origin(path)).as("origin requests for %s across 3 instances", path).isEqualTo(1);
        }
        assertThat(alone.stream().mapToLong(Instance::entries).sum()).as("one stored copy per object").isEqualTo(objects);
        assertThat(alone.stream().mapToLong(i -> i.peers().stats().peerFallbacks()).sum()).isZero();
    }

    @Test
    @Order(3)
    void carpWithTheGridTierStoresOnTheHomeAndTheOthersHitTheGrid() throws Exception {
        Instance a = withGrid.get(0);
        Instance b = withGrid.get(1);
        String path = null;
        for (int k = 0; path == null; k++) {
            if (a.peers().homeOf(origin.url("/grid/" + k)).orElseThrow().equals(b.url())) {
                path = "/grid/" + k;
            }
        }
        RawHttp.Reply first = storedOn(b, a, path); // a's miss goes to b, its home, which stores it in the grid
        assertThat(first.bodyText()).isEqualTo("body of " + path);
        assertThat(a.peers().stats().peerFetches()).isEqualTo(1);
        RawHttp.Reply again = a.get(path);
        assertThat(again.headers().get("cache-status")).contains("hit").doesNotContain("detail=peer");
        assertThat(a.peers().stats().peerFetches()).as("the second request is a grid hit on a").isEqualTo(1);
        assertThat(a.cache().sharedTier().orElseThrow().gridHits()).isGreaterThanOrEqualTo(1);
        assertThat(origin(path)).isEqualTo(1);
    }

    @Test
    @Order(4)
    void aMemberThatLeavesHandsOnlyItsOwnKeysToTheOthers() throws Exception {
        Map<String, String> before = new HashMap<>();
        for (int k = 0; k < 300; k++) {
            before.put(origin.url("/moves/" + k), alone.get(0).peers().homeOf(origin.url("/moves/" + k)).orElseThrow());
        }
        Map<String, String> aloneHomes = new HashMap<>();
        for (int k = 0; k < 9; k++) {
            aloneHomes.put("/alone/" + k, alone.get(0).peers().homeOf(origin.url("/alone/" + k)).orElseThrow());
        }
        Instance gone = alone.remove(2);
        String goneUrl = gone.url();
        gone.close();
        for (Instance i : alone) {
            awaitMembers(i, 2);
        }
        int moved = 0;
        for (Map.Entry<String, String> e : before.entrySet()) {
            String now = alone.get(0).peers().homeOf(e.getKey()).orElseThrow();
            if (e.getValue().equals(goneUrl)) {
                moved++;
                assertThat(now).isNotEqualTo(goneUrl);
            } else {
                assertThat(now).as("home of %s", e.getKey()).isEqualTo(e.getValue());
            }
        }
        assertThat(moved).as("keys that moved: the leaver's, about a third").isBetween(60, 140);
        // an object stored before on a home that stays is still a hit there, for both instances left
        String kept = null;
        for (int k = 0; kept == null; k++) {
            String p = "/alone/" + k;
            if (!aloneHomes.get(p).equals(goneUrl)) {
                kept = p;
            }
        }
        for (Instance i : alone) {
            assertThat(i.get(kept).headers().get("cache-status")).contains("hit");
        }
        assertThat(origin(kept)).isEqualTo(1);
        long fallbacks = alone.stream().mapToLong(i -> i.peers().stats().peerFallbacks()).sum();
        assertThat(fallbacks).as("no miss went to the member that left, once it was gone").isZero();
    }
}
