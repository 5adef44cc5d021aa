package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.cluster.Cluster;
import java.util.List;

/**
 * The members of a {@link Cluster} as cache peers: each publishes its proxy listener URL there
 * ({@link Cluster#publishCachePeer}); the shared secret of peer requests is the cluster's.
 *
 * <p><b>Threading.</b> Thread-safe, as the cluster is.
 */
public final class ClusterPeerDirectory implements PeerRouting.Directory {
    private final Cluster cluster;

    public ClusterPeerDirectory(Cluster cluster) {
        this.cluster = cluster;
    }

    @Override
    public List<String> peers() {
        return cluster.cachePeers();
    }

    @Override
    public AutoCloseable publish(String selfUrl) {
        return cluster.publishCachePeer(selfUrl);
    }

    @Override
    public AutoCloseable onChange(Runnable onChange) {
        return cluster.onCachePeersChange(onChange);
    }

    @Override
    public String secret() {
        return cluster.sharedSecret("cache-peers");
    }

    @Override
    public String defaultHost() {
        return cluster.config().bindHost();
    }

    @Override
    public String toString() {
        return "ClusterPeerDirectory[" + cluster + "]";
    }
}
