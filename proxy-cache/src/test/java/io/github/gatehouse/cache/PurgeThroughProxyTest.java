package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.net.URI;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Purges by URL, prefix and tag, hard and soft, and the PURGE method. */
class PurgeThroughProxyTest {
    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        if (t != null) {
            t.close();
        }
    }

    private void storeThree() throws Exception {
        t.origin.serve("/img/1", r -> MockResponse.ok().body("1").header("Cache-Control", "max-age=100").header("Surrogate-Key", "img product-7")
                .header("ETag", "\"1\""));
        t.origin.serve("/img/2", MockResponse.ok().body("2").header("Cache-Control", "max-age=100").header("Surrogate-Key", "img"));
        t.origin.serve("/page", MockResponse.ok().body("p").header("Cache-Control", "max-age=100").header("Surrogate-Key", "product-7"));
        for (String p : new String[] {"/img/1", "/img/2", "/page"}) {
            RawHttp.Reply r = t.get(p);
            assertThat(r.headers()).as("tag header is not sent to clients").doesNotContainKey("surrogate-key");
        }
    }

    @Test
    void hardPurgeByUrlPrefixAndTag() throws Exception {
        t = CacheProxy.memory();
        storeThree();
        assertThat(t.cache.stats().entries()).isEqualTo(3);

        assertThat(t.cache.purge(URI.create(t.origin.url("/page")), PurgeMode.HARD)).isEqualTo(1);
        t.get("/page");
        assertThat(t.origin.requestCount("/page")).isEqualTo(2);

        assertThat(t.cache.purgePrefix(URI.create(t.origin.url("/img/")), PurgeMode.HARD)).isEqualTo(2);
        t.get("/img/1");
        t.get("/img/2");
        assertThat(t.origin.requestCount("/img/1")).isEqualTo(2);

        assertThat(t.cache.purgeTag("product-7", PurgeMode.HARD)).isEqualTo(2);
        t.get("/img/1");
        t.get("/img/2");
        t.get("/page");
        assertThat(t.origin.requestCount("/img/1")).isEqualTo(3);
        assertThat(t.origin.requestCount("/img/2")).isEqualTo(2);
        assertThat(t.origin.requestCount("/page")).isEqualTo(3);
        assertThat(t.cache.stats().purged()).isEqualTo(5);
    }

    @Test
    void softPurgeMakesTheEntryRevalidate() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/img/1", r -> r.headers().get("If-None-Match") != null ? MockResponse.status(304).header("ETag", "\"1\"")
                : MockResponse.ok().body("1").header("Cache-Control", "max-age=100").header("ETag", "\"1\""));
        t.get("/img/1");
        assertThat(t.cache.purgeTag("none", PurgeMode.SOFT)).isZero();
        assertThat(t.cache.purge(URI.create(t.origin.url("/img/1")), PurgeMode.SOFT)).isEqualTo(1);
        assertThat(t.get("/img/1").bodyText()).isEqualTo("1");
        assertThat(t.origin.requestCount("/img/1")).isEqualTo(2);
        assertThat(t.origin.takeRequest().headers().get("If-None-Match")).isNull();
        assertThat(t.origin.takeRequest().headers().get("If-None-Match")).isEqualTo("\"1\"");
        t.get("/img/1");
        assertThat(t.origin.requestCount("/img/1")).isEqualTo(2);
    }

    @Test
    void purgeMethodFromAllowedClientsRemovesTheEntryWithoutReachingTheOrigin() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).purgeMethodFrom("127.0.0.0/8"));
        storeThree();
        RawHttp.Reply purge = t.send("PURGE", "/page");
        assertThat(purge.status()).isEqualTo(200);
        assertThat(purge.bodyText()).contains("purged 1");
        for (int stored = 0; stored < 3; stored++) {
            t.loggedCacheStatus();                               // the three GETs of storeThree()
        }
        // loggedCacheStatus() is String.valueOf(...): "null" when the access log had no status, so compare the value
        assertThat(t.loggedCacheStatus()).isEqualTo("PURGE");
        assertThat(t.send("PURGE", "/page").status()).isEqualTo(404);
        assertThat(t.origin.requestCount()).isEqualTo(3);
        t.get("/page");
        assertThat(t.origin.requestCount("/page")).isEqualTo(2);
    }

    @Test
    void purgeMethodFromOtherClientsIsRefused() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).purgeMethodFrom("10.0.0.0/8"));
        storeThree();
        RawHttp.Reply purge = t.send("PURGE", "/page");
        assertThat(purge.status()).isEqualTo(403);
        assertThat(purge.bodyText()).contains("not allowed from 127.0.0.1");
        t.get("/page");
        assertThat(t.origin.requestCount("/page")).isEqualTo(1);
    }

    @Test
    void builderRejectsBadArgumentsNamingThem() {
        t = null;
        assertThatThrownBy(() -> HttpCaches.builder().build()).hasMessageContaining("no store configured");
        assertThatThrownBy(() -> HttpCaches.builder().memory(DataSize.bytes(0))).hasMessageContaining("memory capacity: 0B");
        assertThatThrownBy(() -> HttpCaches.builder().memory(DataSize.bytes(10)).memory(DataSize.bytes(10)))
                .hasMessageContaining("memory was already set to 10B");
        assertThatThrownBy(() -> HttpCaches.builder().forceTtl(100, java.time.Duration.ZERO)).hasMessageContaining("status: 100");
        assertThatThrownBy(() -> HttpCaches.builder().purgeMethodFrom("nonsense")).isInstanceOf(IllegalArgumentException.class);
    }
}
