package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.GridStore;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.internal.ClusterAccess;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An instance killed while it fills a key leaves its fill lease in the grid until the lease's time to live (the
 * collapse timeout) ends. The cluster soak found every instance waiting on such leases for the whole timeout after a
 * {@code kill -9} (no request served for about 25 s); an instance that asks for a key whose lease is held by a member
 * that left takes the lease over at once and goes upstream. And the soak's other finding: grid operations must not
 * start a thread each.
 */
class FillLeaseOfAKilledInstanceTest {
    private static final Duration COLLAPSE_TIMEOUT = Duration.ofSeconds(60); // far beyond the test's waits

    private final MutableClock clock = MutableClock.atWholeSecond();
    private final ExecutorService clients = Executors.newFixedThreadPool(2, r -> new Thread(r, "client"));
    private final List<AutoCloseable> open = new ArrayList<>();
    private MockOrigin origin;

    record Instance(Cluster cluster, SharedCache cache, ProxyServer proxy) {
    }

    private Instance start(String name, int port, int other) {
        ClusterConfig.Builder config = ClusterConfig.builder().name(name).bind("127.0.0.1", port)
                .operationTimeout(Duration.ofSeconds(2));
        if (other > 0) {
            config.member("127.0.0.1:" + other);
        }
        Cluster cluster = Cluster.join(config.build());
        open.add(cluster::kill);
        SharedCache cache = HttpCaches.builder().clock(clock).memory(DataSize.mebibytes(4)).cluster(cluster)
                .collapseTimeout(COLLAPSE_TIMEOUT).build();
        open.add(cache);
        ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache)
                .upstreamTimeout(Duration.ofSeconds(20)).build().start();
        open.add(proxy);
        return new Instance(cluster, cache, proxy);
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        if (origin != null) {
            origin.close();
        }
        clients.shutdownNow();
    }

    @Test
    void aMissOnAKeyWhoseFillerWasKilledGoesUpstreamAtOnceRatherThanWaitingOutTheLease() throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        CompletableFuture<Void> gate = new CompletableFuture<>();
        origin.serve("/held", MockResponse.ok().body("filled").header("Cache-Control", "max-age=100").holdUntil(gate));
        int portA = freePort();
        int portB = freePort();
        Instance a = start("lease-" + portA, portA, 0);
        Instance b = start("lease-" + portA, portB, portA);
        assertThat(b.cluster().awaitSafe(2, Duration.ofSeconds(30))).as("cluster of two").isTrue();

        CompletableFuture.supplyAsync(() -> get(a, "/held"), clients); // a takes the lease and goes upstream
        assertThat(origin.takeRequest().path()).isEqualTo("/held");
        CountDownLatch aLeft = new CountDownLatch(1);
        ClusterAccess.hazelcast(b.cluster()).getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
            @Override
            public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
            }

            @Override
            public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
                aLeft.countDown();
            }
        });
        a.cluster().kill(); // as kill -9 would: the lease stays in the grid (its backup on b), nobody releases it
        assertThat(aLeft.await(30, TimeUnit.SECONDS)).as("b sees a leave").isTrue();

        CompletableFuture<RawHttp.Reply> fromB = CompletableFuture.supplyAsync(() -> get(b, "/held"), clients);
        assertThat(origin.takeRequest().path()).as("b goes upstream without waiting out a's lease (%s)", COLLAPSE_TIMEOUT)
                .isEqualTo("/held");
        gate.complete(null);
        RawHttp.Reply reply = fromB.get(10, TimeUnit.SECONDS);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.bodyText()).isEqualTo("filled");
    }

    /**
     * Hazelcast runs what is chained on its futures on its default executor: where the common pool has a parallelism
     * of 1 (two cores, as on the machine the soak ran on), a new thread per completion: about 200 a second in each of
     * the soak's launchers. {@code Cluster.join} replaces that executor with a reused pool. (On a machine with more
     * cores the common pool hides the difference, and this test passes either way.)
     */
    @Test
    void gridOperationsDoNotStartAThreadEach() throws Exception {
        int port = freePort();
        Instance a = start("threads-" + port, port, 0);
        GridStore grid = (GridStore) a.cache().store();
        grid.load("http://warm.test/").toCompletableFuture().get(5, TimeUnit.SECONDS);
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getTotalStartedThreadCount();
        int reads = 300;
        for (int i = 0; i < reads; i++) {
            assertThat(grid.load("http://threads.test/" + i).toCompletableFuture().get(5, TimeUnit.SECONDS)).isEmpty();
        }
        assertThat(threads.getTotalStartedThreadCount() - before).as("threads started for %d grid reads "
                + "(common pool parallelism %d)", reads, java.util.concurrent.ForkJoinPool.getCommonPoolParallelism())
                .isLessThan(reads / 10);
    }

    private RawHttp.Reply get(Instance i, String path) {
        try {
            return RawHttp.exchange(i.proxy().port(), "GET " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + origin.port() + "\r\nConnection: close\r\n\r\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
