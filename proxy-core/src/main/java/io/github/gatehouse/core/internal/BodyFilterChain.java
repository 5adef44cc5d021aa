package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.BodyFilter;
import java.nio.ByteBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body filters one exchange asked for, applied in order: each filter's output is the next one's input. Not
 * thread-safe; the relay calls it for one chunk at a time.
 */
final class BodyFilterChain implements BodyFilter.Control {
    private static final Logger LOG = LoggerFactory.getLogger(BodyFilterChain.class);
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();

    private final String exchangeId;
    private final List<BodyFilter> filters;
    private int blockStatus;
    private String blockReason;

    BodyFilterChain(String exchangeId, List<BodyFilter> filters) {
        this.exchangeId = exchangeId;
        this.filters = filters;
    }

    /** Runs {@code chunk} through every filter; check {@link #isBlocked()} afterwards. */
    ByteBuffer apply(ByteBuffer chunk, boolean last) {
        ByteBuffer data = chunk;
        for (BodyFilter filter : filters) {
            if (!last && !data.hasRemaining()) {
                return EMPTY;
            }
            ByteBuffer out;
            try {
                out = filter.onChunk(data.asReadOnlyBuffer(), last, this);
            } catch (RuntimeException e) {
                LOG.error("{} body filter {} threw; the response is aborted", exchangeId, filter, e);
                block(500, "content filter failed");
                return EMPTY;
            }
            if (blockReason != null) {
                return EMPTY;
            }
            if (out == null) {
                LOG.error("{} body filter {} returned null (expected: a buffer, empty to hold back)", exchangeId, filter);
                block(500, "content filter failed");
                return EMPTY;
            }
            data = out;
        }
        return data;
    }

    @Override
    public void block(int status, String reason) {
        if (blockReason == null) {
            this.blockStatus = status >= 400 && status <= 599 ? status : 403;
            this.blockReason = reason == null ? "blocked by content filter" : reason;
        }
    }

    boolean isBlocked() {
        return blockReason != null;
    }

    int blockStatus() {
        return blockStatus;
    }

    String blockReason() {
        return blockReason;
    }
}
