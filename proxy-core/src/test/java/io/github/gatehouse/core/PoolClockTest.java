package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.SettableClock;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A pool's slow start and outlier ejections run on the pool's clock: a test moves them without waiting. */
class PoolClockTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a");
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b");

    final SettableClock clock = SettableClock.atWholeSecond();
    final HttpClient client = HttpClient.newHttpClient();

    private static void answerWithName(MockOrigin origin, String name, int status) {
        origin.dispatcher(request -> MockResponse.status(status).body(name));
    }

    private Map<String, Integer> spread(ProxyServer proxy, int n) throws Exception {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(proxy.uri().resolve("/x")).build(),
                    HttpResponse.BodyHandlers.ofString());
            counts.merge(r.statusCode() + " " + r.body(), 1, Integer::sum);
        }
        return counts;
    }

    @Test
    void aJoiningMemberRampsUpAsTheClockMovesThroughItsSlowStart() throws Exception {
        answerWithName(a, "a", 200);
        answerWithName(b, "b", 200);
        UpstreamPool pool = UpstreamPool.builder(List.of(Upstream.of(a.baseUrl(), 100)))
                .slowStart(Duration.ofSeconds(100)).clock(clock).build();
        pool.add(Upstream.of(b.baseUrl(), 100));
        UpstreamMember joined = pool.members().get(1);
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(joined.effectiveWeight()).as("at the start of its ramp").isEqualTo(1);
            assertThat(spread(proxy, 101)).as("1 in 101 at weight 1 against 100").containsEntry("200 b", 1);

            clock.advance(Duration.ofSeconds(50));
            assertThat(joined.effectiveWeight()).as("half way").isEqualTo(50);
            assertThat(spread(proxy, 150)).containsEntry("200 b", 50).containsEntry("200 a", 100);

            clock.advance(Duration.ofSeconds(50));
            assertThat(joined.effectiveWeight()).as("ramp over").isEqualTo(100);
            assertThat(spread(proxy, 200)).containsEntry("200 b", 100).containsEntry("200 a", 100);
        }
    }

    @Test
    void anEjectedMemberComesBackWhenTheClockPassesItsEjection() throws Exception {
        answerWithName(a, "a", 200);
        answerWithName(b, "b", 503);
        UpstreamPool pool = UpstreamPool.builder(a.baseUrl(), b.baseUrl())
                .outlierDetection(OutlierDetection.defaults().consecutiveFailures(3).baseEjection(Duration.ofSeconds(30)))
                .retries(RetryPolicy.none()).clock(clock).build();
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(spread(proxy, 6)).as("round robin until the third 503 ejects b")
                    .containsEntry("503 b", 3).containsEntry("200 a", 3);
            assertThat(pool.stats().get(1).ejected()).isTrue();
            assertThat(spread(proxy, 10)).containsOnlyKeys("200 a");

            clock.advance(Duration.ofSeconds(29));
            assertThat(pool.stats().get(1).ejected()).as("a second before the ejection ends").isTrue();
            clock.advance(Duration.ofSeconds(1));
            assertThat(pool.stats().get(1).ejected()).isFalse();
            answerWithName(b, "b", 200);
            assertThat(spread(proxy, 4)).containsEntry("200 b", 2).containsEntry("200 a", 2);
        }
    }
}
