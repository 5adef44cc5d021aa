package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class LoadBalancerTest {
    @RegisterExtension
    static final MockOrigin one = MockOrigin.named("one")
            .dispatcher(req -> MockResponse.ok("origin one " + req.path()));
    @RegisterExtension
    static final MockOrigin two = MockOrigin.named("two")
            .dispatcher(req -> MockResponse.ok("origin two " + req.path()));
    @RegisterExtension
    static final MockOrigin three = MockOrigin.named("three")
            .dispatcher(req -> MockResponse.ok("origin three " + req.path()));

    private static List<String> hits(ProxyServer proxy, int n) throws Exception {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String body = RawHttp.exchange(proxy.port(), "GET /x HTTP/1.1\r\nHost: lb.example\r\nConnection: close\r\n\r\n").bodyText();
            names.add(body.split(" ")[1]);
        }
        return names;
    }

    @Test
    void roundRobinVisitsEachMemberInTurn() throws Exception {
        UpstreamPool pool = UpstreamPool.of(one.baseUrl(), two.baseUrl(), three.baseUrl());
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(hits(proxy, 6)).containsExactly("one", "two", "three", "one", "two", "three");
        }
    }

    @Test
    void smoothWeightedRoundRobinInterleavesByWeight() throws Exception {
        UpstreamPool pool = UpstreamPool.of(List.of(Upstream.of(one.baseUrl(), 5), Upstream.of(two.baseUrl()), Upstream.of(three.baseUrl())));
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(pool)).build().start()) {
            assertThat(hits(proxy, 7)).containsExactly("one", "one", "two", "one", "three", "one", "one");
        }
    }

    @Test
    void customBalancerIsUsedAndRandomSpreadsLoad() throws Exception {
        LoadBalancer alwaysLast = (candidates, exchange) -> candidates.get(candidates.size() - 1);
        try (ProxyServer proxy = ProxyServer.builder()
                .route(Route.any().to(UpstreamPool.of(one.baseUrl(), two.baseUrl()).balance(alwaysLast))).build().start()) {
            assertThat(hits(proxy, 3)).containsOnly("two");
        }
        try (ProxyServer proxy = ProxyServer.builder()
                .route(Route.any().to(UpstreamPool.of(one.baseUrl(), two.baseUrl()).balance(LoadBalancing.random()))).build().start()) {
            Map<String, Integer> counts = new HashMap<>();
            hits(proxy, 60).forEach(n -> counts.merge(n, 1, Integer::sum));
            assertThat(counts.keySet()).containsExactlyInAnyOrder("one", "two");
        }
    }
}
