package io.github.gatehouse.cache;

import java.nio.ByteBuffer;
import java.util.concurrent.Flow;

/**
 * A complete entry in a {@link CacheStore}: its head and a body that can be streamed, whole or in part, any number
 * of times. A store only returns entries whose body was fully written and committed.
 *
 * <p><b>Threading.</b> Thread-safe. Each {@link #body} call returns a new cold publisher; its subscriber is
 * signalled one buffer per {@code request(1)}, never on the caller's thread while it is blocked, and buffers are
 * read-only views that stay valid after {@code onNext} returns.
 */
public interface StoredEntry {
    /** The full key (primary key plus the variant's secondary key). */
    String key();

    /** The stored head. */
    EntryHead head();

    /** The body length in bytes. */
    long bodyLength();

    /**
     * Streams {@code length} bytes of the body starting at {@code offset}.
     *
     * @throws IllegalArgumentException if the range lies outside the body
     */
    Flow.Publisher<ByteBuffer> body(long offset, long length);
}
