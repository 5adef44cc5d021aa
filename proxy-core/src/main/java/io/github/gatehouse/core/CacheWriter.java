package io.github.gatehouse.core;

import java.nio.ByteBuffer;

/**
 * Receives one response body as it streams from the upstream to the client, to store it.
 *
 * <p>The relay calls {@link #write} for each chunk in order, then exactly one of {@link #complete} (the whole
 * body arrived) or {@link #abort} (the upstream or the client failed, or a body filter blocked it: the entry must
 * not become servable). A writer that cannot keep up or exceeds its size limit may stop storing on its own; it must
 * never slow down or fail the client's response.
 *
 * <p><b>Threading.</b> Calls never overlap but may come from different I/O threads; must not block.
 */
public interface CacheWriter {
    /** Stores the next chunk; {@code chunk} is only valid during the call (copy it). */
    void write(ByteBuffer chunk);

    /** The body is complete; the entry may now be served. */
    void complete();

    /** The body is incomplete; discard it. */
    void abort(Throwable cause);
}
