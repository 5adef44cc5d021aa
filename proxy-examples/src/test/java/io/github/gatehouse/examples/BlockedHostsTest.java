package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.ProxyUnderTest;
import io.github.gatehouse.filter.HostRules;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's "Testing with Gatehouse" example, as written there (keep the two in step). */
class BlockedHostsTest {
    @RegisterExtension static final MockOrigin origin = MockOrigin.create();
    @RegisterExtension static final ProxyUnderTest proxy = ProxyUnderTest.of(b -> b
            .forward()
            .allowAllInternalDestinations()                  // the origin listens on loopback
            .filter(HostRules.deny("ads.example")));

    @Test
    void deniedHostsGet403AndOthersReachTheOrigin() throws Exception {
        origin.enqueue(MockResponse.ok("hello"));
        HttpClient client = proxy.client();                  // java.net.http, through the proxy

        HttpResponse<String> denied = client.send(HttpRequest.newBuilder(URI.create("http://ads.example/")).build(), BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(403);

        HttpResponse<String> allowed = client.send(HttpRequest.newBuilder(origin.uri("/hello")).build(), BodyHandlers.ofString());
        assertThat(allowed.body()).isEqualTo("hello");
        assertThat(origin.takeRequest().header("Via")).isPresent();
        assertThat(origin.requestCount()).isEqualTo(1);
    }
}
