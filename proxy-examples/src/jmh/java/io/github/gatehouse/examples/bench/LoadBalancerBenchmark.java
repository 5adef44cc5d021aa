package io.github.gatehouse.examples.bench;

import io.github.gatehouse.core.LoadBalancer;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.internal.ApiAccess;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link LoadBalancer#pick} for {@link LoadBalancing#roundRobin()} (synchronized smooth weighted round robin),
 * {@link LoadBalancing#random()} and {@link LoadBalancing#leastRequests()}, over 2 or 8 equal-weight members, on
 * one thread and on two threads sharing the balancer (as the I/O threads of one route do); and
 * {@link UpstreamPool#select}, the relay's phase 6 (filter available members, then pick). The exchange argument
 * is not used by these strategies.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LoadBalancerBenchmark {
    @Param({"2", "8"})
    public int members;

    private UpstreamPool roundRobinPool;
    private List<UpstreamMember> candidates;
    private LoadBalancer roundRobin;
    private LoadBalancer random;
    private LoadBalancer leastRequests;

    @Setup
    public void setUp() {
        String[] urls = new String[members];
        for (int i = 0; i < members; i++) {
            urls[i] = "http://10.0.0." + (i + 1) + ":8080";
        }
        roundRobinPool = UpstreamPool.of(urls).balance(LoadBalancing.roundRobin());
        candidates = List.copyOf(roundRobinPool.members());
        roundRobin = roundRobinPool.balancer();
        random = LoadBalancing.random();
        leastRequests = LoadBalancing.leastRequests();
    }

    @Benchmark
    public UpstreamMember roundRobin() {
        return roundRobin.pick(candidates, null);
    }

    @Benchmark
    public UpstreamMember random() {
        return random.pick(candidates, null);
    }

    @Benchmark
    public UpstreamMember leastRequests() {
        return leastRequests.pick(candidates, null);
    }

    @Benchmark
    public Optional<UpstreamMember> poolSelectRoundRobin() {
        return ApiAccess.pools().select(roundRobinPool, null, List.of()); // as the relay picks
    }

    @Benchmark
    @Threads(2)
    public UpstreamMember roundRobinTwoThreads() {
        return roundRobin.pick(candidates, null);
    }

    @Benchmark
    @Threads(2)
    public UpstreamMember randomTwoThreads() {
        return random.pick(candidates, null);
    }
}
