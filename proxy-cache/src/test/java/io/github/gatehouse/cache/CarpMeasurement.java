package io.github.gatehouse.cache;

import io.github.gatehouse.core.CachePeers;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The A/B of issue 17, small and on one shared machine (loopback, counts more than times), run by hand:
 * {@code mvn -pl proxy-cache -am test -Dtest=CarpMeasurement -Dgatehouse.measure=true -Dsurefire.failIfNoSpecifiedTests=false}.
 * Three instances, four layouts (neither, the grid tier, CARP alone, CARP with the grid tier): origin requests per
 * object when each object is asked for on every instance, and the median time of one whole exchange (keep-alive
 * client, through the proxy) for a local hit, a grid hit and a peer fetch.
 */
@EnabledIfSystemProperty(named = "gatehouse.measure", matches = "true")
class CarpMeasurement {
    private static final Logger LOG = LoggerFactory.getLogger(CarpMeasurement.class);
    static final int OBJECTS = 60;
    static final int SAMPLES = 200;

    enum Layout { NEITHER, GRID, CARP, CARP_AND_GRID }

    record Instance(Cluster cluster, SharedCache cache, CachePeers peers, ProxyServer proxy, HttpClient client) {
        String get(String url) throws Exception {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new AssertionError(url + " -> " + r.statusCode());
            }
            return r.headers().firstValue("cache-status").orElse("");
        }

        void close() {
            proxy.close();
            cache.close();
            if (cluster != null) {
                cluster.kill();
            }
        }
    }

    @Test
    void measure() throws Exception {
        MockOrigin origin = MockOrigin.named("measure").start();
        Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
        byte[] kib = new byte[1024];
        byte[] big = new byte[100 * 1024];
        Arrays.fill(kib, (byte) 'a');
        Arrays.fill(big, (byte) 'b');
        origin.dispatcher(r -> {
            counts.computeIfAbsent(r.path(), p -> new AtomicInteger()).incrementAndGet();
            return MockResponse.ok().body(r.path().contains("/big/") ? big : kib).header("Cache-Control", "max-age=600");
        });
        List<String> report = new ArrayList<>();
        try {
            // two rounds, the second in the reverse order: the first layouts also warm the JVM up for the later ones
            List<Layout> order = new ArrayList<>(List.of(Layout.values()));
            for (int round = 1; round <= 2; round++) {
                report.add("round " + round);
                for (Layout layout : order) {
                    List<Instance> group = start(layout);
                    try {
                        report.addAll(run(layout, group, origin, counts, "r" + round));
                    } finally {
                        group.forEach(Instance::close);
                    }
                }
                java.util.Collections.reverse(order);
            }
        } finally {
            origin.close();
        }
        report.forEach(line -> LOG.info("MEASURED {}", line));
        java.nio.file.Files.write(java.nio.file.Path.of("target", "carp-measurement.txt"), report);
    }

    static List<Instance> start(Layout layout) throws Exception {
        boolean clustered = layout != Layout.NEITHER;
        int first = freePort();
        List<Instance> group = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Cluster cluster = null;
            if (clustered) {
                ClusterConfig.Builder c = ClusterConfig.builder().name("measure-" + first)
                        .bind("127.0.0.1", i == 0 ? first : freePort());
                if (i > 0) {
                    c.member("127.0.0.1:" + first);
                }
                cluster = Cluster.join(c.build());
            }
            HttpCaches.Builder cache = HttpCaches.builder().memory(DataSize.mebibytes(64));
            if (layout == Layout.GRID || layout == Layout.CARP_AND_GRID) {
                cache.cluster(cluster);
            }
            SharedCache built = cache.build();
            CachePeers peers = layout == Layout.CARP || layout == Layout.CARP_AND_GRID
                    ? CachePeers.builder().cluster(cluster).build() : null;
            ProxyServer.Builder b = ProxyServer.builder().forward().allowAllInternalDestinations().cache(built);
            if (peers != null) {
                b.cachePeers(peers);
            }
            ProxyServer proxy = b.build().start();
            HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1",
                    proxy.port()))).version(HttpClient.Version.HTTP_1_1).build();
            group.add(new Instance(cluster, built, peers, proxy, client));
        }
        if (clustered) {
            for (Instance i : group) {
                i.cluster().awaitSafe(3, Duration.ofSeconds(30));
            }
        }
        if (layout == Layout.CARP || layout == Layout.CARP_AND_GRID) {
            for (Instance i : group) {
                Semaphore changed = new Semaphore(0);
                try (AutoCloseable l = i.cluster().onCachePeersChange(changed::release)) {
                    while (i.peers().members().size() < 3) {
                        changed.tryAcquire(100, TimeUnit.MILLISECONDS);
                    }
                }
            }
        }
        return group;
    }

    static List<String> run(Layout layout, List<Instance> group, MockOrigin origin, Map<String, AtomicInteger> counts,
            String round) throws Exception {
        String tag = "/" + round + "/" + layout.name().toLowerCase() + "/";
        // warm-up (JIT): objects of their own, each on every instance a few times
        for (int k = 0; k < 100; k++) {
            for (Instance i : group) {
                i.get(origin.url(tag + "warm/" + (k % 20)));
            }
        }
        // origin requests per object: each object asked for once on each instance, in turn, no waiting
        int before = total(counts, tag + "obj/");
        for (int k = 0; k < OBJECTS; k++) {
            for (Instance i : group) {
                i.get(origin.url(tag + "obj/" + k));
            }
        }
        double perObject = (total(counts, tag + "obj/") - before) / (double) OBJECTS;
        List<String> out = new ArrayList<>();
        out.add(String.format("%s: origin requests per object, asked on 3 instances: %.2f (%d objects)", layout,
                perObject, OBJECTS));
        for (String size : List.of("1k", "big")) {
            String sizeName = size.equals("1k") ? "1 KiB" : "100 KiB";
            String base = tag + (size.equals("1k") ? "" : "big/");
            // local hit: stored here (the home, or the instance that fetched it), asked again here
            long[] local = new long[SAMPLES];
            // second instance: for the grid, the first read on another instance (a grid read); for CARP, a request on
            // an instance that is not the home (a peer fetch, every time)
            long[] second = new long[SAMPLES];
            for (int s = 0; s < SAMPLES; s++) {
                String url = origin.url(base + "lat/" + s);
                Instance owner = group.get(0);
                Instance other = group.get(1);
                if (group.get(0).peers() != null) {
                    String home = group.get(0).peers().homeOf(url).orElseThrow();
                    owner = group.stream().filter(i -> home.equals(i.peers().self().orElse(""))).findFirst().orElseThrow();
                    Instance o = owner;
                    other = group.stream().filter(i -> i != o).findFirst().orElseThrow();
                }
                Semaphore stored = new Semaphore(0);
                owner.cache().onStored(stored::release);
                owner.get(url);
                stored.tryAcquire(5, TimeUnit.SECONDS);
                long t0 = System.nanoTime();
                owner.get(url);
                local[s] = System.nanoTime() - t0;
                t0 = System.nanoTime();
                other.get(url);
                second[s] = System.nanoTime() - t0;
            }
            String what = switch (layout) {
                case NEITHER -> "a miss on the second instance (origin)";
                case GRID -> "a grid hit on the second instance";
                case CARP -> "a peer fetch on a non-home instance";
                case CARP_AND_GRID -> "a grid hit on a non-home instance";
            };
            out.add(String.format("%s %s: local hit median %.2f ms (p90 %.2f); %s median %.2f ms (p90 %.2f)", layout,
                    sizeName, ms(local, 50), ms(local, 90), what, ms(second, 50), ms(second, 90)));
        }
        long peerFetches = group.stream().mapToLong(i -> i.peers() == null ? 0 : i.peers().stats().peerFetches()).sum();
        long stored = group.stream().mapToLong(i -> i.cache().counters().orElseThrow().entries()).sum();
        out.add(String.format("%s: entries held by the 3 near/local tiers %d, peer fetches %d", layout, stored, peerFetches));
        return out;
    }

    static int total(Map<String, AtomicInteger> counts, String prefix) {
        return counts.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToInt(e -> e.getValue().get()).sum();
    }

    static double ms(long[] nanos, int percentile) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, sorted.length * percentile / 100)] / 1e6;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
