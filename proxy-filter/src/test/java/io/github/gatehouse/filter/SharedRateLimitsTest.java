package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.cluster.ClusterConfig;
import io.github.gatehouse.core.testing.OriginServer;
import io.github.gatehouse.core.testing.RawHttp;
import io.github.gatehouse.filter.testing.Wire;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A per-client rate limit shared by two instances, each with its own embedded cluster member (loopback). */
class SharedRateLimitsTest {
    @RegisterExtension
    static final OriginServer origin = OriginServer.create("rate");

    @Test
    void aClientGetsItsLimitAcrossBothInstancesNotOnEach() throws Exception {
        int first;
        int second;
        try (ServerSocket s1 = new ServerSocket(0); ServerSocket s2 = new ServerSocket(0)) {
            first = s1.getLocalPort();
            second = s2.getLocalPort();
        }
        String name = "limits-" + first;
        try (Cluster a = Cluster.join(ClusterConfig.builder().name(name).bind("127.0.0.1", first)
                        .operationTimeout(Duration.ofSeconds(2)).build());
                Cluster b = Cluster.join(ClusterConfig.builder().name(name).bind("127.0.0.1", second)
                        .member("127.0.0.1:" + first).operationTimeout(Duration.ofSeconds(2)).build());
                ProxyServer pa = Wire.forward().filter(RateLimits.builder().perClient(1, 20).cluster(a, "t").build())
                        .build().start();
                ProxyServer pb = Wire.forward().filter(RateLimits.builder().perClient(1, 20).cluster(b, "t").build())
                        .build().start()) {
            assertThat(b.members()).hasSize(2);
            int admitted = 0;
            int refused = 0;
            long started = System.nanoTime();
            for (int i = 0; i < 60; i++) {
                RawHttp.Reply r = Wire.get(i % 2 == 0 ? pa : pb, origin.baseUrl() + "/hello");
                if (r.status() == 200) {
                    admitted++;
                } else {
                    assertThat(r.status()).isEqualTo(429);
                    assertThat(r.bodyText()).contains("rate limit exceeded for client 127.0.0.1 (1/s, burst 20)");
                    refused++;
                }
            }
            long refilled = Duration.ofNanos(System.nanoTime() - started).toSeconds() + 1;
            // one bucket of 20 (+1/s), plus per instance one optimistic token and one lease of 20 / (4 * 2) = 2;
            // two separate limits would have admitted 40
            assertThat(admitted).isBetween(10, (int) (20 + refilled + 2 * 3));
            assertThat(refused).isEqualTo(60 - admitted);
        }
    }
}
