package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.GridStore;
import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A shared cache whose cluster member is gone (stopped as a crash would): every grid operation fails, at once or
 * later, and the cache behaves as a local one: a miss goes upstream and is stored in the near tier, the next request
 * is a hit there, and no client sees an error.
 */
class SharedCacheWithoutItsClusterTest {

    @Test
    void aDeadMemberMakesMissesThatAreStoredLocallyAndHitsFromTheNearTierNeverErrors() throws Exception {
        MutableClock clock = MutableClock.atWholeSecond();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (MockOrigin origin = MockOrigin.named("origin").datesFrom(clock).start()) {
            Cluster cluster = Cluster.join(ClusterConfig.builder().name("alone-" + port).bind("127.0.0.1", port)
                    .operationTimeout(Duration.ofSeconds(1)).build());
            SharedCache cache = HttpCaches.builder().clock(clock).memory(DataSize.mebibytes(4)).cluster(cluster).build();
            try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache)
                    .upstreamTimeout(Duration.ofSeconds(5)).build().start()) {
                origin.serve("/alone", MockResponse.ok().body("served anyway").header("Cache-Control", "max-age=100"));
                cluster.kill();
                String request = "GET " + origin.url("/alone") + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                        + "\r\nConnection: close\r\n\r\n";

                RawHttp.Reply first = RawHttp.exchange(proxy.port(), request);
                RawHttp.Reply second = RawHttp.exchange(proxy.port(), request);

                assertThat(first.status()).isEqualTo(200);
                assertThat(first.bodyText()).isEqualTo("served anyway");
                assertThat(first.headers().get("cache-status")).contains("fwd=uri-miss").contains("stored");
                assertThat(second.status()).isEqualTo(200);
                assertThat(second.headers().get("cache-status")).as("from the near tier").contains("hit");
                assertThat(origin.requestCount("/alone")).isEqualTo(1);
                assertThat(((GridStore) cache.store()).gridFailures()).isPositive();
            } finally {
                cache.close();
            }
        }
    }
}
