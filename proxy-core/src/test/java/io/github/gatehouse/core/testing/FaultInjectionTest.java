package io.github.gatehouse.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Faults for a seeded share of requests, through a real proxy to a real origin. */
class FaultInjectionTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("faults");

    private static ProxyUnderTest proxyWith(FaultInjection faults) {
        return ProxyUnderTest.of(b -> b.forward().allowAllInternalDestinations().filter(faults)).start();
    }

    private static List<Integer> statuses(FaultInjection faults, int n) throws Exception {
        origin.dispatcher(r -> MockResponse.ok("fine"));
        List<Integer> statuses = new ArrayList<>();
        try (ProxyUnderTest proxy = proxyWith(faults)) {
            var client = proxy.client();
            for (int i = 0; i < n; i++) {
                statuses.add(client.send(HttpRequest.newBuilder(origin.uri("/" + i)).build(), BodyHandlers.ofString()).statusCode());
            }
        }
        return statuses;
    }

    @Test
    void aSeedGivesTheSameErrorsToTheSameRequestsAndTheShareIsRoughlyKept() throws Exception {
        FaultInjection first = FaultInjection.builder().seed(7).error(503, 0.3).build();
        List<Integer> once = statuses(first, 40);
        List<Integer> again = statuses(FaultInjection.builder().seed(7).error(503, 0.3).build(), 40);

        assertThat(again).isEqualTo(once);
        assertThat(once).containsOnly(200, 503);
        assertThat(first.errors()).isEqualTo(once.stream().filter(s -> s == 503).count()).isBetween(4L, 24L);
        assertThat(statuses(FaultInjection.builder().seed(7).build(), 5)).containsOnly(200);
    }

    @Test
    void anErrorIsTheProxysOwnAnswerWithProxyStatusAndNeverReachesTheOrigin() throws Exception {
        origin.dispatcher(r -> MockResponse.ok("fine"));
        try (ProxyUnderTest proxy = proxyWith(FaultInjection.builder().error(502, 1.0).build())) {
            HttpResponse<String> r = proxy.client().send(HttpRequest.newBuilder(origin.uri("/x")).build(), BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(502);
            assertThat(r.body()).contains("fault injected");
            assertThat(r.headers().firstValue("Proxy-Status")).hasValueSatisfying(s -> assertThat(s).contains("error="));
        }
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void anAbortedResponseFailsAtTheClientInsteadOfLookingComplete() throws Exception {
        FaultInjection faults = FaultInjection.builder().abortResponse(1.0).build();
        origin.dispatcher(r -> MockResponse.ok("x".repeat(100_000)));
        try (ProxyUnderTest proxy = proxyWith(faults)) {
            assertThatThrownBy(() -> proxy.client().send(HttpRequest.newBuilder(origin.uri("/big")).build(),
                    BodyHandlers.ofString())).isInstanceOf(IOException.class);
            origin.dispatcher(r -> MockResponse.ok().chunks("first-", "second-", "third"));
            assertThatThrownBy(() -> proxy.client().send(HttpRequest.newBuilder(origin.uri("/chunked")).build(),
                    BodyHandlers.ofString())).isInstanceOf(IOException.class);
        }
        assertThat(faults.aborted()).isEqualTo(2);
    }

    @Test
    void latencyDelaysTheShareItIsGiven() throws Exception {
        FaultInjection faults = FaultInjection.builder().latency(Duration.ofMillis(30), 1.0).build();
        long start = System.nanoTime();
        assertThat(statuses(faults, 2)).containsOnly(200);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(60).toNanos());
        assertThat(faults.delayed()).isEqualTo(2);
        assertThatThrownBy(() -> FaultInjection.builder().error(404, 0.1)).hasMessageContaining("error status: 404");
        assertThatThrownBy(() -> FaultInjection.builder().abortResponse(1.5)).hasMessageContaining("abortResponse share: 1.5");
    }
}
