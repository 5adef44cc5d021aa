package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link UpstreamPool.Builder}: the one way to configure a pool; the configuration is fixed at build time, the
 * live pool changes only at run time, and the deprecated configuring methods refuse a pool in use.
 */
class UpstreamPoolBuilderTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a")
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b")
            .dispatcher(req -> MockResponse.ok("origin b " + req.path()));

    private static HttpResponse<String> get(ProxyServer proxy, String path) throws Exception {
        return Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + path)).build(), BodyHandlers.ofString());
    }

    @Test
    void theBuilderSetsEveryPartOfTheConfiguration() {
        LoadBalancer lb = LoadBalancing.leastRequests();
        HealthCheck check = HealthCheck.get("/health").every(Duration.ofSeconds(7));
        RetryPolicy retries = RetryPolicy.defaults().retries(3);
        OutlierDetection outliers = OutlierDetection.off();
        UpstreamPool pool = UpstreamPool.builder("http://127.0.0.1:1", "http://127.0.0.1:2")
                .balance(lb).healthCheck(check).outlierDetection(outliers).retries(retries)
                .slowStart(Duration.ofSeconds(5)).maxRequestsPerMember(9).proxyProtocol(ProxyProtocolVersion.V2)
                .protocol(UpstreamProtocol.H2C).build();

        assertThat(pool.members()).hasSize(2);
        assertThat(pool.balancer()).isSameAs(lb);
        assertThat(pool.healthCheck()).containsSame(check);
        assertThat(pool.outlierDetection()).isSameAs(outliers);
        assertThat(pool.retryPolicy()).isSameAs(retries);
        assertThat(pool.maxRequestsPerMember()).isEqualTo(9);
        assertThat(pool.proxyProtocol()).contains(ProxyProtocolVersion.V2);
        assertThat(pool.protocol()).isEqualTo(UpstreamProtocol.H2C);

        UpstreamPool copy = pool.toBuilder().maxRequestsPerMember(4).build();
        assertThat(copy).isNotSameAs(pool);
        assertThat(copy.balancer()).isSameAs(lb);
        assertThat(copy.healthCheck()).containsSame(check);
        assertThat(copy.protocol()).isEqualTo(UpstreamProtocol.H2C);
        assertThat(copy.maxRequestsPerMember()).isEqualTo(4);
        assertThat(pool.maxRequestsPerMember()).as("the original is untouched").isEqualTo(9);
    }

    @Test
    void buildChecksThatTheMembersFitTheProtocol() {
        assertThatThrownBy(() -> UpstreamPool.builder("http://127.0.0.1:1").protocol(UpstreamProtocol.H2).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("https://");
        assertThatThrownBy(() -> UpstreamPool.builder(List.of())).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @SuppressWarnings("deprecation")
    void aPoolAServerUsesRefusesTheDeprecatedConfiguringMethodsButTakesRuntimeChanges() throws Exception {
        UpstreamPool pool = UpstreamPool.builder(a.baseUrl()).balance(LoadBalancing.roundRobin()).build();
        UpstreamPool unused = UpstreamPool.of(a.baseUrl());
        assertThat(unused.retries(RetryPolicy.none())).as("not in use yet: still allowed").isNotSameAs(unused);
        try (ProxyServer proxy = ProxyServer.builder().listen(0).route(Route.any().to(pool)).accessLog(AccessLog.off())
                .build().start()) {
            assertThat(get(proxy, "/x").body()).isEqualTo("origin a /x");

            assertThatThrownBy(() -> pool.retries(RetryPolicy.none())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("runtime state").hasMessageContaining("UpstreamPool.builder");
            assertThatThrownBy(() -> pool.balance(LoadBalancing.random())).isInstanceOf(IllegalStateException.class);

            pool.add(Upstream.of(b.baseUrl()));   // runtime changes work on the live pool
            pool.drain(a.baseUrl());
            assertThat(get(proxy, "/y").body()).isEqualTo("origin b /y");
            pool.undrain(a.baseUrl());
            pool.remove(b.baseUrl());
            assertThat(get(proxy, "/z").body()).isEqualTo("origin a /z");
        }
    }
}
