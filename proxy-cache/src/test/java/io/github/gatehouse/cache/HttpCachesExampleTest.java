package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import org.junit.jupiter.api.Test;

/** Keeps the Javadoc example of {@link HttpCaches} compiling and working. */
class HttpCachesExampleTest {
    @Test
    void theJavadocExampleBuildsAndStarts() {
        Route route = Route.host("shop.example").to(io.github.gatehouse.core.UpstreamPool.of("http://127.0.0.1:9"));
        // --- copied from the HttpCaches Javadoc ---
        SharedCache cache = HttpCaches.builder()
            .memory(DataSize.mebibytes(256))
            .maxObjectSize(DataSize.mebibytes(8))
            .purgeMethodFrom("127.0.0.1/32")
            .build();
        ProxyServer proxy = ProxyServer.builder().listen(0).route(route).cache(cache).build().start();
        // ---
        try (proxy; cache) {
            assertThat(proxy.isRunning()).isTrue();
            assertThat(cache.stats().entries()).isZero();
            assertThat(cache.toString()).contains("memory 256MiB");
            assertThat(HttpCaches.memory(DataSize.kibibytes(64))).isInstanceOf(io.github.gatehouse.core.HttpCache.class);
        }
    }
}
