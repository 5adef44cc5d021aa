package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.HttpHeaders;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Memory and disk stores: byte bounds, streaming reads, crash safety. */
class StoresTest {
    @TempDir
    Path dir;

    private static EntryHead head() {
        return new EntryHead(200, new HttpHeaders().add("Content-Type", "text/plain"), Instant.EPOCH, Instant.EPOCH, false);
    }

    private static void put(CacheStore store, String key, String body) throws Exception {
        CacheStore.Writer w = store.begin(key, head());
        for (int i = 0; i < body.length(); i += 7) {
            w.write(ByteBuffer.wrap(body.substring(i, Math.min(body.length(), i + 7)).getBytes(StandardCharsets.UTF_8)).asReadOnlyBuffer());
        }
        w.commit().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    static String read(StoredEntry e, long offset, long length) throws Exception {
        CompletableFuture<String> result = new CompletableFuture<>();
        e.body(offset, length).subscribe(new Flow.Subscriber<>() {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            Flow.Subscription s;

            @Override
            public void onSubscribe(Flow.Subscription s) {
                this.s = s;
                s.request(1);
            }

            @Override
            public void onNext(ByteBuffer item) {
                byte[] b = new byte[item.remaining()];
                item.get(b);
                out.write(b, 0, b.length);
                s.request(1);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                result.complete(out.toString(StandardCharsets.UTF_8));
            }
        });
        return result.get(5, TimeUnit.SECONDS);
    }

    @Test
    void memoryStoreStaysWithinItsCapacityInBytes() throws Exception {
        MemoryStore store = new MemoryStore(10_000, 5_000);
        for (int i = 0; i < 20; i++) {
            put(store, "k" + i, "x".repeat(1_000));
        }
        assertThat(store.sizeBytes()).isLessThanOrEqualTo(10_000);
        assertThat(store.entryCount()).isBetween(5L, 9L);
        put(store, "huge", "x".repeat(6_000));
        assertThat(store.get("huge")).isEmpty();
    }

    @Test
    void memoryStoreKeepsPopularEntriesThroughAScan() throws Exception {
        MemoryStore store = new MemoryStore(100_000, 5_000);
        for (int i = 0; i < 60; i++) { // a steady state: the store is well past half full
            put(store, "cold" + i, "c".repeat(1_000));
        }
        for (int round = 0; round < 10; round++) {
            for (int i = 0; i < 20; i++) {
                if (store.get("hot" + i).isEmpty()) {
                    put(store, "hot" + i, "h".repeat(1_000));
                }
            }
        }
        for (int i = 0; i < 500; i++) {
            put(store, "scan" + i, "s".repeat(1_000));
        }
        long kept = java.util.stream.IntStream.range(0, 20).filter(i -> store.get("hot" + i).isPresent()).count();
        assertThat(kept).as("popular entries kept through a scan 5x the capacity").isGreaterThanOrEqualTo(18);
        assertThat(store.sizeBytes()).isLessThanOrEqualTo(100_000);
    }

    @Test
    void memoryStoreServesRanges() throws Exception {
        MemoryStore store = new MemoryStore(10_000, 5_000);
        put(store, "k", "0123456789abcdefghij");
        StoredEntry e = store.get("k").orElseThrow();
        assertThat(read(e, 0, 20)).isEqualTo("0123456789abcdefghij");
        assertThat(read(e, 5, 9)).isEqualTo("56789abcd");
        assertThat(read(e, 20, 0)).isEmpty();
    }

    @Test
    void diskStoreReopensWithItsEntriesAndServesRanges() throws Exception {
        DiskStore store = DiskStore.open(dir, 1_000_000, 1_000_000);
        put(store, "http://a:80/x\u0001", "0123456789abcdefghij");
        store.close();
        DiskStore reopened = DiskStore.open(dir, 1_000_000, 1_000_000);
        StoredEntry e = reopened.get("http://a:80/x\u0001").orElseThrow();
        assertThat(e.head().header("Content-Type")).isEqualTo("text/plain");
        assertThat(read(e, 0, 20)).isEqualTo("0123456789abcdefghij");
        assertThat(read(e, 3, 4)).isEqualTo("3456");
        reopened.close();
    }

    @Test
    void diskStoreDeletesTruncatedEntriesAndTempFilesWhenOpened() throws Exception {
        DiskStore store = DiskStore.open(dir, 1_000_000, 1_000_000);
        put(store, "k", "some body");
        store.close();
        Path entry;
        try (Stream<Path> s = Files.list(dir.resolve("entries"))) {
            entry = s.findFirst().orElseThrow();
        }
        try (FileChannel ch = FileChannel.open(entry, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3); // a torn write: trailer incomplete
        }
        Files.writeString(dir.resolve("tmp").resolve("1234.tmp"), "half");
        DiskStore reopened = DiskStore.open(dir, 1_000_000, 1_000_000);
        assertThat(reopened.entryCount()).isZero();
        assertThat(Files.exists(entry)).isFalse();
        assertThat(Files.list(dir.resolve("tmp")).count()).isZero();
        reopened.close();
    }

    @Test
    void diskStoreEvictsLeastRecentlyUsedToStayWithinCapacity() throws Exception {
        DiskStore store = DiskStore.open(dir, 5_000, 5_000);
        for (int i = 0; i < 10; i++) {
            put(store, "k" + i, "y".repeat(1_000));
            store.get("k0"); // keep k0 recently used
        }
        assertThat(store.sizeBytes()).isLessThanOrEqualTo(5_000);
        assertThat(store.get("k0")).isPresent();
        assertThat(store.get("k1")).isEmpty();
        assertThat(store.get("k9")).isPresent();
        store.close();
    }

    @Test
    void diskWriterGivesUpOnObjectsOverTheLimit() throws Exception {
        DiskStore store = DiskStore.open(dir, 1_000_000, 10);
        CacheStore.Writer w = store.begin("k", head());
        assertThat(w.write(ByteBuffer.wrap(new byte[8]))).isTrue();
        assertThat(w.write(ByteBuffer.wrap(new byte[8]))).isFalse();
        store.close();
        assertThat(Files.list(dir.resolve("tmp")).count()).isZero();
    }
}
