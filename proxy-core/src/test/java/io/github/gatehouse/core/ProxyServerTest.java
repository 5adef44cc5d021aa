package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ProxyServerTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("life");

    @Test
    void builderRejectsBadValuesWithMessagesNamingThem() {
        assertThatThrownBy(() -> ProxyServer.builder().listen(70000)).hasMessage("port: 70000 (expected: 0..65535)");
        assertThatThrownBy(() -> ProxyServer.builder().connectTimeout(Duration.ZERO)).hasMessageContaining("connectTimeout: PT0S");
        assertThatThrownBy(() -> ProxyServer.builder().connectPorts(0)).hasMessageContaining("connect port: 0");
        assertThatThrownBy(() -> ProxyServer.builder().via("bad name")).hasMessageContaining("'bad name'");
        assertThatThrownBy(() -> ProxyServer.builder().trustedProxies("10.0.0.0/33")).hasMessageContaining("10.0.0.0/33");
        assertThatThrownBy(() -> ProxyServer.builder().route(Route.any())).hasMessageContaining("has no upstream");
        assertThatThrownBy(() -> ProxyServer.builder().build()).hasMessageContaining("no mode configured");
        assertThatThrownBy(() -> ProxyServer.builder().cache(new CacheSpiTest.MapCache()).cache(new CacheSpiTest.MapCache()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cache was already set");
        assertThatThrownBy(() -> ProxyServer.builder().maxRequestHeaderSize(DataSize.bytes(10))).hasMessageContaining("10B");
    }

    @Test
    void lifecycleStartPortCloseAndSeveralServersInOneJvm() throws Exception {
        origin.dispatcher(r -> MockResponse.ok("hello"));
        ProxyServer a = ProxyServer.builder().forward().allowAllInternalDestinations().build();
        assertThatThrownBy(a::port).isInstanceOf(IllegalStateException.class);
        a.start();
        try (ProxyServer b = ProxyServer.builder().forward().allowAllInternalDestinations().build().start()) {
            assertThat(a.port()).isNotEqualTo(b.port());
            assertThat(a.uri().toString()).isEqualTo("http://127.0.0.1:" + a.port());
            assertThat(a.viaName()).isNotEqualTo(b.viaName());
            for (ProxyServer p : new ProxyServer[] {a, b}) {
                HttpResponse<String> r = Clients.throughProxy(p.port()).send(HttpRequest.newBuilder(origin.uri("/hello")).build(),
                        BodyHandlers.ofString());
                assertThat(r.body()).isEqualTo("hello");
            }
            assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
        }
        int port = a.port();
        a.close();
        a.close();
        assertThat(a.isRunning()).isFalse();
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(ConnectException.class);
    }

    @Test
    void closeLetsAnExchangeInFlightFinish() throws Exception {
        ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().drainTimeout(Duration.ofSeconds(10)).build().start();
        CompletableFuture<Void> release = new CompletableFuture<>();
        origin.enqueue(MockResponse.ok("released").holdUntil(release));
        CompletableFuture<HttpResponse<String>> inFlight = Clients.throughProxy(proxy.port())
                .sendAsync(HttpRequest.newBuilder(origin.uri("/hang")).build(), BodyHandlers.ofString());
        origin.takeRequest();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(proxy::close);

        release.complete(null);

        assertThat(inFlight.get(10, TimeUnit.SECONDS).body()).isEqualTo("released");
        closing.get(15, TimeUnit.SECONDS);
        assertThat(proxy.isRunning()).isFalse();
    }
}
