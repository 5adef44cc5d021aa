package io.github.gatehouse.core;

import java.nio.ByteBuffer;

/**
 * Sees one response body as it streams to the client, chunk by chunk, and passes, changes, holds back or blocks it.
 *
 * <p>A {@link ProxyFilter} returns a new instance per exchange from {@link ProxyFilter#responseBody} when it wants
 * to see that body. The relay then drops {@code Content-Length} (the length may change, unless every body filter of
 * the exchange says {@link #preservesBytes()}) and calls
 * {@link #onChunk} for each chunk in order, and once more with {@code last = true} at the end (with an empty chunk
 * if the body ended without one).
 *
 * <p>The returned buffer is what goes on to the client; it may be {@code chunk} itself, a new buffer, or an empty
 * buffer to hold bytes back (for example a window kept to match across chunk boundaries). Nothing is committed to
 * the client until the first non-empty buffer is returned, so a filter that holds a bounded prefix can still turn
 * the whole exchange into an error page with {@link Control#block}. Holding is the filter's memory: keep it bounded.
 *
 * <p><b>Threading.</b> Calls for one exchange never overlap, but may come from different threads. Must not block.
 * {@code chunk} is only valid during the call: copy what you keep.
 */
@FunctionalInterface
public interface BodyFilter {

    /**
     * Filters one chunk.
     *
     * @param chunk the bytes that arrived (read-only view, valid during the call)
     * @param last whether this is the end of the body
     * @param control lets the filter stop the exchange
     * @return bytes to send on; never {@code null} (return an empty buffer to hold back)
     */
    ByteBuffer onChunk(ByteBuffer chunk, boolean last, Control control);

    /**
     * Whether this filter only holds back, passes or blocks, and never changes the bytes: then the response keeps
     * its {@code Content-Length} (a block after the response began aborts it, so a short body is never complete).
     * {@code false} by default.
     */
    default boolean preservesBytes() {
        return false;
    }

    /** Lets a body filter stop an exchange. */
    interface Control {
        /**
         * Stops the body. If nothing was sent to the client yet, the client gets {@code status} with {@code reason}
         * as a plain-text body; otherwise the client connection is aborted (a truncated body is never completed).
         * The upstream transfer is aborted either way. The value returned by the current call is ignored.
         */
        void block(int status, String reason);
    }
}
