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
 * <p><b>When the client goes away.</b> If the client leaves before the body has ended, the relay asks
 * {@link #continueWithoutClient()} before aborting anything. On {@code true} it ends the client's exchange but keeps
 * reading the upstream body into this writer alone: {@link #write} for each further chunk, then {@link #complete} or
 * {@link #abort} as usual (the relay's upstream timeouts still apply). It asks again after each such chunk, before
 * reading the next; the first {@code false} makes it abort the upstream response and call {@link #abort}.
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

    /**
     * The client went away (or, asked again, the relay is about to read the next chunk without one): whether the
     * relay should go on reading the upstream body into this writer. {@code true} lets a cache finish a fill that
     * other clients wait on, or one close enough to its end to be worth finishing; the default, {@code false}, aborts
     * the upstream response at once. Must be quick and must not block; never called after {@link #complete} or
     * {@link #abort}.
     */
    default boolean continueWithoutClient() {
        return false;
    }
}
