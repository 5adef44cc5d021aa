package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of the disk store: a JVM writing entries is killed with SIGKILL ({@code kill -9}) in the middle of its
 * work; the store reopened on the same directory serves only complete entries (each body matches its SHA-256), keeps
 * every entry whose commit had completed, and counts its size from the files that are really there.
 */
class DiskStoreCrashTest {
    private static final int KILL_AFTER = 60;

    @TempDir
    Path dir;

    @Test
    void aStoreKilledWhileWritingReopensWithOnlyCompleteEntries() throws Exception {
        int lastCommitted = writeUntilKilled();
        long tmpLeft;
        try (Stream<Path> s = Files.list(dir.resolve("tmp"))) {
            tmpLeft = s.count();
        }

        DiskStore store = DiskStore.open(dir, 1L << 40, 1L << 26);
        try {
            try (Stream<Path> s = Files.list(dir.resolve("tmp"))) {
                assertThat(s.count()).as("temp files deleted at open").isZero();
            }
            long filesBytes;
            long files;
            try (Stream<Path> s = Files.list(dir.resolve("entries"))) {
                List<Path> all = s.toList();
                files = all.size();
                filesBytes = 0;
                for (Path p : all) {
                    filesBytes += Files.size(p);
                }
            }
            assertThat(store.entryCount()).isEqualTo(files);
            assertThat(store.sizeBytes()).as("size accounting recovered from the files").isEqualTo(filesBytes);
            for (int i = 0; i <= lastCommitted; i++) {
                assertThat(store.get(DiskWriterChild.key(i))).as("entry %s was committed before the kill", i).isPresent();
            }
            int checked = 0;
            for (String key : store.keys()) {
                StoredEntry e = store.get(key).orElseThrow();
                int i = Integer.parseInt(key.substring(key.lastIndexOf('/') + 1, key.length() - 1));
                byte[] body = read(e);
                assertThat(body).as("entry %s", i).hasSize(DiskWriterChild.body(i).length);
                assertThat(DiskWriterChild.sha256(body)).as("entry %s", i).isEqualTo(e.head().header(DiskWriterChild.SHA_HEADER))
                        .isEqualTo(DiskWriterChild.sha256(DiskWriterChild.body(i)));
                checked++;
            }
            System.out.printf("disk store killed after commit %d: %d temp files left, reopened with %d complete entries"
                    + " (%,d bytes)%n", lastCommitted, tmpLeft, checked, filesBytes);
        } finally {
            store.close();
        }

        // and served through a proxy, whole: every stored entry is a hit whose body matches its SHA-256
        try (CacheProxy t = CacheProxy.with(b -> b.disk(dir, DataSize.gibibytes(1024)).maxObjectSize(DataSize.mebibytes(64)))) {
            for (int i = 0; i <= lastCommitted; i += 7) {
                RawHttp.Reply r = RawHttp.exchange(t.proxy.port(), "GET http://mirror.test/item/" + i
                        + " HTTP/1.1\r\nHost: mirror.test\r\nConnection: close\r\n\r\n");
                assertThat(r.headers().get("cache-status")).as("item %s", i).startsWith("gatehouse; hit");
                assertThat(DiskWriterChild.sha256(r.body())).as("item %s", i)
                        .isEqualTo(DiskWriterChild.sha256(DiskWriterChild.body(i)));
                t.log.take();
            }
        }
    }

    /**
     * Runs {@link DiskWriterChild} until it has reported commit {@link #KILL_AFTER} and is writing the next entry, then
     * kills it with SIGKILL; returns the last commit it reported.
     */
    private int writeUntilKilled() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                DiskWriterChild.class.getName(), dir.toString()).redirectErrorStream(true).start();
        int last = -1;
        StringBuilder seen = new StringBuilder();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("COMMITTED ")) {
                    last = Integer.parseInt(line.substring("COMMITTED ".length()).trim());
                } else if (line.startsWith("WRITING ")) {
                    if (last >= KILL_AFTER) {
                        p.destroyForcibly(); // SIGKILL in the middle of an entry: no shutdown hooks, no flushing
                        break;
                    }
                } else {
                    seen.append(line).append('\n');
                }
            }
        } finally {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        assertThat(last).as("the writer reached commit %s before the kill; it said:%n%s", KILL_AFTER, seen)
                .isGreaterThanOrEqualTo(KILL_AFTER);
        assertThat(p.exitValue()).as("killed by SIGKILL").isEqualTo(137);
        return last;
    }

    private static byte[] read(StoredEntry e) throws Exception {
        CompletableFuture<byte[]> done = new CompletableFuture<>();
        e.body(0, e.bodyLength()).subscribe(new Flow.Subscriber<>() {
            private final List<ByteBuffer> parts = new ArrayList<>();
            private Flow.Subscription s;

            @Override
            public void onSubscribe(Flow.Subscription s) {
                this.s = s;
                s.request(1);
            }

            @Override
            public void onNext(ByteBuffer item) {
                ByteBuffer copy = ByteBuffer.allocate(item.remaining());
                copy.put(item.duplicate()).flip();
                parts.add(copy);
                s.request(1);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                int n = parts.stream().mapToInt(ByteBuffer::remaining).sum();
                ByteBuffer all = ByteBuffer.allocate(n);
                parts.forEach(all::put);
                done.complete(all.array());
            }
        });
        return done.get(10, TimeUnit.SECONDS);
    }
}
