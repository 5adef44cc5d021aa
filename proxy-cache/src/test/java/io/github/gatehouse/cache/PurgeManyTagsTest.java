package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.CacheEngine;
import io.github.gatehouse.cache.internal.ChunkedBody;
import io.github.gatehouse.cache.internal.HttpDates;
import io.github.gatehouse.cache.internal.MemoryStore;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.testing.MockResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Purge by tag over 100,000 tagged entries: the right entries go, the others stay, through the wire too. The time
 * is logged (and reported), not asserted.
 */
class PurgeManyTagsTest {
    private static final Logger LOG = LoggerFactory.getLogger(PurgeManyTagsTest.class);
    private static final int ENTRIES = 100_000;
    private static final int GROUPS = 100;

    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        if (t != null) {
            t.close();
        }
    }

    @Test
    void purgeByTagOverAHundredThousandEntries() throws Exception {
        MemoryStore store = new MemoryStore(DataSize.gibibytes(4).toBytes(), DataSize.mebibytes(1).toBytes());
        Instant now = Instant.ofEpochSecond(Instant.now().getEpochSecond());
        for (int i = 0; i < ENTRIES; i++) {
            HttpHeaders h = new HttpHeaders()
                    .add("Date", HttpDates.format(now))
                    .add("Cache-Control", "max-age=3600")
                    .add("Surrogate-Key", "all group-" + (i % GROUPS) + " item-" + i);
            byte[] body = ("item " + i).getBytes(StandardCharsets.US_ASCII);
            store.put("http://mirror.test:80/item/" + i + CacheEngine.VARIANT_SEPARATOR,
                    new EntryHead(200, h, now, now, false), ChunkedBody.of(List.of(ByteBuffer.wrap(body))));
        }
        assertThat(store.entryCount()).isEqualTo(ENTRIES);
        t = CacheProxy.with(b -> b.store(store));
        t.origin.serve("/w/7", MockResponse.ok().body("w7").header("Cache-Control", "max-age=3600").header("Surrogate-Key", "group-7 wire"));
        t.origin.serve("/w/8", MockResponse.ok().body("w8").header("Cache-Control", "max-age=3600").header("Surrogate-Key", "group-8 wire"));
        t.get("/w/7");
        t.get("/w/8");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        long start = System.nanoTime();
        long oneGroup = t.cache.purgeTag("group-7", PurgeMode.HARD);
        long groupNanos = System.nanoTime() - start;
        assertThat(oneGroup).isEqualTo(ENTRIES / GROUPS + 1);
        assertThat(t.cache.stats().entries()).isEqualTo(ENTRIES + 2 - oneGroup);

        t.origin.serve("/w/7", MockResponse.ok().body("w7").header("Cache-Control", "max-age=3600").header("Surrogate-Key", "wire"));
        t.get("/w/7");
        assertThat(t.loggedCacheStatus()).as("purged by its tag").isEqualTo("MISS");
        assertThat(t.cache.purgeTag("group-7", PurgeMode.HARD)).as("the new /w/7 no longer lists group-7").isZero();
        t.get("/w/7");
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");
        t.get("/w/8");
        assertThat(t.loggedCacheStatus()).as("another tag").isEqualTo("HIT");
        assertThat(store.get("http://mirror.test:80/item/7" + CacheEngine.VARIANT_SEPARATOR)).isEmpty();
        assertThat(store.get("http://mirror.test:80/item/107" + CacheEngine.VARIANT_SEPARATOR)).isEmpty();
        assertThat(store.get("http://mirror.test:80/item/8" + CacheEngine.VARIANT_SEPARATOR)).isPresent();

        start = System.nanoTime();
        long soft = t.cache.purgeTag("item-8", PurgeMode.SOFT);
        long oneItemNanos = System.nanoTime() - start;
        assertThat(soft).isEqualTo(1);
        assertThat(store.get("http://mirror.test:80/item/8" + CacheEngine.VARIANT_SEPARATOR).orElseThrow().head()
                .invalidated()).isTrue();

        start = System.nanoTime();
        long all = t.cache.purgeTag("all", PurgeMode.HARD);
        long allNanos = System.nanoTime() - start;
        assertThat(all).isEqualTo(ENTRIES - ENTRIES / GROUPS);
        assertThat(t.cache.stats().entries()).isEqualTo(2); // /w/7 stored again, /w/8
        assertThat(t.cache.purgeTag("wire", PurgeMode.HARD)).isEqualTo(2);
        assertThat(t.cache.purgeTag("nothing-has-this", PurgeMode.HARD)).isZero();

        String report = String.format("purge by tag over %,d entries: group-7 (%,d entries) %.1f ms, item-8 soft (1) %.1f ms,"
                + " all (%,d) %.1f ms", ENTRIES + 2, oneGroup, groupNanos / 1e6, oneItemNanos / 1e6, all, allNanos / 1e6);
        LOG.info(report);
        System.out.println(report);
    }
}
