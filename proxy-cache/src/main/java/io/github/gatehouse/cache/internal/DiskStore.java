package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.HttpHeaders;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link CacheStore} of files, bounded in bytes, that survives restarts.
 *
 * <p>Layout: {@code dir/entries/<hash>-<generation>.entry} holds the body, then the head as text, then the head's
 * length and a magic trailer; {@code dir/tmp/} holds entries being written. An entry is written to {@code tmp},
 * forced to disk, then atomically renamed into {@code entries}: a crash leaves at worst a temp file, which the next
 * {@link #open} deletes, and an entry file without its trailer is deleted too, so a half-written entry is never
 * served. Each version of an entry has its own file name, so readers of an old version are never disturbed by a
 * replacement.
 *
 * <p>The index (heads, sizes, LRU order) lives in memory and is rebuilt from the trailers at {@link #open}. All file
 * work runs on one named executor thread ({@code cache-disk}); hits are read through memory-mapped slices of the
 * file, so a body is never copied whole onto the heap. Writers that fall more than {@link #MAX_PENDING_BYTES}
 * behind give up rather than slow the client.
 *
 * <p><b>Trouble.</b> When the directory cannot be written (full, read-only, removed), entries are not stored and
 * responses pass through to clients as they would without a cache; the store logs one WARN line when the trouble
 * starts and one INFO line when an entry can be written again (the failures in between are logged at DEBUG).
 *
 * <p><b>Threading.</b> Thread-safe; index operations hold the store's monitor briefly and never do I/O, which runs
 * on the {@code cache-disk} thread. {@link #open} blocks (it scans the directory) and belongs at start-up.
 */
public final class DiskStore implements CacheStore {
    private static final Logger LOG = LoggerFactory.getLogger(DiskStore.class);
    private static final byte[] MAGIC = "GHCACHE1".getBytes(StandardCharsets.US_ASCII);
    private static final int TRAILER = 4 + 8;
    private static final int SLICE = 64 * 1024;
    /** Bytes a writer may have queued for the disk before it gives up on the entry. */
    public static final long MAX_PENDING_BYTES = 8L * 1024 * 1024;

    private final Path entriesDir;
    private final Path tmpDir;
    private final long capacity;
    private final java.util.concurrent.atomic.LongAdder evictions = new java.util.concurrent.atomic.LongAdder();
    private final long maxObjectBytes;
    private final ExecutorService io;
    private final LinkedHashMap<String, DiskEntry> index = new LinkedHashMap<>(256, 0.75f, true);
    private final AtomicLong generation = new AtomicLong(System.currentTimeMillis() * 1000);
    private long size;
    private final Path dir;
    /** Whether the last file write failed: the WARN line was logged and further failures go to DEBUG. */
    private final java.util.concurrent.atomic.AtomicBoolean troubled = new java.util.concurrent.atomic.AtomicBoolean();

    private DiskStore(Path dir, long capacity, long maxObjectBytes) {
        this.dir = dir;
        this.entriesDir = dir.resolve("entries");
        this.tmpDir = dir.resolve("tmp");
        this.capacity = capacity;
        this.maxObjectBytes = maxObjectBytes;
        this.io = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cache-disk");
            t.setDaemon(true);
            return t;
        });
    }

    /** Opens (creating if needed) the store in {@code dir}, deleting temp files and incomplete entries. Blocking. */
    public static DiskStore open(Path dir, long capacityBytes, long maxObjectBytes) throws IOException {
        DiskStore store = new DiskStore(dir, capacityBytes, maxObjectBytes);
        Files.createDirectories(store.entriesDir);
        Files.createDirectories(store.tmpDir);
        try (DirectoryStream<Path> tmp = Files.newDirectoryStream(store.tmpDir)) {
            for (Path p : tmp) {
                LOG.info("deleting unfinished cache entry {}", p);
                Files.deleteIfExists(p);
            }
        }
        List<DiskEntry> found = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(store.entriesDir, "*.entry")) {
            for (Path p : entries) {
                DiskEntry e = readTrailer(store, p);
                if (e == null) {
                    LOG.warn("deleting unreadable cache entry {}", p);
                    Files.deleteIfExists(p);
                } else {
                    found.add(e);
                }
            }
        }
        found.sort((a, b) -> Long.compare(a.generation, b.generation));
        synchronized (store) {
            for (DiskEntry e : found) {
                DiskEntry old = store.index.put(e.key, e);
                store.size += e.fileSize;
                if (old != null) {
                    store.size -= old.fileSize;
                    Files.deleteIfExists(old.file);
                }
            }
            store.evict();
        }
        LOG.info("disk cache {} opened: {} entries, {} bytes", dir, store.index.size(), store.size);
        return store;
    }

    private static DiskEntry readTrailer(DiskStore store, Path p) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < TRAILER) {
                return null;
            }
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER);
            ch.read(trailer, fileSize - TRAILER);
            trailer.flip();
            int metaLength = trailer.getInt();
            byte[] magic = new byte[8];
            trailer.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC) || metaLength < 0 || metaLength > fileSize - TRAILER) {
                return null;
            }
            ByteBuffer meta = ByteBuffer.allocate(metaLength);
            ch.read(meta, fileSize - TRAILER - metaLength);
            meta.flip();
            String text = StandardCharsets.UTF_8.decode(meta).toString();
            String[] lines = text.split("\n", -1);
            String key = lines[0];
            int status = Integer.parseInt(lines[1]);
            Instant requestTime = Instant.ofEpochMilli(Long.parseLong(lines[2]));
            Instant responseTime = Instant.ofEpochMilli(Long.parseLong(lines[3]));
            boolean invalidated = Boolean.parseBoolean(lines[4]);
            HttpHeaders headers = new HttpHeaders();
            for (int i = 5; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0) {
                    headers.add(lines[i].substring(0, colon), lines[i].substring(colon + 1));
                }
            }
            long bodyLength = fileSize - TRAILER - metaLength;
            String name = p.getFileName().toString();
            long gen = Long.parseLong(name.substring(name.lastIndexOf('-') + 1, name.length() - ".entry".length()), 16);
            store.generation.accumulateAndGet(gen + 1, Math::max);
            return store.new DiskEntry(key, new EntryHead(status, headers, requestTime, responseTime, invalidated),
                    p, bodyLength, fileSize, gen);
        } catch (IOException | RuntimeException e) {
            LOG.debug("cannot read cache entry {}", p, e);
            return null;
        }
    }

    private static byte[] meta(String key, EntryHead head) {
        StringBuilder sb = new StringBuilder();
        sb.append(key).append('\n').append(head.status()).append('\n').append(head.requestTime().toEpochMilli())
                .append('\n').append(head.responseTime().toEpochMilli()).append('\n').append(head.invalidated());
        for (HttpHeaders.Field f : head.headers()) {
            sb.append('\n').append(f.name()).append(':').append(f.value().replace('\n', ' ').replace('\r', ' '));
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private Path entryPath(String key, long gen) {
        byte[] digest;
        try {
            digest = java.security.MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return entriesDir.resolve(HexFormat.of().formatHex(digest, 0, 16) + "-" + Long.toHexString(gen) + ".entry");
    }

    @Override
    public synchronized Optional<StoredEntry> get(String key) {
        return Optional.ofNullable(index.get(key));
    }

    @Override
    public synchronized Collection<String> keys() {
        return List.copyOf(index.keySet());
    }

    @Override
    public Writer begin(String key, EntryHead head) {
        return new FileWriter(key, head);
    }

    @Override
    public boolean updateHead(String key, EntryHead head) {
        DiskEntry old;
        DiskEntry updated;
        synchronized (this) {
            old = index.get(key);
            if (old == null) {
                return false;
            }
            // readers see the new head at once; the body region of the old file is unchanged
            updated = new DiskEntry(key, head, old.file, old.bodyLength, old.fileSize, old.generation);
            index.put(key, updated);
        }
        long gen = generation.incrementAndGet();
        run(() -> {
            Path tmp = tmpDir.resolve(Long.toHexString(gen) + ".tmp");
            try (FileChannel in = FileChannel.open(old.file, StandardOpenOption.READ);
                    FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long copied = 0;
                while (copied < old.bodyLength) {
                    copied += in.transferTo(copied, old.bodyLength - copied, out);
                }
                finishFile(out, key, head);
            } catch (IOException e) {
                trouble("cannot update cache entry " + old.file, e);
                deleteQuietly(tmp);
                return;
            }
            install(key, head, tmp, old.bodyLength, gen, updated);
        });
        return true;
    }

    private static void finishFile(FileChannel out, String key, EntryHead head) throws IOException {
        byte[] meta = meta(key, head);
        ByteBuffer tail = ByteBuffer.allocate(meta.length + TRAILER);
        tail.put(meta).putInt(meta.length).put(MAGIC).flip();
        while (tail.hasRemaining()) {
            out.write(tail);
        }
        out.force(true);
    }

    /**
     * The first failure of a run of them logs one WARN line (the store then passes responses through); the others
     * go to DEBUG until {@link #writable()}.
     */
    private void trouble(String what, IOException e) {
        if (troubled.compareAndSet(false, true)) {
            LOG.warn("disk cache {} cannot be written ({}: {}); responses pass through without being stored until it"
                    + " can be written again", dir, what, e.toString());
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("disk cache {}: {}: {}", dir, what, e.toString());
        }
    }

    /** An entry was written: ends a run of failures. */
    private void writable() {
        if (troubled.compareAndSet(true, false)) {
            LOG.info("disk cache {} can be written again; storing resumes", dir);
        }
    }

    /** Renames a finished temp file into place and indexes it (on the io thread); false when it could not. */
    private boolean install(String key, EntryHead head, Path tmp, long bodyLength, long gen, DiskEntry expectedOld) {
        Path target = entryPath(key, gen);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            trouble("cannot install cache entry " + target, e);
            deleteQuietly(tmp);
            return false;
        }
        long fileSize;
        try {
            fileSize = Files.size(target);
        } catch (IOException e) {
            trouble("cannot read the size of cache entry " + target, e);
            deleteQuietly(target);
            return false;
        }
        writable();
        DiskEntry entry = new DiskEntry(key, head, target, bodyLength, fileSize, gen);
        DiskEntry replaced;
        synchronized (this) {
            if (expectedOld != null && index.get(key) != expectedOld) {
                replaced = null;
                deleteQuietly(target); // removed or replaced meanwhile
                return true;
            }
            replaced = index.put(key, entry);
            size += fileSize;
            if (replaced != null) {
                size -= replaced.fileSize;
            }
            evict();
        }
        if (replaced != null) {
            deleteQuietly(replaced.file);
        }
        return true;
    }

    /** Evicts least recently used entries until within capacity; caller holds the lock. */
    private void evict() {
        Iterator<Map.Entry<String, DiskEntry>> it = index.entrySet().iterator();
        while (size > capacity && it.hasNext()) {
            DiskEntry e = it.next().getValue();
            it.remove();
            evictions.increment();
            size -= e.fileSize;
            run(() -> deleteQuietly(e.file));
        }
    }

    @Override
    public long evictions() {
        return evictions.sum();
    }

    @Override
    public long capacityBytes() {
        return capacity;
    }

    @Override
    public boolean remove(String key) {
        DiskEntry e;
        synchronized (this) {
            e = index.remove(key);
            if (e == null) {
                return false;
            }
            size -= e.fileSize;
        }
        run(() -> deleteQuietly(e.file));
        return true;
    }

    @Override
    public synchronized long entryCount() {
        return index.size();
    }

    @Override
    public synchronized long sizeBytes() {
        return size;
    }

    @Override
    public void close() {
        io.shutdown();
        try {
            if (!io.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("disk cache writes still pending after 10 s; unfinished entries will be discarded at the next open");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Queues file work; after {@link #close} it is dropped (the next {@link #open} cleans up what is left). */
    private boolean run(Runnable task) {
        try {
            io.execute(task);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.debug("disk cache closed; dropping a file task");
            return false;
        }
    }

    private static void failSubscriber(Flow.Subscriber<? super ByteBuffer> subscriber, Throwable failure) {
        subscriber.onSubscribe(new Flow.Subscription() {
            @Override
            public void request(long n) {
            }

            @Override
            public void cancel() {
            }
        });
        subscriber.onError(failure);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.debug("cannot delete {}", p, e);
        }
    }

    @Override
    public String toString() {
        return "DiskStore{" + entriesDir.getParent() + ", capacity " + capacity + " bytes}";
    }

    /** Streams one body to a temp file on the io thread; gives up when it falls behind or grows too large. */
    private final class FileWriter implements Writer {
        private final String key;
        private final EntryHead head;
        private final long gen = generation.incrementAndGet();
        private final Path tmp;
        private final AtomicLong pending = new AtomicLong();
        private volatile boolean failed;
        private volatile IOException failure;
        private FileChannel channel; // io thread only
        private long length;

        FileWriter(String key, EntryHead head) {
            this.key = key;
            this.head = head;
            this.tmp = tmpDir.resolve(Long.toHexString(gen) + ".tmp");
        }

        @Override
        public boolean write(ByteBuffer chunk) {
            if (failed) {
                return false;
            }
            length += chunk.remaining();
            if (length > maxObjectBytes || pending.addAndGet(chunk.remaining()) > MAX_PENDING_BYTES) {
                abort();
                return false;
            }
            run(() -> {
                int n = chunk.remaining();
                try {
                    if (!failed) {
                        if (channel == null) {
                            channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                        }
                        while (chunk.hasRemaining()) {
                            channel.write(chunk);
                        }
                    }
                } catch (IOException e) {
                    trouble("cannot write cache entry " + tmp, e);
                    failure = e;
                    failed = true;
                    closeAndDelete();
                } finally {
                    pending.addAndGet(-n);
                }
            });
            return true;
        }

        @Override
        public CompletionStage<Void> commit() {
            CompletableFuture<Void> done = new CompletableFuture<>();
            run(() -> {
                if (failed) {
                    IOException cause = failure;
                    done.completeExceptionally(cause != null ? cause : new IOException("entry " + key + " was not written"));
                    return;
                }
                try {
                    if (channel == null) {
                        channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    }
                    finishFile(channel, key, head);
                    channel.close();
                    channel = null;
                } catch (IOException e) {
                    trouble("cannot finish cache entry " + tmp, e);
                    closeAndDelete();
                    done.completeExceptionally(e);
                    return;
                }
                if (install(key, head, tmp, length, gen, null)) {
                    done.complete(null);
                } else {
                    done.completeExceptionally(new IOException("cache entry " + key + " could not be installed"));
                }
            });
            return done;
        }

        @Override
        public void abort() {
            failed = true;
            run(this::closeAndDelete);
        }

        private void closeAndDelete() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    LOG.debug("cannot close {}", tmp, e);
                }
                channel = null;
            }
            deleteQuietly(tmp);
        }
    }

    private final class DiskEntry implements StoredEntry {
        private final String key;
        private final EntryHead head;
        private final Path file;
        private final long bodyLength;
        private final long fileSize;
        private final long generation;

        DiskEntry(String key, EntryHead head, Path file, long bodyLength, long fileSize, long generation) {
            this.key = key;
            this.head = head;
            this.file = file;
            this.bodyLength = bodyLength;
            this.fileSize = fileSize;
            this.generation = generation;
        }

        @Override
        public String key() {
            return key;
        }

        @Override
        public EntryHead head() {
            return head;
        }

        @Override
        public long bodyLength() {
            return bodyLength;
        }

        @Override
        public Flow.Publisher<ByteBuffer> body(long offset, long length) {
            if (offset < 0 || length < 0 || offset + length > bodyLength) {
                throw new IllegalArgumentException("range " + offset + "+" + length + " (expected: within 0.." + bodyLength + ")");
            }
            return subscriber -> {
                boolean queued = run(() -> {
                    ChunkedBody body;
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                        List<ByteBuffer> slices = new ArrayList<>();
                        long at = offset;
                        long end = offset + length;
                        while (at < end) {
                            long window = Math.min(end - at, 1L << 30);
                            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, at, window);
                            for (int p = 0; p < window; p += SLICE) {
                                slices.add(mapped.slice(p, (int) Math.min(SLICE, window - p)).asReadOnlyBuffer());
                            }
                            at += window;
                        }
                        body = ChunkedBody.of(slices);
                    } catch (IOException | RuntimeException e) {
                        failSubscriber(subscriber, new IOException("cannot read cache entry " + file, e));
                        return;
                    }
                    body.publisher().subscribe(subscriber);
                });
                if (!queued) {
                    failSubscriber(subscriber, new IOException("disk cache is closed"));
                }
            };
        }
    }
}
