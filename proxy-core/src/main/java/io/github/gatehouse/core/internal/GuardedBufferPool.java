package io.github.gatehouse.core.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.Retainable;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A diagnostic buffer pool ({@code -Dgatehouse.server.buffers=guarded}) that finds the code that uses a buffer after
 * it released it, the bug that makes pooled buffers unsafe: a released buffer is reused by another connection, and
 * a late write or read through the stale reference corrupts what that connection parses or sends.
 *
 * <p>It never reuses a buffer. On its last release, a buffer's whole content is overwritten with {@code '~'} and its
 * position and limit are noted; the released buffers are checked again at the next acquisitions (from 200 ms after
 * their release). A buffer whose content, position or limit changed since its release was used after release: the
 * pool logs an error with the stack traces of its acquisition and its release, once per site. A late reader sees the
 * {@code '~'}s, which make a parser fail (a visible 400 or a garbled body instead of a silent leak).
 *
 * <p>Costly (a stack trace per acquisition): for tests and soaks, never for production. Thread-safe.
 */
final class GuardedBufferPool implements ByteBufferPool {
    private static final Logger LOG = LoggerFactory.getLogger(GuardedBufferPool.class);
    private static final byte POISON = '~';
    private static final long CHECK_AFTER_NANOS = 200_000_000L;

    private final ConcurrentLinkedQueue<Released> released = new ConcurrentLinkedQueue<>();
    /** The buffers released and not yet checked, by identity: a fill or flush into one is caught as it happens. */
    private final java.util.Set<ByteBuffer> releasedNow =
            java.util.Collections.newSetFromMap(java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>()));
    private final java.util.Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicLong violations = new AtomicLong();

    private record Released(ByteBuffer buffer, int position, int limit, long atNanos, Throwable acquired,
            Throwable release) {
    }

    /** Buffers found changed after their release, so far. */
    long violations() {
        return violations.get();
    }

    @Override
    public RetainableByteBuffer.Mutable acquire(int size, boolean direct) {
        check(false);
        ByteBuffer buffer = ByteBuffer.allocate(size);
        buffer.limit(0); // Jetty's pools hand out empty buffers, in flush mode
        Throwable acquired = new Throwable("acquired here");
        Retainable.ReferenceCounter counter = new Retainable.ReferenceCounter() {
            @Override
            public boolean release() {
                boolean last = super.release();
                if (last) {
                    poison(buffer, acquired);
                }
                return last;
            }
        };
        return new RetainableByteBuffer.Pooled(this, buffer, counter) {
            // the constructor that takes a reference counter is protected
        };
    }

    private void poison(ByteBuffer buffer, Throwable acquired) {
        Arrays.fill(buffer.array(), POISON);
        releasedNow.add(buffer);
        released.add(new Released(buffer, buffer.position(), buffer.limit(), System.nanoTime(), acquired,
                new Throwable("released here")));
    }

    /** Checks the buffers released long enough ago ({@code all}: every one, at {@link #clear}). */
    private void check(boolean all) {
        long now = System.nanoTime();
        Released r;
        while ((r = released.peek()) != null && (all || now - r.atNanos >= CHECK_AFTER_NANOS)) {
            if (!released.remove(r)) {
                continue;
            }
            releasedNow.remove(r.buffer);
            ByteBuffer b = r.buffer;
            boolean changed = b.position() != r.position || b.limit() != r.limit;
            byte[] a = b.array();
            for (int i = 0; i < a.length && !changed; i++) {
                changed = a[i] != POISON;
            }
            if (changed) {
                violations.incrementAndGet();
                String site = java.util.Arrays.toString(java.util.Arrays.copyOf(r.acquired.getStackTrace(), 12))
                        + java.util.Arrays.toString(java.util.Arrays.copyOf(r.release.getStackTrace(), 12));
                if (reported.add(site)) {
                    IllegalStateException e = new IllegalStateException("buffer used after its release: position "
                            + r.position + " -> " + b.position() + ", limit " + r.limit + " -> " + b.limit());
                    e.addSuppressed(r.acquired);
                    e.addSuppressed(r.release);
                    LOG.error("guarded buffer pool: a buffer was used after its release", e);
                }
            }
        }
    }

    /**
     * Called by the guarded endpoints before each fill and flush: logs (once per stack) an I/O on a released buffer,
     * with the stack trace of the code doing it.
     */
    void checkIo(String op, ByteBuffer... buffers) {
        for (ByteBuffer b : buffers) {
            if (b != null && releasedNow.contains(b)) {
                violations.incrementAndGet();
                IllegalStateException e = new IllegalStateException(op + " on a released buffer");
                String site = java.util.Arrays.toString(java.util.Arrays.copyOf(e.getStackTrace(), 16));
                if (reported.add(site)) {
                    LOG.error("guarded buffer pool: " + op + " on a buffer after its release", e);
                }
            }
        }
    }

    /** A server connector whose endpoints check every fill and flush against this pool's released buffers. */
    org.eclipse.jetty.server.ServerConnector connector(org.eclipse.jetty.server.Server server,
            org.eclipse.jetty.server.ConnectionFactory... factories) {
        return new org.eclipse.jetty.server.ServerConnector(server, factories) {
            @Override
            protected org.eclipse.jetty.io.SocketChannelEndPoint newEndPoint(java.nio.channels.SocketChannel channel,
                    org.eclipse.jetty.io.ManagedSelector selector, java.nio.channels.SelectionKey key) {
                org.eclipse.jetty.io.SocketChannelEndPoint endPoint = new org.eclipse.jetty.io.SocketChannelEndPoint(
                        channel, selector, key, getScheduler()) {
                    @Override
                    public int fill(ByteBuffer buffer) throws java.io.IOException {
                        checkIo("fill", buffer);
                        return super.fill(buffer);
                    }

                    @Override
                    public boolean flush(ByteBuffer... buffers) throws java.io.IOException {
                        checkIo("flush", buffers);
                        return super.flush(buffers);
                    }
                };
                endPoint.setIdleTimeout(getIdleTimeout());
                return endPoint;
            }
        };
    }

    @Override
    public void clear() {
        check(true);
    }
}
