package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.cluster.Cluster;
import io.github.gatehouse.core.internal.PeerRouting;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Cache-peer routing (CARP, like Squid's {@code cache_peer ... carp}): the instances of a group spread the cache's
 * keys over themselves by rendezvous hashing of the URL, so that each object has one home. A miss for a key whose
 * home is another instance is sent there first, with a short timeout; when the home fails (connection refused, no
 * response head within the timeout, an error answered by the home itself rather than relayed from the origin), the
 * miss goes to the origin as usual. Hand one to {@link ProxyServer.Builder#cachePeers}.
 *
 * <p><b>Members.</b> The static list ({@link Builder#peer}, the other instances' listener URLs), the members of a
 * {@link Cluster} ({@link Builder#cluster}: each instance publishes its own listener URL in the cluster when its
 * proxy starts, and withdraws it when it stops or dies), or both; plus this instance ({@link Builder#self}, by default
 * {@code http://bindAddress:port} of the proxy's plain listener). Every instance must see the same URLs for the same
 * instances: a key's home is the same everywhere only then. Removing an instance moves only the keys it was home to.
 *
 * <p><b>What is routed.</b> {@code GET} and {@code HEAD} without a body that the cache missed (a plain miss: not a
 * hit, not the revalidation of an entry this instance holds), in forward mode ({@code http://} and {@code https://}
 * targets, sent to the home in absolute form) and on reverse routes for requests that came in on the plain listener
 * (sent in origin form with the client's {@code Host}). The home serves the request from its cache or fetches it
 * from the origin, stores it if it may, and never sends it on to another instance. The instance that forwarded it
 * does not store the home's answer (the body stays on its home), so with CARP alone an object is held once in the
 * group; a miss that fell back to the origin is stored by the instance that fetched it.
 *
 * <p><b>Trust.</b> A peer request carries the field {@code Gatehouse-Peer}. The home skips authentication, request
 * filters and response filters for it (they ran on the instance the client reached), so it accepts the field only
 * from a peer: with a shared secret ({@link Builder#secret}, or the cluster's, made by its first member), the field's
 * value must be it; without one, the request must come from the address of a member. Any other request that carries
 * the field gets {@code 403}. The field never goes to the origin. Keep the proxies' listeners, like the cluster port,
 * where only clients and peers reach them, and give each instance its own {@code Via} pseudonym (the default is
 * unique): a peer request that comes back to an instance it passed is a loop ({@code 508}), and falls back.
 *
 * <p>One instance belongs to one {@link ProxyServer} (it keeps that server's own URL and counters); a reconfiguration
 * that hands the same instance keeps them.
 *
 * <pre>{@code
 * CachePeers peers = CachePeers.builder()
 *     .cluster(cluster)                         // and/or .peer("http://10.0.0.2:8080").peer("http://10.0.0.3:8080")
 *     .timeout(Duration.ofSeconds(1))
 *     .build();
 * ProxyServer proxy = ProxyServer.builder().listen("10.0.0.1", 8080).route(...)
 *     .cache(HttpCaches.memory(DataSize.mebibytes(256))).cachePeers(peers).build().start();
 * }</pre>
 *
 * <p><b>Threading.</b> Immutable configuration; {@link #stats} and {@link #members} are thread-safe and do not block.
 */
public final class CachePeers {
    /** The default timeout: connecting to the home and its response head. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);

    private final PeerRouting routing;

    private CachePeers(PeerRouting routing) {
        this.routing = routing;
    }

    /** A builder: no member yet, a 1 s timeout. */
    public static Builder builder() {
        return new Builder();
    }

    /** Routing over the static list {@code peerUrls} (the other instances' {@code http://host:port}) and this one. */
    public static CachePeers of(String... peerUrls) {
        Builder b = builder();
        for (String u : peerUrls) {
            b.peer(u);
        }
        return b.build();
    }

    /** The instances keys are spread over now, this one included once its proxy started; sorted by URL. */
    public List<String> members() {
        return routing.peers();
    }

    /** This instance's URL as the others reach it, once its proxy started. */
    public Optional<String> self() {
        return Optional.ofNullable(routing.self());
    }

    /** How long the home may take to accept the connection and send its response head. */
    public Duration timeout() {
        return routing.timeout();
    }

    /**
     * The home of the object at {@code url} ({@code scheme://host:port/path?query}, normalised as the cache keys it:
     * lower-case scheme and host, explicit port), among {@link #members()}; this instance's URL when it is its own. A
     * member that failed a request in the last 10 s is passed over by the routing itself, not here.
     */
    public Optional<String> homeOf(String url) {
        return Optional.ofNullable(routing.homeOf(requireNonNull(url, "url")));
    }

    /** What routing did so far on this instance. */
    public CachePeerStats stats() {
        long[] c = routing.counters();
        String self = routing.self();
        return new CachePeerStats(routing.peers(), self == null ? "" : self, c[0], c[1], c[2], c[3], c[4]);
    }

    /** The relay's side (same package: ProxyServer). */
    PeerRouting routing() {
        return routing;
    }

    @Override
    public String toString() {
        return "CachePeers" + routing.peers();
    }

    /** Configures {@link CachePeers}. Each setter checks its argument at once; not thread-safe. */
    public static final class Builder {
        private final List<String> peers = new ArrayList<>();
        private String self;
        private Duration timeout = DEFAULT_TIMEOUT;
        private String secret;
        private Cluster cluster;

        private Builder() {
        }

        /**
         * Adds an instance by its proxy listener URL, {@code http://host:port} (repeatable); this instance's own URL may
         * be in the list too, so that every instance can be given the same list.
         *
         * @throws IllegalArgumentException if it is not {@code http://host[:port]}
         */
        public Builder peer(String url) {
            peers.add(PeerRouting.normalize(requireNonNull(url, "url")));
            return this;
        }

        /**
         * Adds the members of {@code cluster}: each instance publishes its URL there when its proxy starts; the
         * peer requests carry the cluster's shared secret unless {@link #secret} is set.
         */
        public Builder cluster(Cluster cluster) {
            checkState(this.cluster == null, "cluster was already set to %s", this.cluster);
            this.cluster = requireNonNull(cluster, "cluster");
            return this;
        }

        /**
         * This instance's URL as the other instances reach it (and list it): needed when the proxy listens on every
         * interface without a cluster; by default {@code http://bindAddress:port} (with a cluster and a wildcard bind
         * address, the cluster's interface).
         */
        public Builder self(String url) {
            this.self = PeerRouting.normalize(requireNonNull(url, "url"));
            return this;
        }

        /** How long the home may take to accept the connection and send its response head (1 s by default). */
        public Builder timeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            checkArgument(timeout.compareTo(Duration.ZERO) > 0 && timeout.compareTo(Duration.ofMinutes(1)) <= 0,
                    "cache peer timeout: %s (expected: > 0 and <= 1 min)", timeout);
            this.timeout = timeout;
            return this;
        }

        /**
         * The secret every instance's peer requests carry and every home checks (the same on all instances; at least
         * 16 characters). Without it, a cluster's own secret is used, and without a cluster peers are known by their
         * address only.
         */
        public Builder secret(String secret) {
            requireNonNull(secret, "secret");
            checkArgument(secret.length() >= 16 && secret.chars().allMatch(c -> c > ' ' && c < 127),
                    "cache peer secret: %s characters (expected: at least 16 visible ASCII characters)", secret.length());
            this.secret = secret;
            return this;
        }

        /**
         * Builds the routing.
         *
         * @throws IllegalStateException if neither a peer nor a cluster was given
         */
        public CachePeers build() {
            checkState(!peers.isEmpty() || cluster != null,
                    "cache peers: no member (expected: peer(url) and/or cluster(cluster))");
            PeerRouting.Directory directory = cluster == null ? null
                    : new io.github.gatehouse.core.internal.ClusterPeerDirectory(cluster);
            return new CachePeers(new PeerRouting(peers, self, timeout, secret, directory));
        }
    }
}
