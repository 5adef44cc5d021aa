package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.internal.MemberState;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link ProxyServer#reconfigure}: the swap through the wire, exchanges in flight, listeners and pool members. */
class ReconfigureTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a")
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b")
            .dispatcher(req -> MockResponse.ok("origin b " + req.path()));

    private static ProxyServer.Builder reverseTo(UpstreamPool pool) {
        return ProxyServer.builder().listen(0).route(Route.any().to(pool)).accessLog(AccessLog.off());
    }

    private static HttpResponse<String> get(ProxyServer proxy, String path) throws Exception {
        return Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + path)).build(), BodyHandlers.ofString());
    }

    @Test
    void newExchangesTakeTheNewRoutesWhileOneInFlightFinishesOnTheOldOne() throws Exception {
        try (ProxyServer proxy = reverseTo(UpstreamPool.of(a.baseUrl())).build().start()) {
            int port = proxy.port();
            HttpClient client = Clients.direct();
            CompletableFuture<Void> release = new CompletableFuture<>();
            a.serve("/hang", MockResponse.ok("released").holdUntil(release));
            CompletableFuture<HttpResponse<String>> inFlight = client.sendAsync(
                    HttpRequest.newBuilder(URI.create(proxy.uri() + "/hang")).build(), BodyHandlers.ofString());
            a.awaitArrival(); // the origin holds it until released

            proxy.reconfigure(ProxyServer.builder().listen(0)
                    .route(Route.any().pathPrefix("/new").stripPrefix().to(UpstreamPool.of(b.baseUrl())))
                    .route(Route.any().to(UpstreamPool.of(b.baseUrl())))
                    .accessLog(AccessLog.off()));

            assertThat(get(proxy, "/new/x").body()).isEqualTo("origin b /x");
            assertThat(get(proxy, "/y").body()).isEqualTo("origin b /y");
            assertThat(inFlight).isNotDone();
            release.complete(null);
            HttpResponse<String> old = inFlight.get();
            assertThat(old.statusCode()).isEqualTo(200);
            assertThat(old.body()).isEqualTo("released"); // from a, the route it started on
            assertThat(proxy.port()).as("a port-0 listener keeps its port").isEqualTo(port);
        }
    }

    @Test
    void membersWithTheSameUrlKeepTheirHealthDrainAndCountersAcrossAReconfiguration() throws Exception {
        UpstreamPool first = UpstreamPool.of(List.of(Upstream.of(a.baseUrl()), Upstream.of(b.baseUrl())));
        try (ProxyServer proxy = reverseTo(first).build().start()) {
            for (int i = 0; i < 4; i++) {
                assertThat(get(proxy, "/warm").statusCode()).isEqualTo(200);
            }
            UpstreamMember memberA = first.members().get(0);
            UpstreamMember memberB = first.members().get(1);
            ((MemberState) memberA).healthy(false); // as a failed health check leaves it
            long servedByB = memberB.stats().requests();

            UpstreamPool second = UpstreamPool.of(List.of(Upstream.of(a.baseUrl()), Upstream.of(b.baseUrl(), 3)))
                    .balance(LoadBalancing.leastRequests());
            proxy.reconfigure(reverseTo(second));

            assertThat(second.members().get(0)).isSameAs(memberA);
            assertThat(second.members().get(1)).isSameAs(memberB);
            assertThat(second.members().get(0).isHealthy()).isFalse();
            assertThat(second.members().get(1).weight()).isEqualTo(3);
            for (int i = 0; i < 3; i++) {
                assertThat(get(proxy, "/after").body()).isEqualTo("origin b /after"); // a is still down
            }
            assertThat(memberB.stats().requests()).isEqualTo(servedByB + 3);
        }
    }

    @Test
    void anInvalidConfigurationChangesNothing() throws Exception {
        try (ProxyServer proxy = reverseTo(UpstreamPool.of(a.baseUrl())).build().start()) {
            int port = proxy.port();
            assertThatThrownBy(() -> proxy.reconfigure(ProxyServer.builder().listen(b.port()) // taken
                    .route(Route.any().to(UpstreamPool.of(b.baseUrl())))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot listen on 127.0.0.1:" + b.port());
            assertThatThrownBy(() -> proxy.reconfigure(ProxyServer.builder().listen(0).maxConnections(5)
                    .route(Route.any().to(UpstreamPool.of(b.baseUrl())))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot change without a restart: max connections 10000 -> 5");
            assertThatThrownBy(() -> proxy.reconfigure(ProxyServer.builder().listen(0)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("no mode configured");
            assertThat(get(proxy, "/still").body()).isEqualTo("origin a /still");
            assertThat(proxy.port()).isEqualTo(port);
        }
    }

    @Test
    void aNewListeningAddressIsBoundAndTheOldOneStopsAccepting() throws Exception {
        try (ProxyServer proxy = reverseTo(UpstreamPool.of(a.baseUrl())).build().start()) {
            URI before = proxy.uri();
            assertThat(get(proxy, "/before").body()).isEqualTo("origin a /before");
            proxy.reconfigure(ProxyServer.builder().listen("127.0.0.2", 0).route(Route.any().to(UpstreamPool.of(b.baseUrl())))
                    .accessLog(AccessLog.off()));
            assertThat(proxy.uri().getHost()).isEqualTo("127.0.0.2");
            assertThat(get(proxy, "/after").body()).isEqualTo("origin b /after");
            try (java.net.Socket s = new java.net.Socket()) {
                assertThatThrownBy(() -> s.connect(new java.net.InetSocketAddress("127.0.0.1", before.getPort())))
                        .isInstanceOf(java.net.ConnectException.class);
            }
        }
    }

    @Test
    void theReplacedAccessLogClosesOnceItsLastExchangeEndedAndTheNewOneTakesNewExchanges() throws Exception {
        CountDownLatch firstClosed = new CountDownLatch(1);
        RecordingAccessLog firstLines = new RecordingAccessLog();
        AccessLog first = new AccessLog() {
            @Override
            public void log(AccessLogEntry entry) {
                firstLines.log(entry);
            }

            @Override
            public void close() {
                firstClosed.countDown();
            }
        };
        RecordingAccessLog second = new RecordingAccessLog();
        try (ProxyServer proxy = reverseTo(UpstreamPool.of(a.baseUrl())).accessLog(first).build().start()) {
            CompletableFuture<Void> release = new CompletableFuture<>();
            a.serve("/hang", MockResponse.ok("released").holdUntil(release));
            CompletableFuture<HttpResponse<String>> inFlight = Clients.direct().sendAsync(
                    HttpRequest.newBuilder(URI.create(proxy.uri() + "/hang")).build(), BodyHandlers.ofString());
            a.awaitArrival();
            proxy.reconfigure(reverseTo(UpstreamPool.of(a.baseUrl())).accessLog(second));
            assertThat(get(proxy, "/new").statusCode()).isEqualTo(200);
            assertThat(second.take().target()).endsWith("/new");
            assertThat(firstClosed.getCount()).as("closed while an exchange still used it").isEqualTo(1);
            release.complete(null);
            assertThat(inFlight.get().body()).isEqualTo("released");
            assertThat(firstLines.take().target()).endsWith("/hang");
            firstClosed.await();
        }
    }
}
