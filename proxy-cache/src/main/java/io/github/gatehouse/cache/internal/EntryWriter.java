package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.core.CacheWriter;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams one response body into the store, and to the collapsed followers of its fill, as it passes to the client;
 * stops storing on any trouble (too large, a store that gives up, a body shorter than its {@code Content-Length})
 * without ever slowing or failing the client's response. With the memory store the fill's chunks become the entry.
 *
 * <p><b>Threading.</b> Called as a {@link CacheWriter} is: never concurrently, possibly from different threads.
 */
/** Streams one response into the store (and to collapsed followers); stops storing on any trouble. */
final class EntryWriter implements CacheWriter {
private static final Logger LOG = LoggerFactory.getLogger(EntryWriter.class);

/** What the engine does once the entry is servable. */
interface Committed {
    void committed(String exchangeId, String key, EntryHead head, long length);
}

    private final String exchangeId;
    private final String key;
    private final EntryHead head;
    private final Collapser.Fill fill;
    private final ChunkedBody body;
    private final CacheStore.Writer storeWriter;
    private final AtomicBoolean ended = new AtomicBoolean();
    private long length;
    /** The length when the last waiting client went (-1 while someone waits or the first client is still there). */
    private long aloneSince = -1;

    private final CacheConfig config;
    private final CacheStore store;
    private final MemoryStore memoryStore;
    private final Collapser collapser;
    private final Committed committed;

    EntryWriter(CacheConfig config, Collapser collapser, Committed committed, String exchangeId, String key,
            String secondary, EntryHead head, Collapser.Fill fill) {
        this.config = config;
        this.store = config.store();
        this.memoryStore = store instanceof MemoryStore m ? m : null;
        this.collapser = collapser;
        this.committed = committed;
        this.exchangeId = exchangeId;
        this.key = key;
        this.head = head;
        // With the memory store the fill's chunks become the entry. With other stores a copy is kept on the heap
        // for collapsed followers only when the body is known to be small; larger ones are not shared, so a big
        // download never sits whole on the heap.
        boolean shareable = fill != null && (memoryStore != null || declaredLength(head) <= COLLAPSE_BUFFER_BYTES);
        this.fill = shareable ? fill : null;
        if (fill != null && !shareable) {
            collapser.release(fill);
        }
        this.body = memoryStore != null || shareable ? new ChunkedBody() : null;
        this.storeWriter = memoryStore != null ? null : store.begin(key, head);
        if (shareable) {
            fill.head.complete(Collapser.FillHead.growing(secondary, head, body));
        }
    }

    @Override
    public void write(ByteBuffer chunk) {
        if (ended.get()) {
            return;
        }
        int n = chunk.remaining();
        length += n;
        if (length > config.maxObjectBytes()) {
            stop("larger than maxObjectSize " + config.maxObjectBytes());
            return;
        }
        byte[] copy = new byte[n];
        chunk.get(copy);
        ByteBuffer immutable = ByteBuffer.wrap(copy).asReadOnlyBuffer();
        if (body != null) {
            body.append(immutable);
        }
        if (storeWriter != null && !storeWriter.write(immutable.duplicate())) {
            stop("the store gave up");
        }
    }

    @Override
    public void complete() {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        String cl = head.header("Content-Length");
        if (cl != null && !cl.trim().equals(Long.toString(length))) {
            failAll(new IllegalStateException("body length " + length + " != Content-Length " + cl));
            return;
        }
        if (body != null) {
            body.complete();
        }
        if (memoryStore != null) {
            memoryStore.put(key, head, body);
            committed();
        } else {
            storeWriter.commit().whenComplete((v, f) -> {
                if (f == null) {
                    committed();
                } else {
                    // a store reports its own trouble (the disk store logs one WARN line per run of failures)
                    LOG.debug("{} could not commit cache entry {}: {}", exchangeId, key, f.toString());
                    dropFill();
                }
            });
        }
    }

    private void committed() {
        dropFill();
        committed.committed(exchangeId, key, head, length);
    }

    private void dropFill() {
        collapser.drop(fill);
    }

    @Override
    public void abort(Throwable cause) {
        if (ended.compareAndSet(false, true)) {
            failAll(cause);
        }
    }

    /**
     * The first client went away: go on while collapsed followers still read this fill (up to maxObjectSize, which
     * {@link #write} enforces), else only while what remains is within the finish-without-client size: the rest of a
     * declared Content-Length, or what arrives from now on for a body of unknown length.
     */
    @Override
    public boolean continueWithoutClient() {
        if (ended.get()) {
            return false;
        }
        if (fill != null && fill.followers.get() > 0) {
            aloneSince = -1;
            return true;
        }
        if (aloneSince < 0) {
            aloneSince = length;
        }
        long budget = config.finishWithoutClientBytes();
        long declared = declaredLength(head);
        boolean go = declared != Long.MAX_VALUE ? declared - length <= budget : length - aloneSince <= budget;
        if (!go) {
            // no one is left to read this fill: take it out of the map now, so that no new follower joins a fill
            // that is about to be aborted (it goes upstream itself)
            dropFill();
            if (fill != null && fill.followers.get() > 0) {
                return true; // one joined meanwhile
            }
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} gives up storing {} after its client left: {} bytes stored, {} declared, at most {} more"
                        + " read without a client", exchangeId, key, length,
                        declared == Long.MAX_VALUE ? "none" : declared, budget);
            }
        }
        return go;
    }

    private void stop(String why) {
        if (ended.compareAndSet(false, true)) {
            LOG.debug("{} stops storing {}: {}", exchangeId, key, why);
            failAll(new IllegalStateException("not stored: " + why));
        }
    }

    private void failAll(Throwable cause) {
        if (body != null) {
            body.fail(cause);
        }
        if (storeWriter != null) {
            storeWriter.abort();
        }
        dropFill();
    }

    /** The most a fill for a non-memory store keeps on the heap to share with collapsed followers. */
    static final long COLLAPSE_BUFFER_BYTES = 8L * 1024 * 1024;

    /** The response's Content-Length, or {@code Long.MAX_VALUE} when absent or invalid. */
    static long declaredLength(EntryHead head) {
        String cl = head.header("Content-Length");
        try {
            return cl == null ? Long.MAX_VALUE : Long.parseLong(cl.trim());
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
