package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheWriter;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phase 9, the one body relay: moves a response body from its {@link Source} (an upstream response, or a stored one)
 * to the client, one chunk at a time, through two taps: the cache writer (upstream bodies being stored) and the body
 * filters the response filters asked for. The next chunk is demanded only when the client has taken the previous
 * one, so a slow client slows the source and the heap holds a chunk or two per exchange, whatever the body's size.
 *
 * <p>The relay is its own write callback: one write is in flight at a time, so one object serves every chunk.
 *
 * <p>Endings: the source's end completes the stored copy first (the next request can hit it), then writes the last
 * bytes; the source then hears {@link Source#lastWritten()}. A client that goes away aborts the source and the stored
 * copy, and fails the exchange. A body filter that blocks answers with its status if nothing was sent yet, else
 * aborts the client response: a blocked body is never completed as if it were whole.
 *
 * <p><b>Threading.</b> The source calls {@link #onData} and {@link #onEnd} one at a time, each after the demand that
 * asked for it; the write callback runs on Jetty's threads. Fields handed between them are volatile.
 */
final class BodyRelay implements Callback {
    private static final Logger LOG = LoggerFactory.getLogger(BodyRelay.class);
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();

    /** Where a body comes from. */
    interface Source {
        /** Asks for the next chunk (or the end). */
        void demand();

        /** Stops the source: the client is gone, or the body was blocked. */
        void abort(Throwable cause);

        /** The client has taken the last byte. */
        void lastWritten();
    }

    private final ExchangeContext x;
    private final Source source;
    private final BodyFilterChain filters;
    private final Answers answers;
    private volatile CacheWriter writer;
    /** The chunk whose bytes the pending write sends, retained until the write completes; null for other buffers. */
    private volatile Content.Chunk pending;
    private volatile boolean last;

    BodyRelay(ExchangeContext x, Source source, BodyFilterChain filters, CacheWriter writer, Answers answers) {
        this.x = x;
        this.source = source;
        this.filters = filters;
        this.writer = writer;
        this.answers = answers;
    }

    @Override
    public String toString() {
        return "BodyRelay[last=" + last + " pending=" + (pending != null) + "]";
    }

    /**
     * The next bytes of the body. {@code chunk} is the retainable chunk that owns {@code data}, or null when
     * {@code data} needs no release (a stored body's buffer).
     */
    void onData(ByteBuffer data, Content.Chunk chunk) {
        if (x.state() == RelayState.DETACHED) {
            feedDetached(data);
            return;
        }
        tapWriter(data);
        ByteBuffer out = data;
        if (filters != null) {
            out = filters.apply(data, false);
            if (filters.isBlocked()) {
                blocked();
                return;
            }
        }
        if (!out.hasRemaining()) {
            source.demand();
            return;
        }
        if (chunk != null && chunk.canRetain()) { // filter output may still point into the chunk
            chunk.retain();
            pending = chunk;
        }
        x.write(false, out, this);
    }

    /** The body is whole. */
    void onEnd() {
        if (x.state() == RelayState.DETACHED) {
            completeWriter();
            return;
        }
        ByteBuffer out = EMPTY;
        if (filters != null) {
            out = filters.apply(EMPTY, true);
            if (filters.isBlocked()) {
                blocked();
                return;
            }
        }
        // The stored copy is complete before the client sees the last byte, so its next request can already hit it.
        completeWriter();
        last = true;
        x.write(true, out, this);
    }

    /** The source broke before its end: the stored copy is dropped (the caller decides what the client sees). */
    void abortWriter(Throwable cause) {
        CacheWriter w = writer;
        if (w != null) {
            writer = null;
            try {
                w.abort(cause);
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed to abort: {}", x.exchange.id(), Failures.describe(e));
            }
        }
    }

    @Override
    public void succeeded() {
        release();
        if (last) {
            source.lastWritten();
        } else {
            source.demand();
        }
    }

    /** The cache writer's tap: the bytes go into the stored copy too; a failing writer stops storing, nothing else. */
    private void tapWriter(ByteBuffer data) {
        CacheWriter w = writer;
        if (w != null) {
            try {
                w.write(data.asReadOnlyBuffer());
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed; the response is no longer stored: {}", x.exchange.id(),
                        Failures.describe(e));
                abortWriter(e);
            }
        }
    }

    private void completeWriter() {
        CacheWriter w = writer;
        if (w != null) {
            writer = null;
            try {
                w.complete();
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed to complete: {}", x.exchange.id(), Failures.describe(e));
            }
        }
    }

    /** Detached: the chunk goes to the cache writer only; the next is read only if the writer still wants it. */
    private void feedDetached(ByteBuffer data) {
        tapWriter(data);
        if (wantsMoreWithoutClient()) {
            source.demand();
            return;
        }
        CancellationException stop = new CancellationException("the cache needs no more of a body whose client went away");
        abortWriter(stop);
        source.abort(stop);
    }

    /** Whether the cache writer asks for more of the body now that the client is gone (false when there is none). */
    private boolean wantsMoreWithoutClient() {
        CacheWriter w = writer;
        if (w == null) {
            return false;
        }
        try {
            return w.continueWithoutClient();
        } catch (RuntimeException e) {
            LOG.warn("{} cache writer failed in continueWithoutClient: {}", x.exchange.id(), Failures.describe(e));
            return false;
        }
    }

    @Override
    public void failed(Throwable failure) {
        release();
        if (!last && source instanceof UpstreamCall && wantsMoreWithoutClient() && x.detach(failure)) {
            LOG.info("{} client went away during the response; the cache goes on reading the upstream body: {}",
                    x.exchange.id(), Failures.describe(failure));
            source.demand();
            return;
        }
        abortWriter(failure);
        source.abort(failure);
        if (!x.state().isTerminal()) {
            LOG.info("{} client went away during the response: {}", x.exchange.id(), Failures.describe(failure));
        }
        x.failed(failure);
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    private void release() {
        Content.Chunk c = pending;
        if (c != null) {
            pending = null;
            c.release();
        }
    }

    private void blocked() {
        CancellationException reason = new CancellationException("response body blocked: " + filters.blockReason());
        abortWriter(reason);
        if (!x.response.isCommitted()) {
            x.response.reset();
            answers.answer(x, filters.blockStatus(), filters.blockReason(), null, null, false);
        } else {
            x.exchange.reason(filters.blockReason());
            LOG.info("{} response blocked after it began ({}); aborting the client response", x.exchange.id(),
                    filters.blockReason());
            x.failed(new CancellationException("response blocked: " + filters.blockReason()));
        }
        source.abort(reason);
    }
}
