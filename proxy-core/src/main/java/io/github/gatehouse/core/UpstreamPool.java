package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;

/**
 * The upstream servers of a reverse route and the strategy that spreads requests over them.
 *
 * <p>Immutable and thread-safe: {@link #balance} returns a new pool. The balancer is shared by all exchanges of
 * the route.
 *
 * <pre>{@code
 * UpstreamPool pool = UpstreamPool.of("http://10.0.0.1:8080", "http://10.0.0.2:8080")
 *         .balance(LoadBalancing.random());
 * }</pre>
 */
public final class UpstreamPool {
    private final List<Upstream> members;
    private final LoadBalancer balancer;

    private UpstreamPool(List<Upstream> members, LoadBalancer balancer) {
        this.members = members;
        this.balancer = balancer;
    }

    /**
     * A pool of the given base URLs, balanced round robin.
     *
     * @throws IllegalArgumentException if no URL is given or one is not a valid upstream URL
     */
    public static UpstreamPool of(String... urls) {
        requireNonNull(urls, "urls");
        List<Upstream> list = new ArrayList<>();
        for (String url : urls) {
            list.add(Upstream.of(url));
        }
        return of(list);
    }

    /** A pool of the given members, balanced round robin. */
    public static UpstreamPool of(List<Upstream> members) {
        requireNonNull(members, "members");
        checkArgument(!members.isEmpty(), "members: empty (expected: at least one upstream)");
        return new UpstreamPool(List.copyOf(members), LoadBalancing.roundRobin());
    }

    /** This pool with another balancing strategy. */
    public UpstreamPool balance(LoadBalancer balancer) {
        return new UpstreamPool(members, requireNonNull(balancer, "balancer"));
    }

    /** The members, in the order given. */
    public List<Upstream> members() {
        return members;
    }

    /** The balancing strategy. */
    public LoadBalancer balancer() {
        return balancer;
    }

    @Override
    public String toString() {
        return "UpstreamPool" + members;
    }
}
