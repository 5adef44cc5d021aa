package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.MemoryStore;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A store in trouble never costs the client its response; large bodies stream intact both ways. */
class StoreFailureTest {
    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    /** A store whose writers fail the way a full disk does: on write, or at commit. */
    static final class TroubledStore implements CacheStore {
        final MemoryStore delegate = new MemoryStore(1 << 24, 1 << 24);
        final boolean failOnWrite;

        TroubledStore(boolean failOnWrite) {
            this.failOnWrite = failOnWrite;
        }

        @Override
        public Optional<StoredEntry> get(String key) {
            return delegate.get(key);
        }

        @Override
        public Collection<String> keys() {
            return delegate.keys();
        }

        @Override
        public Writer begin(String key, EntryHead head) {
            return new Writer() {
                @Override
                public boolean write(ByteBuffer chunk) {
                    return !failOnWrite;
                }

                @Override
                public CompletionStage<Void> commit() {
                    return CompletableFuture.failedFuture(new IOException("disk full"));
                }

                @Override
                public void abort() {
                }
            };
        }

        @Override
        public boolean updateHead(String key, EntryHead head) {
            return delegate.updateHead(key, head);
        }

        @Override
        public boolean remove(String key) {
            return delegate.remove(key);
        }

        @Override
        public long entryCount() {
            return delegate.entryCount();
        }

        @Override
        public long sizeBytes() {
            return delegate.sizeBytes();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aStoreThatFailsOnWriteOrCommitLeavesTheClientResponseWhole() throws Exception {
        for (boolean failOnWrite : new boolean[] {true, false}) {
            if (t != null) {
                t.close();
            }
            t = CacheProxy.with(b -> b.store(new TroubledStore(failOnWrite)));
            t.origin.serve("/a", MockResponse.ok().body("x".repeat(100_000)).header("Cache-Control", "max-age=100"));
            RawHttp.Reply first = t.get("/a");
            assertThat(first.body()).hasSize(100_000);
            assertThat(first.closedCleanly()).isTrue();
            RawHttp.Reply second = t.get("/a");
            assertThat(second.body()).hasSize(100_000);
            assertThat(t.origin.requestCount("/a")).as("failOnWrite=" + failOnWrite).isEqualTo(2);
            assertThat(t.cache.stats().stores()).isZero();
        }
    }

    @Test
    void largeBinaryBodiesAreStoredAndServedByteForByte() throws Exception {
        t = CacheProxy.memory();
        byte[] body = new byte[3 * 1024 * 1024 + 17];
        new Random(1).nextBytes(body);
        t.origin.serve("/bin", MockResponse.status(200).body(body).header("Cache-Control", "max-age=100"));
        assertThat(t.get("/bin").body()).isEqualTo(body);
        RawHttp.Reply hit = t.get("/bin");
        assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(hit.body()).isEqualTo(body);
        assertThat(t.cache.stats().bytesStored()).isEqualTo(body.length);
        assertThat(t.cache.stats().bytesServed()).isEqualTo(body.length);
        assertThat(t.cache.stats().sizeBytes()).isGreaterThan(body.length);
    }
}
