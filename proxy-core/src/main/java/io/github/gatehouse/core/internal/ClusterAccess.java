package io.github.gatehouse.core.internal;

import com.hazelcast.core.HazelcastInstance;
import io.github.gatehouse.core.cluster.Cluster;
import java.util.function.Function;

/**
 * The shared stores' way to a {@link Cluster}'s embedded Hazelcast member, which is not public API (so that the
 * public API names no Hazelcast type, and a Hazelcast upgrade is not a Gatehouse API change). Like {@link ApiAccess},
 * but a class of its own: only code that already holds a {@code Cluster} loads it, so a single instance without
 * Hazelcast on its class path never does.
 *
 * <p>Thread safety: the hook is set once, by {@code Cluster}'s class initialiser, and read through a volatile field.
 */
public final class ClusterAccess {
    private static volatile Function<Cluster, HazelcastInstance> hazelcast;

    private ClusterAccess() {
    }

    /** Called once by {@link Cluster}'s class initialiser. */
    public static void setHazelcast(Function<Cluster, HazelcastInstance> hook) {
        if (hazelcast != null) {
            throw new IllegalStateException("the cluster hook is already set");
        }
        hazelcast = hook;
    }

    /**
     * The embedded member of {@code cluster}. What a caller puts in it is shared with every member: only Gatehouse's
     * shared stores (cache tier, limits, lockouts) use it.
     */
    public static HazelcastInstance hazelcast(Cluster cluster) {
        return hazelcast.apply(cluster); // set: holding a Cluster means its class was initialised
    }
}
