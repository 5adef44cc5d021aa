package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Options beyond the RFC defaults: targeted fields, key policy, ignoring client no-cache, must-understand. */
class PolicyOptionsTest {
    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    @Test
    void cdnCacheControlOverridesCacheControlWhenConfigured() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).targetedCacheControl("CDN-Cache-Control"));
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "no-store").header("CDN-Cache-Control", "max-age=60"));
        t.origin.serve("/b", MockResponse.ok().body("b").header("Cache-Control", "max-age=60").header("CDN-Cache-Control", "no-store"));
        t.get("/a");
        t.get("/b");
        t.advance(Duration.ofSeconds(30));
        RawHttp.Reply a = t.get("/a");
        assertThat(a.headers().get("cache-control")).isEqualTo("no-store");
        t.get("/b");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
        assertThat(t.origin.requestCount("/b")).isEqualTo(2);
    }

    @Test
    void cdnCacheControlIsIgnoredByDefault() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "no-store").header("CDN-Cache-Control", "max-age=60"));
        t.get("/a");
        t.get("/a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void keyPolicyIgnoringQueryShareEntries() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).keyPolicy(CacheKeyPolicy.ignoringQuery()));
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=60"));
        t.get("/a?utm=1");
        assertThat(t.get("/a?utm=2").bodyText()).isEqualTo("a");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void keyPolicyWithRequestHeadersSeparatesTenants() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1))
                .keyPolicy(CacheKeyPolicy.byRoute(route -> CacheKeyPolicy.uri().withRequestHeaders("X-Tenant"))));
        t.origin.serve("/a", r -> MockResponse.ok().body("for " + r.headers().get("X-Tenant")).header("Cache-Control", "max-age=60"));
        assertThat(t.get("/a", "X-Tenant: one").bodyText()).isEqualTo("for one");
        assertThat(t.get("/a", "X-Tenant: two").bodyText()).isEqualTo("for two");
        assertThat(t.get("/a", "X-Tenant: one").bodyText()).isEqualTo("for one");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
        assertThat(t.cache.purgePrefix(java.net.URI.create(t.origin.url("/a")), PurgeMode.HARD)).isEqualTo(2);
    }

    @Test
    void defaultKeyIncludesTheQuery() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=60"));
        t.get("/a?x=1");
        t.get("/a?x=2");
        t.get("/a?x=1");
        assertThat(t.origin.requestCount("/a")).isEqualTo(2);
    }

    @Test
    void ignoringClientNoCacheServesFreshEntries() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).ignoreClientNoCache(true));
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=60"));
        t.get("/a");
        t.get("/a", "Cache-Control: no-cache");
        t.get("/a", "Pragma: no-cache");
        assertThat(t.origin.requestCount("/a")).isEqualTo(1);
    }

    @Test
    void mustUnderstandStoresUnderstoodStatusesDespiteNoStore() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/ok", MockResponse.ok().body("a").header("Cache-Control", "max-age=60, no-store, must-understand"));
        t.origin.serve("/odd", MockResponse.status(299).body("a").header("Cache-Control", "max-age=60, no-store, must-understand"));
        t.get("/ok");
        t.get("/ok");
        t.get("/odd");
        t.get("/odd");
        assertThat(t.origin.requestCount("/ok")).isEqualTo(1);
        assertThat(t.origin.requestCount("/odd")).isEqualTo(2);
    }

    @Test
    void defaultStaleIfErrorAppliesWithoutTheDirective() throws Exception {
        t = CacheProxy.with(b -> b.memory(DataSize.mebibytes(1)).staleIfError(Duration.ofMinutes(5)));
        t.origin.serve("/a", MockResponse.ok().body("a").header("Cache-Control", "max-age=10"));
        t.get("/a");
        t.origin.close();
        t.advance(Duration.ofMinutes(2));
        assertThat(t.get("/a").bodyText()).isEqualTo("a");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");
        assertThat(t.loggedCacheStatus()).isEqualTo("STALE");
    }
}
