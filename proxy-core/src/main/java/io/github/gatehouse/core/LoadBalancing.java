package io.github.gatehouse.core;

import io.github.gatehouse.core.internal.Balancers;

/**
 * The common {@link LoadBalancer} strategies. Each call returns a new balancer with its own state (a round-robin
 * position), so pools do not share it.
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
}
