package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.eclipse.jetty.util.BufferUtil;
import org.junit.jupiter.api.Test;

/** The lean transport's input buffers: direct, handed out empty, reused up to the bound, beyond it let go. */
class InputBuffersTest {
    @Test
    void aGivenBackBufferIsHandedOutAgainEmptyAndOnlyUpToTheBoundAreKept() {
        Http1Upstream.InputBuffers buffers = new Http1Upstream.InputBuffers(64 * 1024, 2, false);
        ByteBuffer first = buffers.take();
        assertThat(first.isDirect()).isTrue();
        assertThat(first.capacity()).isEqualTo(64 * 1024);
        assertThat(first.hasRemaining()).as("empty, in flush mode").isFalse();

        BufferUtil.append(first, new byte[] {1, 2, 3});
        buffers.give(first);
        ByteBuffer again = buffers.take();
        assertThat(again).isSameAs(first);
        assertThat(again.hasRemaining()).as("what the last exchange left is gone").isFalse();

        ByteBuffer second = buffers.take();
        ByteBuffer third = buffers.take();
        assertThat(second).isNotSameAs(first);
        assertThat(third).isNotSameAs(second);
        buffers.give(first);
        buffers.give(second);
        buffers.give(third);
        assertThat(buffers.free()).as("kept at most the bound").isEqualTo(2);
        // identity, not ByteBuffer.equals (which compares contents: every empty buffer equals every other)
        java.util.Set<ByteBuffer> kept = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        kept.add(buffers.take());
        kept.add(buffers.take());
        assertThat(kept).hasSize(2).allMatch(b -> b == first || b == second);
        ByteBuffer fresh = buffers.take();
        assertThat(fresh != first && fresh != second && fresh != third).as("none left: a new one").isTrue();
    }

    @Test
    void guardedABufferGivenBackIsPoisonedAndNeverHandedOutAgain() {
        Http1Upstream.InputBuffers buffers = new Http1Upstream.InputBuffers(1024, 2, true);
        ByteBuffer b = buffers.take();
        BufferUtil.append(b, new byte[] {'o', 'k'});
        ByteBuffer lateView = b.duplicate(); // what a relay still holding the last chunk would read
        buffers.give(b);

        assertThat(buffers.free()).isZero();
        assertThat(buffers.take()).isNotSameAs(b);
        byte[] seen = new byte[lateView.remaining()];
        lateView.get(seen);
        assertThat(new String(seen, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("~~");
    }
}
