package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.junit.jupiter.api.Test;

/** The diagnostic pool catches a buffer used after its release, and leaves correct use alone. */
class GuardedBufferPoolTest {

    @Test
    void aBufferChangedAfterItsReleaseIsCaughtAndCorrectUseIsNot() {
        GuardedBufferPool pool = new GuardedBufferPool();
        RetainableByteBuffer.Mutable ok = pool.acquire(64, false);
        ok.getByteBuffer().clear();
        ok.getByteBuffer().put((byte) 'x').flip();
        ok.release();
        RetainableByteBuffer.Mutable late = pool.acquire(64, false);
        ByteBuffer stale = late.getByteBuffer();
        late.release();
        stale.clear();
        stale.put((byte) 'y'); // a late writer through a stale reference
        pool.clear();
        assertThat(pool.violations()).isEqualTo(1);
        assertThat(ok.getByteBuffer().get(0)).as("released content is poisoned").isEqualTo((byte) '~');
    }

    @Test
    void aFillOrFlushOnAReleasedBufferIsCaughtAsItHappens() {
        GuardedBufferPool pool = new GuardedBufferPool();
        RetainableByteBuffer.Mutable b = pool.acquire(16, false);
        ByteBuffer stale = b.getByteBuffer();
        pool.checkIo("fill", stale);
        assertThat(pool.violations()).isZero();
        b.release();
        pool.checkIo("fill", stale);
        assertThat(pool.violations()).isEqualTo(1);
    }
}
