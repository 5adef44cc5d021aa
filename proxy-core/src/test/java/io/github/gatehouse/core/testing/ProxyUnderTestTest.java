package io.github.gatehouse.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.Verdict;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The kit's proxy extension, in a static field (forward) and an instance field (reverse, per test). */
class ProxyUnderTestTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("put");

    @RegisterExtension
    static final ProxyUnderTest forward = ProxyUnderTest.of(b -> b.forward().allowAllInternalDestinations()
            .filter(x -> x.request().host().equals("blocked.test") ? Verdict.deny("blocked.test is denied") : Verdict.proceed()));

    @RegisterExtension
    final ProxyUnderTest reverse = ProxyUnderTest.of(b -> b.route(Route.any().to(UpstreamPool.of(origin.baseUrl()))));

    @Test
    void forwardProxyRelaysToTheOriginAndItsFiltersAnswerWithProxyStatus() throws Exception {
        origin.enqueue(MockResponse.ok("hello"));
        HttpResponse<String> ok = forward.client().send(HttpRequest.newBuilder(origin.uri("/hi")).build(), BodyHandlers.ofString());
        assertThat(ok.body()).isEqualTo("hello");
        assertThat(origin.takeRequest().header("Via")).hasValueSatisfying(via -> assertThat(via).startsWith("1.1 "));

        HttpResponse<String> denied = forward.client().send(
                HttpRequest.newBuilder(URI.create("http://blocked.test/")).build(), BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(403);
        assertThat(denied.body()).contains("blocked.test is denied");
        assertThat(denied.headers().firstValue("Proxy-Status")).hasValueSatisfying(
                s -> assertThat(s).contains("error=http_request_denied"));
        assertThat(origin.requestCount()).isEqualTo(1);
        assertThat(forward.server().port()).isEqualTo(forward.port()).isPositive();
    }

    @Test
    void anInstanceFieldGivesEachTestItsOwnReverseProxyOnAnEphemeralPort() throws Exception {
        origin.enqueue(MockResponse.ok("via reverse"));
        HttpResponse<String> r = reverse.directClient().send(HttpRequest.newBuilder(reverse.uri("/r")).build(),
                BodyHandlers.ofString());
        assertThat(r.body()).isEqualTo("via reverse");
        assertThat(reverse.port()).isNotEqualTo(forward.port());
        assertThat(origin.takeRequest().target()).isEqualTo("/r");
    }

    @Test
    void outsideJUnitItStartsAndClosesByHandAndSaysWhenItIsNotRunning() {
        ProxyUnderTest manual = ProxyUnderTest.of(ProxyServer.Builder::forward);
        assertThatThrownBy(manual::server).isInstanceOf(IllegalStateException.class).hasMessageContaining("not running");
        try (manual) {
            assertThat(manual.start().server().isRunning()).isTrue();
        }
        assertThatThrownBy(manual::port).isInstanceOf(IllegalStateException.class);
    }
}
