package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.Balancers;
import java.util.function.Function;

/**
 * The common {@link LoadBalancer} strategies. Each call returns a new balancer with its own state, so pools do not
 * share it.
 */
public final class LoadBalancing {
    private LoadBalancing() {
    }

    /** Each member in turn, weights taken into account smoothly (nginx's smooth weighted round robin). */
    public static LoadBalancer roundRobin() {
        return Balancers.smoothWeightedRoundRobin();
    }

    /** A member at random, in proportion to its weight. */
    public static LoadBalancer random() {
        return Balancers.weightedRandom();
    }

    /**
     * Least outstanding requests by the power of two random choices: two members drawn at random (by weight), the
     * one with fewer requests in flight per unit of weight wins.
     */
    public static LoadBalancer leastRequests() {
        return Balancers.leastRequests();
    }

    /**
     * Consistent hashing on a key taken from each exchange (a ring with 160 virtual nodes per unit of weight), with
     * bounded load: a member already carrying more than 1.25 times the average load is skipped for the next one on
     * the ring, so one hot key cannot overload one member. Adding or removing a member moves about 1/N of the keys.
     * Exchanges whose key is null are placed at random.
     */
    public static LoadBalancer consistentHash(Function<Exchange, String> key) {
        return Balancers.consistentHash(requireNonNull(key, "key"));
    }

    /** Consistent hashing on the client's IP address. */
    public static LoadBalancer hashByClientAddress() {
        return consistentHash(e -> e.clientAddress().getAddress() == null ? e.clientAddress().getHostString()
                : e.clientAddress().getAddress().getHostAddress());
    }

    /** Consistent hashing on a request header's value. */
    public static LoadBalancer hashByHeader(String name) {
        requireNonNull(name, "name");
        return consistentHash(e -> e.request().headers().get(name));
    }

    /** Consistent hashing on a cookie's value. */
    public static LoadBalancer hashByCookie(String name) {
        requireNonNull(name, "name");
        return consistentHash(e -> {
            for (String header : e.request().headers().getAll("Cookie")) {
                for (String pair : header.split(";")) {
                    String p = pair.trim();
                    if (p.startsWith(name + "=")) {
                        return p.substring(name.length() + 1);
                    }
                }
            }
            return null;
        });
    }

    /** Consistent hashing on the request URL (path and query): each URL sticks to one member, as a cache tier wants. */
    public static LoadBalancer hashByUrl() {
        return consistentHash(e -> e.request().path() + e.request().query().map(q -> "?" + q).orElse(""));
    }
}
