package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.cache.internal.Ranges.ContentRange;
import io.github.gatehouse.cache.internal.Ranges.Span;
import io.github.gatehouse.core.CacheWriter;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.HttpHeaders;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Partial content (RFC 9111 §3.3, §3.4; RFC 9110 §14): stores single-range 206 responses that carry a strong
 * {@code ETag} as partial entries, combines a new range with the stored ones when the validators match (becoming a
 * complete 200 entry once every byte is there), and answers range requests, single or multiple, from stored bytes.
 *
 * <p>A partial entry lives under its variant's key plus {@link #SUFFIX}, so that a complete entry's lookup never
 * sees it and purges, invalidation and eviction treat it as one more variant. Its body is the stored ranges one after
 * another, in order; the field {@link #RANGES_FIELD} ({@code first-last,first-last/complete-length}) says where each
 * lies. That field, {@code Content-Range} and {@code Content-Length} are never sent to clients.
 *
 * <p><b>Threading.</b> Thread-safe: the methods are pure or work on the (thread-safe) store; a {@link Writer} is
 * called as a {@link CacheWriter} is (never concurrently).
 */
final class PartialContent {
    private static final Logger LOG = LoggerFactory.getLogger(PartialContent.class);
    /** Appended to a variant's key for its partial entry. */
    static final String SUFFIX = "\u0003partial";
    /** The stored field that lists a partial entry's ranges and the complete length. */
    static final String RANGES_FIELD = "Gatehouse-Stored-Ranges";
    /** The largest new range held on the heap while it is combined with the stored ones; larger ones are not stored. */
    static final long MAX_PART_BYTES = 8L * 1024 * 1024;

    /** What the engine does once a (partial or combined) entry is servable. */
    interface Committed {
        void committed(String exchangeId, String key, EntryHead head, long length);

        void removed(String key);
    }

    private final CacheStore store;
    private final MemoryStore memoryStore;
    private final long maxObjectBytes;
    private final Committed committed;

    PartialContent(CacheStore store, long maxObjectBytes, Committed committed) {
        this.store = store;
        this.memoryStore = store instanceof MemoryStore m ? m : null;
        this.maxObjectBytes = maxObjectBytes;
        this.committed = committed;
    }

    /** A partial entry's ranges and complete length, read from its head; {@code null} when it is not one. */
    record Layout(List<Span> spans, long completeLength) {
        static Layout of(EntryHead head) {
            String v = head.header(RANGES_FIELD);
            if (v == null || head.status() != 206) {
                return null;
            }
            int slash = v.lastIndexOf('/');
            if (slash < 0) {
                return null;
            }
            List<Span> spans = Ranges.parseStored(v.substring(0, slash));
            try {
                long complete = Long.parseLong(v.substring(slash + 1).trim());
                return spans == null || spans.get(spans.size() - 1).end() > complete ? null : new Layout(spans, complete);
            } catch (NumberFormatException e) {
                return null;
            }
        }

        /** Where {@code wanted} lies in the stored body, or -1 when not all of it is stored. */
        long offsetOf(Span wanted) {
            long offset = 0;
            for (Span s : spans) {
                if (s.covers(wanted)) {
                    return offset + (wanted.start() - s.start());
                }
                offset += s.length();
            }
            return -1;
        }
    }

    /**
     * Why a 206 may not be stored as a partial entry, or {@code null} if it may (the other storability rules are the
     * caller's): one range of a known complete length within the size limits, and a strong {@code ETag} to combine by.
     */
    static String unstorableReason(HttpHeaders response, long maxObjectBytes) {
        String type = response.get("Content-Type");
        if (type != null && type.trim().toLowerCase(java.util.Locale.ROOT).startsWith("multipart/byteranges")) {
            return "multipart 206";
        }
        ContentRange cr = Ranges.contentRange(response.get("Content-Range"));
        if (cr == null) {
            return "206 without a single-part Content-Range of known length";
        }
        String etag = response.get("ETag");
        if (etag == null || etag.trim().startsWith("W/") || !etag.trim().startsWith("\"")) {
            return "206 without a strong ETag";
        }
        if (cr.completeLength() > maxObjectBytes) {
            return "complete length larger than maxObjectSize";
        }
        if (cr.span().length() > MAX_PART_BYTES) {
            return "range larger than " + MAX_PART_BYTES + " bytes";
        }
        return null;
    }

    /**
     * Answers {@code wanted} (sorted, disjoint) from a stored body: one part as a 206 with {@code Content-Range}, several
     * as {@code multipart/byteranges} (RFC 9110 §14.6). {@code headers} are the stored headers as served; {@code body}
     * streams {@code length} bytes of the representation from an offset.
     */
    static CachedResponse answer(HttpHeaders headers, List<Span> wanted, long completeLength,
            Function<Span, Flow.Publisher<ByteBuffer>> body) {
        HttpHeaders h = new HttpHeaders(headers);
        h.remove(RANGES_FIELD);
        h.remove("Content-Range");
        if (wanted.size() == 1) {
            Span s = wanted.get(0);
            h.set("Content-Range", "bytes " + s + "/" + completeLength);
            h.set("Content-Length", Long.toString(s.length()));
            return new CachedResponse(206, h, body.apply(s));
        }
        String type = h.get("Content-Type");
        String boundary = "gatehouse-" + Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
        List<Supplier<Flow.Publisher<ByteBuffer>>> parts = new ArrayList<>();
        long length = 0;
        for (int i = 0; i < wanted.size(); i++) {
            Span s = wanted.get(i);
            String partHead = (i == 0 ? "" : "\r\n") + "--" + boundary + "\r\n"
                    + (type != null ? "Content-Type: " + type.trim() + "\r\n" : "")
                    + "Content-Range: bytes " + s + "/" + completeLength + "\r\n\r\n";
            byte[] bytes = partHead.getBytes(StandardCharsets.ISO_8859_1);
            parts.add(ConcatPublisher.bytes(ByteBuffer.wrap(bytes)));
            parts.add(() -> body.apply(s));
            length += bytes.length + s.length();
        }
        byte[] end = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.ISO_8859_1);
        parts.add(ConcatPublisher.bytes(ByteBuffer.wrap(end)));
        length += end.length;
        h.set("Content-Type", "multipart/byteranges; boundary=" + boundary);
        h.set("Content-Length", Long.toString(length));
        return new CachedResponse(206, h, new ConcatPublisher(parts));
    }

    /** A writer for a storable 206 whose head (as stored, with {@code Content-Range}) is {@code head}. */
    Writer writer(String exchangeId, String partialKey, EntryHead head) {
        return new Writer(exchangeId, partialKey, head, true, false);
    }

    /**
     * A writer for the 206 that fetched a missing range: its bytes are readable as they arrive ({@link Writer#range}),
     * for the client waiting on them, and combined with the stored ranges when {@code keep}.
     */
    Writer fetchWriter(String exchangeId, String partialKey, EntryHead head, boolean keep) {
        return new Writer(exchangeId, partialKey, head, keep, true);
    }

    /** Holds one new range on the heap, then combines it with the stored ranges of the same representation. */
    final class Writer implements CacheWriter {
        private final String exchangeId;
        private final String partialKey;
        private final EntryHead head;
        private final ContentRange range;
        private final ChunkedBody part = new ChunkedBody();
        /**
         * For the client that waits on a fetched range, or null: an empty body that ends once the combined entry is
         * servable (or could not be stored), so that the client's next request finds it.
         */
        private final ChunkedBody settled;
        private final AtomicBoolean ended = new AtomicBoolean();
        private final boolean keep;
        private long length;

        Writer(String exchangeId, String partialKey, EntryHead head, boolean keep, boolean serves) {
            this.exchangeId = exchangeId;
            this.partialKey = partialKey;
            this.head = head;
            this.keep = keep;
            this.settled = serves ? new ChunkedBody() : null;
            this.range = Ranges.contentRange(head.header("Content-Range"));
        }

        /**
         * {@code wanted} (within this response's range) as it arrives, for a writer made by {@link #fetchWriter}: fails
         * if the body breaks off, so that a reader never takes a truncated body for a complete one.
         */
        Flow.Publisher<ByteBuffer> range(Span wanted) {
            return part.publisher(wanted.start() - range.span().start(), wanted.length());
        }

        /**
         * No bytes, ending once what {@link #fetchWriter} fetched is stored (or failed to be): the part after
         * {@link #range} in the waiting client's body, so that its response ends after the entry is servable.
         */
        Flow.Publisher<ByteBuffer> settled() {
            return settled.publisher();
        }

        @Override
        public void write(ByteBuffer chunk) {
            if (ended.get()) {
                return;
            }
            int n = chunk.remaining();
            length += n;
            if (length > range.span().length()) {
                abort(new IllegalStateException("206 body longer than its Content-Range"));
                return;
            }
            byte[] copy = new byte[n];
            chunk.get(copy);
            part.append(ByteBuffer.wrap(copy).asReadOnlyBuffer());
        }

        @Override
        public void abort(Throwable cause) {
            if (ended.compareAndSet(false, true)) {
                part.fail(cause);
                if (settled != null) {
                    settled.fail(cause);
                }
                LOG.debug("{} not storing the range {}: {}", exchangeId, range.span(), cause.toString());
            }
        }

        @Override
        public void complete() {
            if (!ended.compareAndSet(false, true)) {
                return;
            }
            if (length != range.span().length()) {
                LOG.debug("{} not storing the range {}: {} bytes arrived", exchangeId, range.span(), length);
                IllegalStateException truncated = new IllegalStateException("206 body of " + length + " bytes for the range "
                        + range.span());
                part.fail(truncated);
                if (settled != null) {
                    settled.fail(truncated);
                }
                return;
            }
            part.complete();
            CompletionStage<Void> stored;
            try {
                stored = keep ? combine() : CompletableFuture.completedFuture(null);
            } catch (RuntimeException e) {
                LOG.error("{} could not combine the range {} with {}", exchangeId, range.span(), partialKey, e);
                stored = CompletableFuture.failedFuture(e);
            }
            if (settled != null) {
                stored.whenComplete((v, f) -> settled.complete()); // every byte is there, stored or not
            }
        }

        /** Stores the new range with the stored ones; the stage completes once that is servable, or failed. */
        private CompletionStage<Void> combine() {
            Span fresh = range.span();
            StoredEntry old = store.get(partialKey).orElse(null);
            Layout layout = old == null ? null : Layout.of(old.head());
            boolean sameRepresentation = layout != null && layout.completeLength() == range.completeLength()
                    && strongEtag(old.head()) != null && strongEtag(old.head()).equals(strongEtag(head));
            // the pieces of the new body, in order: the new range, and whatever the stored ranges add around it
            List<Piece> pieces = new ArrayList<>();
            pieces.add(new Piece(fresh, null, 0));
            if (sameRepresentation) {
                long offset = 0;
                for (Span s : layout.spans()) {
                    if (s.start() < fresh.start()) {
                        Span before = new Span(s.start(), Math.min(s.end(), fresh.start()));
                        pieces.add(new Piece(before, old, offset));
                    }
                    if (s.end() > fresh.end()) {
                        long from = Math.max(s.start(), fresh.end());
                        pieces.add(new Piece(new Span(from, s.end()), old, offset + (from - s.start())));
                    }
                    offset += s.length();
                }
            }
            pieces.sort((a, b) -> a.span.compareTo(b.span));
            List<Span> union = Ranges.coalesce(pieces.stream().map(p -> p.span).toList(), 0);
            boolean whole = union.size() == 1 && union.get(0).start() == 0
                    && union.get(0).end() == range.completeLength();
            HttpHeaders headers = head.headers(); // RFC 9111 §3.4: the newest response's fields
            headers.remove("Content-Range");
            headers.remove("Content-Length");
            String key;
            EntryHead combined;
            if (whole) {
                key = partialKey.substring(0, partialKey.length() - SUFFIX.length());
                headers.remove(RANGES_FIELD);
                headers.set("Content-Length", Long.toString(range.completeLength()));
                combined = new EntryHead(200, headers, head.requestTime(), head.responseTime(), false);
            } else {
                key = partialKey;
                headers.set(RANGES_FIELD, Ranges.format(union) + "/" + range.completeLength());
                combined = new EntryHead(206, headers, head.requestTime(), head.responseTime(), false);
            }
            List<Supplier<Flow.Publisher<ByteBuffer>>> sources = new ArrayList<>();
            long total = 0;
            for (Piece p : pieces) {
                sources.add(p.source(part));
                total += p.span.length();
            }
            long bytes = total;
            return storeBody(key, combined, new ConcatPublisher(sources)).whenComplete((v, f) -> {
                if (f != null) {
                    LOG.debug("{} could not store the ranges {} of {}: {}", exchangeId, union, key, f.toString());
                    return;
                }
                if (whole) {
                    committed.removed(partialKey);
                }
                committed.committed(exchangeId, key, combined, bytes);
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} stored {} of {} ({} bytes){}", exchangeId, Ranges.format(union), key, bytes,
                            whole ? ": complete" : "");
                }
            });
        }
    }

    /** A run of bytes of the new body: from the new range ({@code from == null}) or from the stored entry. */
    private record Piece(Span span, StoredEntry from, long offset) {
        Supplier<Flow.Publisher<ByteBuffer>> source(ChunkedBody part) {
            if (from == null) {
                return part::publisher;
            }
            return () -> from.body(offset, span.length());
        }
    }

    static String strongEtag(EntryHead head) {
        String etag = head.header("ETag");
        if (etag == null) {
            return null;
        }
        String t = etag.trim();
        return t.startsWith("\"") ? t : null;
    }

    /** Streams {@code body} into the store under {@code key}; the stage completes once the entry is servable. */
    private CompletionStage<Void> storeBody(String key, EntryHead head, Flow.Publisher<ByteBuffer> body) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        ChunkedBody heap = memoryStore != null ? new ChunkedBody() : null;
        CacheStore.Writer out = memoryStore != null ? null : store.begin(key, head);
        body.subscribe(new Flow.Subscriber<>() {
            private Flow.Subscription s;

            @Override
            public void onSubscribe(Flow.Subscription s) {
                this.s = s;
                s.request(1);
            }

            @Override
            public void onNext(ByteBuffer item) {
                if (heap != null) {
                    heap.append(item);
                } else if (!out.write(item)) {
                    s.cancel();
                    out.abort();
                    done.completeExceptionally(new IllegalStateException("the store gave up"));
                    return;
                }
                s.request(1);
            }

            @Override
            public void onError(Throwable t) {
                if (out != null) {
                    out.abort();
                }
                done.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                if (heap != null) {
                    heap.complete();
                    memoryStore.put(key, head, heap);
                    done.complete(null);
                } else {
                    out.commit().whenComplete((v, f) -> {
                        if (f != null) {
                            done.completeExceptionally(f);
                        } else {
                            done.complete(null);
                        }
                    });
                }
            }
        });
        return done;
    }
}
