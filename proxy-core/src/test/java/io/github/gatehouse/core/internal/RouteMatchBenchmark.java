package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Route matching as {@code RelayHandler.resolveTarget} does it: normalise the host, then try the routes in order,
 * first match wins. 50 routes: 20 exact hosts with path prefixes, 20 wildcard hosts, 10 host-less path prefixes;
 * the last one is {@code Route.any()}. Requests hit the first route, one in the middle, the catch-all at the end,
 * and (without the catch-all) nothing.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RouteMatchBenchmark {
    private List<Route> routes;
    private List<Route> routesWithoutCatchAll;

    @Setup
    public void setUp() {
        List<Route> r = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            r.add(Route.host("app" + i + ".shop.example").pathPrefix("/api/v" + (i % 3 + 1)).to("http://10.0.0." + i + ":8080"));
        }
        for (int i = 0; i < 20; i++) {
            r.add(Route.host("*.tenant" + i + ".example").to("http://10.0.1." + i + ":8080"));
        }
        for (int i = 0; i < 9; i++) {
            r.add(Route.any().pathPrefix("/static" + i).stripPrefix().to("http://10.0.2." + i + ":8080"));
        }
        routesWithoutCatchAll = List.copyOf(r);
        r.add(Route.any().to(io.github.gatehouse.core.UpstreamPool.of("http://10.0.3.1:8080")));
        routes = List.copyOf(r);
    }

    private static Route match(List<Route> routes, String rawHost, String path) {
        String host = RequestHeadImpl.normalizeHost(rawHost);
        for (Route route : routes) {
            if (ApiAccess.routes().matches(route, host, path)) {
                return route;
            }
        }
        return null;
    }

    @Benchmark
    public Route first() {
        return match(routes, "App0.Shop.Example", "/api/v1/orders/42");
    }

    @Benchmark
    public Route middleWildcard() {
        return match(routes, "eu.tenant12.example", "/dashboard");
    }

    @Benchmark
    public Route lastCatchAll() {
        return match(routes, "www.other.example", "/index.html");
    }

    @Benchmark
    public Route noMatch() {
        return match(routesWithoutCatchAll, "www.other.example", "/index.html");
    }
}
