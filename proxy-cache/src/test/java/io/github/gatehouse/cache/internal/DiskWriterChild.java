package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.core.HttpHeaders;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Random;

/**
 * The JVM that {@code DiskStoreCrashTest} kills: writes entries into a disk store, one after another (and rewrites the
 * head of an earlier one now and then), printing {@code WRITING i} once part of entry {@code i} was handed to the
 * store and {@code COMMITTED i} once entry {@code i} is committed. Bounded: at
 * most {@link #MAX_ENTRIES} entries.
 */
public final class DiskWriterChild {
    static final int MAX_ENTRIES = 5_000;
    static final String SHA_HEADER = "X-Body-Sha256";

    private DiskWriterChild() {
    }

    static String key(int i) {
        return "http://mirror.test:80/item/" + i + CacheEngine.VARIANT_SEPARATOR;
    }

    /** Entry {@code i}'s body: 16 KiB to 528 KiB of seeded random bytes. */
    static byte[] body(int i) {
        byte[] b = new byte[16 * 1024 + (i * 7919) % (512 * 1024)];
        new Random(i).nextBytes(b);
        return b;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    public static void main(String[] args) throws Exception {
        DiskStore store = DiskStore.open(Path.of(args[0]), 1L << 40, 1L << 26);
        Instant now = Instant.ofEpochSecond(Instant.now().getEpochSecond());
        for (int i = 0; i < MAX_ENTRIES; i++) {
            byte[] body = body(i);
            HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(now)).add("Cache-Control", "max-age=86400")
                    .add("Content-Length", Integer.toString(body.length)).add(SHA_HEADER, sha256(body));
            CacheStore.Writer w = store.begin(key(i), new EntryHead(200, h, now, now, false));
            for (int at = 0; at < body.length; at += 16 * 1024) {
                if (!w.write(ByteBuffer.wrap(body, at, Math.min(16 * 1024, body.length - at)).slice().asReadOnlyBuffer())) {
                    throw new IllegalStateException("the store gave up on entry " + i);
                }
                if (at == 16 * 1024) {
                    System.out.println("WRITING " + i); // some of entry i is on its way to its temp file
                    System.out.flush();
                }
            }
            w.commit().toCompletableFuture().join();
            if (i % 5 == 4) {
                int old = i / 2;
                store.updateHead(key(old), new EntryHead(200, store.get(key(old)).orElseThrow().head().headers()
                        .set("X-Updated", Integer.toString(i)), now, now, false));
            }
            System.out.println("COMMITTED " + i);
            System.out.flush();
        }
        store.close();
    }
}
