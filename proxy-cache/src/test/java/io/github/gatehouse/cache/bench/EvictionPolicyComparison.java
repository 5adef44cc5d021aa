package io.github.gatehouse.cache.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.gatehouse.cache.internal.MemoryStore;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures object and byte hit ratios of the memory store's eviction (Guava, weighted LRU, one segment) against
 * Caffeine (weighted W-TinyLFU) on a synthetic proxy trace: Zipf(0.9) popularity over 20 000 objects with sizes from
 * 1 KiB to 1 MiB, mixed with 30% one-hit wonders (scans), capacity 5% of the working set's bytes. A measurement, not a
 * timed test; run it with {@code -Dtest=EvictionPolicyComparison -Dgatehouse.bench=true}.
 */
@EnabledIfSystemProperty(named = "gatehouse.bench", matches = "true")
class EvictionPolicyComparison {
    private static final Logger LOG = LoggerFactory.getLogger(EvictionPolicyComparison.class);
    private static final int OBJECTS = 20_000;
    private static final int REQUESTS = 400_000;

    record Result(double objectHitRatio, double byteHitRatio) {
    }

    @Test
    void guavaLruAgainstCaffeineTinyLfu() {
        int[] sizes = new int[OBJECTS];
        Random random = new Random(42);
        long total = 0;
        for (int i = 0; i < OBJECTS; i++) {
            sizes[i] = (int) Math.min(1 << 20, 1024 * Math.exp(random.nextGaussian() * 1.5 + 2));
            total += sizes[i];
        }
        long capacity = total / 20;
        double[] cdf = zipfCdf(OBJECTS, 0.9);

        com.google.common.cache.Cache<String, Integer> guava = com.google.common.cache.CacheBuilder.newBuilder()
                .concurrencyLevel(1).maximumWeight(capacity).weigher((String k, Integer v) -> v).build();
        Result lru = run(new Random(7), cdf, sizes, guava.asMap()::get, guava::put);

        com.github.benmanes.caffeine.cache.Cache<String, Integer> caffeine = Caffeine.newBuilder()
                .executor(Runnable::run).maximumWeight(capacity).weigher((String k, Integer v) -> v).build();
        Result tinyLfu = run(new Random(7), cdf, sizes, caffeine.asMap()::get, caffeine::put);

        LOG.warn("capacity {} bytes ({} objects, {} bytes in all): Guava LRU object hit ratio {}, byte hit ratio {}; "
                + "Caffeine W-TinyLFU object hit ratio {}, byte hit ratio {}", capacity, OBJECTS, total,
                pct(lru.objectHitRatio), pct(lru.byteHitRatio), pct(tinyLfu.objectHitRatio), pct(tinyLfu.byteHitRatio));
        assertThat(guava.asMap().values().stream().mapToLong(Integer::longValue).sum()).isLessThanOrEqualTo(capacity);
        assertThat(lru.objectHitRatio).isGreaterThan(0.05);
        // sanity: the production store behaves like the raw Guava cache it wraps
        assertThat(new MemoryStore(capacity, capacity).capacityBytes()).isEqualTo(capacity);
    }

    private static String pct(double r) {
        return String.format("%.1f%%", r * 100);
    }

    private static Result run(Random random, double[] cdf, int[] sizes, Function<String, Integer> get,
            BiConsumer<String, Integer> put) {
        long hits = 0;
        long hitBytes = 0;
        long bytes = 0;
        int wonder = 0;
        for (int i = 0; i < REQUESTS; i++) {
            String key;
            int size;
            if (random.nextDouble() < 0.3) {
                key = "once-" + wonder++;
                size = 64 * 1024;
            } else {
                int k = sample(cdf, random.nextDouble());
                key = "obj-" + k;
                size = sizes[k];
            }
            bytes += size;
            if (get.apply(key) != null) {
                hits++;
                hitBytes += size;
            } else {
                put.accept(key, size);
            }
        }
        return new Result((double) hits / REQUESTS, (double) hitBytes / bytes);
    }

    private static double[] zipfCdf(int n, double s) {
        double[] cdf = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += 1 / Math.pow(i + 1, s);
            cdf[i] = sum;
        }
        for (int i = 0; i < n; i++) {
            cdf[i] /= sum;
        }
        return cdf;
    }

    private static int sample(double[] cdf, double u) {
        int i = java.util.Arrays.binarySearch(cdf, u);
        return i >= 0 ? i : Math.min(cdf.length - 1, -i - 1);
    }

}
