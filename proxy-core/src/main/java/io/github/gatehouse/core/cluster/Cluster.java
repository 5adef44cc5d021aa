package io.github.gatehouse.core.cluster;

import static java.util.Objects.requireNonNull;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This instance's membership in a group of Gatehouse instances that share a cache tier and limits: an embedded
 * Hazelcast member, configured from a {@link ClusterConfig} with TCP-IP join on the listed members only, multicast
 * and auto-detection off, phone-home off, the member port bound to the configured interface only, and Hazelcast's
 * logging on slf4j.
 *
 * <p>The shared cache store ({@code HttpCaches.Builder.cluster}) and the shared limits ({@code RateLimits}) take a
 * {@code Cluster}; one cluster serves both. A member that loses the others goes on alone (what it shares falls back
 * to its own copy) and merges back when they are reachable again, without a restart; each membership change is
 * logged once, at INFO.
 *
 * <p><b>Security.</b> See {@link ClusterConfig}: the cluster port is unauthenticated and unencrypted; keep it on a
 * private network.
 *
 * <p><b>Threading.</b> Thread-safe. {@link #join} blocks while the member starts (a few seconds when the other
 * members are not up yet); call it at startup, not on an I/O thread.
 */
public final class Cluster implements AutoCloseable {
    static {
        // the shared stores reach the embedded member through core.internal: no Hazelcast type in the public API
        io.github.gatehouse.core.internal.ClusterAccess.setHazelcast(cluster -> cluster.hazelcast);
    }

    private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    /** The longest {@link #join} waits for the partitions to settle after joining other members. */
    private static final java.time.Duration JOIN_SETTLE = java.time.Duration.ofSeconds(10);

    private final ClusterConfig config;
    private final HazelcastInstance hazelcast;

    private Cluster(ClusterConfig config, HazelcastInstance hazelcast) {
        this.config = config;
        this.hazelcast = hazelcast;
    }

    /**
     * Starts this instance's member and joins the members {@code config} lists that are up (none need be). When it
     * joined others, it returns once the cluster {@link #isSafe is safe} (the partitions migrated to the new member and
     * their backups are in sync), or after 10 s, whichever comes first.
     *
     * @throws IllegalStateException if the member cannot start (for instance the port is taken)
     */
    public static Cluster join(ClusterConfig config) {
        requireNonNull(config, "config");
        noThreadPerCompletion();
        Config c = new Config();
        c.setInstanceName("gatehouse-" + config.name() + "-" + INSTANCES.incrementAndGet());
        c.setClusterName(config.name());
        c.setProperty("hazelcast.logging.type", "slf4j");
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.shutdownhook.enabled", "false");
        c.setProperty("hazelcast.socket.bind.any", "false");
        c.setProperty("hazelcast.wait.seconds.before.join", "0");
        // an operation on a partition that is migrating (a member just joined or left) is retried by Hazelcast; the
        // default pause (500 ms) is the whole operation timeout of a request, so a read during a migration would
        // always give up: retry sooner, and most such reads land within the timeout
        c.setProperty("hazelcast.invocation.retry.pause.millis", "50");
        // a member that lost the others merges back soon after they are reachable again
        c.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
        c.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
        NetworkConfig net = c.getNetworkConfig();
        net.setPort(config.port()).setPortAutoIncrement(config.portAutoIncrement()).setPortCount(20);
        net.getInterfaces().setEnabled(true).addInterface(config.bindHost());
        net.getRestApiConfig().setEnabled(false);
        net.getMemcacheProtocolConfig().setEnabled(false);
        JoinConfig join = net.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2).setMembers(new ArrayList<>(config.members()));
        HazelcastInstance hz;
        try {
            hz = Hazelcast.newHazelcastInstance(c);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot start the cluster member on " + config.bindHost() + ":"
                    + config.port() + ": " + e.getMessage(), e);
        }
        Cluster cluster = new Cluster(config, hz);
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                LOG.info("cluster {}: member {} joined; members now {}", config.name(), address(event.getMember()),
                        cluster.members());
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                LOG.info("cluster {}: member {} left or is unreachable; members now {} (what is not shared any more is"
                        + " served from this instance's own tier and the origin)", config.name(),
                        address(event.getMember()), cluster.members());
            }
        });
        hz.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == LifecycleEvent.LifecycleState.MERGED) {
                LOG.info("cluster {}: merged back; members now {}", config.name(), cluster.members());
            }
        });
        LOG.info("cluster {}: member {} started; members {}", config.name(), cluster.localMember(), cluster.members());
        // Hazelcast arranges its partition table lazily, on the first operation: that would be the first request's,
        // which then waits for the arrangement (over a second on two busy cores) and times out. Arrange it now.
        cluster.ownsPartitions();
        if (cluster.members().size() > 1) {
            // joined others: the partitions now migrate to this member. Wait (bounded) until they settled, so that
            // the first requests do not meet a migrating grid; the stores answer meanwhile anyway
            try {
                if (cluster.awaitSafe(2, JOIN_SETTLE)) {
                    LOG.info("cluster {}: partitions settled; members {}", config.name(), cluster.members());
                } else {
                    LOG.info("cluster {}: partitions still migrating after {}; serving meanwhile", config.name(),
                            JOIN_SETTLE);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return cluster;
    }

    /**
     * Hazelcast completes what is chained on its futures (its own delegating futures included, such as an
     * {@code IMap.getAsync}'s) on its default async executor: the common pool, or, where the common pool has a
     * parallelism of 1 (a machine with two cores), a new thread for each completion: the cluster soak's launchers on
     * two cores started about 200 threads a second each (JFR). There, Hazelcast's executor is replaced, once per JVM,
     * by a pool of daemon threads that are reused (it grows while all are busy, as a thread per task would, and idle
     * threads end after 60 s). An executor someone else set is left alone; so is everything on a machine with more
     * cores.
     */
    private static synchronized void noThreadPerCompletion() {
        if (java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() > 1) {
            return;
        }
        try {
            java.util.concurrent.Executor current =
                    com.hazelcast.internal.util.ConcurrencyUtil.getDefaultAsyncExecutor();
            // Hazelcast's own thread-per-task default is a lambda of ConcurrencyUtil
            String hazelcastDefault = com.hazelcast.internal.util.ConcurrencyUtil.class.getName() + "$$";
            if (current.getClass().getName().startsWith(hazelcastDefault)) {
                AtomicInteger n = new AtomicInteger();
                com.hazelcast.internal.util.ConcurrencyUtil.setDefaultAsyncExecutor(
                        java.util.concurrent.Executors.newCachedThreadPool(r -> {
                            Thread t = new Thread(r, "gatehouse-cluster-async-" + n.incrementAndGet());
                            t.setDaemon(true);
                            return t;
                        }));
                LOG.debug("Hazelcast's async completions run on a reused pool (common pool parallelism 1)");
            }
        } catch (RuntimeException | LinkageError e) { // an internal Hazelcast API: a later version may lack it
            LOG.debug("could not replace Hazelcast's default async executor", e);
        }
    }

    /** The configuration this member started with. */
    public ClusterConfig config() {
        return config;
    }

    /** The members this one sees now, {@code host:port}, this one included, in the cluster's order. */
    public List<String> members() {
        List<String> out = new ArrayList<>();
        if (!hazelcast.getLifecycleService().isRunning()) {
            return out;
        }
        for (Member m : hazelcast.getCluster().getMembers()) {
            out.add(address(m));
        }
        return out;
    }

    /**
     * Whether the cluster is safe: no partition is migrating and every backup is in sync
     * ({@code PartitionService.isClusterSafe}). False while a member that just joined (or left) is being rebalanced;
     * the shared stores keep answering meanwhile (a grid read that does not land in time is a miss). This call asks
     * every member: for admin pages and tests, not for each request.
     */
    public boolean isSafe() {
        return hazelcast.getLifecycleService().isRunning() && hazelcast.getPartitionService().isClusterSafe();
    }

    /**
     * Whether this member owns at least one partition. Asking arranges the partition table if no operation did yet;
     * a member that joined owns none until the rebalancing that its arrival starts has moved some to it (until then
     * {@code isClusterSafe} may still say true, as nothing is migrating yet).
     */
    private boolean ownsPartitions() {
        try {
            com.hazelcast.cluster.Member self = hazelcast.getCluster().getLocalMember();
            for (com.hazelcast.partition.Partition p : hazelcast.getPartitionService().getPartitions()) {
                if (self.equals(p.getOwner())) {
                    return true;
                }
            }
            return false;
        } catch (RuntimeException e) { // shutting down, or the master did not answer: not settled
            return false;
        }
    }

    /**
     * Blocks until {@link #members()} counts at least {@code members}, the cluster {@link #isSafe is safe} and (with
     * more than one member) this member owns partitions, or
     * {@code timeout} passed; waits on membership and migration events, checking again at least every 100 ms.
     *
     * @return whether the cluster got there in time
     */
    public boolean awaitSafe(int members, java.time.Duration timeout) throws InterruptedException {
        requireNonNull(timeout, "timeout");
        java.util.concurrent.Semaphore changed = new java.util.concurrent.Semaphore(0);
        java.util.UUID migrations = hazelcast.getPartitionService().addMigrationListener(
                new com.hazelcast.partition.MigrationListener() {
                    @Override
                    public void migrationStarted(com.hazelcast.partition.MigrationState state) {
                    }

                    @Override
                    public void migrationFinished(com.hazelcast.partition.MigrationState state) {
                        changed.release();
                    }

                    @Override
                    public void replicaMigrationCompleted(com.hazelcast.partition.ReplicaMigrationEvent event) {
                    }

                    @Override
                    public void replicaMigrationFailed(com.hazelcast.partition.ReplicaMigrationEvent event) {
                    }
                });
        java.util.UUID membership = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                changed.release();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                changed.release();
            }
        });
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (members().size() < members || !isSafe() || (members > 1 && !ownsPartitions())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.tryAcquire(Math.min(left, 100_000_000L), java.util.concurrent.TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            hazelcast.getPartitionService().removeMigrationListener(migrations);
            hazelcast.getCluster().removeMembershipListener(membership);
        }
    }

    /** This member's address, {@code host:port}. */
    public String localMember() {
        return address(hazelcast.getCluster().getLocalMember());
    }

    /** This member's unique id (changes with each start). */
    public String localId() {
        return hazelcast.getCluster().getLocalMember().getUuid().toString();
    }


    /** The replicated map of the proxy listener URLs the members publish for cache-peer routing, by member id. */
    private static final String CACHE_PEERS = "gatehouse.cache-peers";

    /**
     * Publishes {@code url} as this member's proxy listener, for cache-peer routing ({@code CachePeers}); closing the
     * handle withdraws it. A member that dies leaves its entry behind, but {@link #cachePeers} lists live members only,
     * and the others remove it when they see the member go.
     */
    public AutoCloseable publishCachePeer(String url) {
        requireNonNull(url, "url");
        com.hazelcast.replicatedmap.ReplicatedMap<String, String> map = hazelcast.getReplicatedMap(CACHE_PEERS);
        String id = localId();
        map.put(id, url);
        java.util.UUID cleanup = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                try {
                    map.remove(event.getMember().getUuid().toString());
                } catch (RuntimeException e) {
                    LOG.debug("cluster {}: could not drop the cache peer entry of {}: {}", config.name(),
                            address(event.getMember()), e.toString());
                }
            }
        });
        return () -> {
            if (isRunning()) {
                hazelcast.getCluster().removeMembershipListener(cleanup);
                map.remove(id);
            }
        };
    }

    /** The proxy listener URLs the live members published ({@link #publishCachePeer}), sorted, this one's included. */
    public List<String> cachePeers() {
        List<String> out = new ArrayList<>();
        if (!isRunning()) {
            return out;
        }
        java.util.Set<String> live = new java.util.HashSet<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            live.add(m.getUuid().toString());
        }
        com.hazelcast.replicatedmap.ReplicatedMap<String, String> map = hazelcast.getReplicatedMap(CACHE_PEERS);
        for (java.util.Map.Entry<String, String> e : map.entrySet()) {
            if (live.contains(e.getKey()) && !out.contains(e.getValue())) {
                out.add(e.getValue());
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    /**
     * Runs {@code onChange} after a member published or withdrew its cache peer URL, joined or left (on a Hazelcast
     * event thread; it must not block long). Closing the handle stops it.
     */
    public AutoCloseable onCachePeersChange(Runnable onChange) {
        requireNonNull(onChange, "onChange");
        com.hazelcast.replicatedmap.ReplicatedMap<String, String> map = hazelcast.getReplicatedMap(CACHE_PEERS);
        java.util.UUID entries = map.addEntryListener(new com.hazelcast.core.EntryAdapter<String, String>() {
            @Override
            public void onEntryEvent(com.hazelcast.core.EntryEvent<String, String> event) {
                onChange.run();
            }
        });
        java.util.UUID membership = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                onChange.run();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                onChange.run();
            }
        });
        return () -> {
            if (isRunning()) {
                map.removeEntryListener(entries);
                hazelcast.getCluster().removeMembershipListener(membership);
            }
        };
    }

    /**
     * A secret the members share under {@code name}: the first member that asks makes it (32 random bytes, hex), the
     * others read it. Blocks on the cluster (once, at startup). As safe as the cluster port: anyone who can join can
     * read it.
     */
    public String sharedSecret(String name) {
        requireNonNull(name, "name");
        com.hazelcast.map.IMap<String, String> map = hazelcast.getMap("gatehouse.secrets");
        byte[] random = new byte[32];
        new java.security.SecureRandom().nextBytes(random);
        String mine = java.util.HexFormat.of().formatHex(random);
        String existing = map.putIfAbsent(name, mine);
        return existing != null ? existing : mine;
    }

    /** Whether the member is running (false after {@link #close}). */
    public boolean isRunning() {
        return hazelcast.getLifecycleService().isRunning();
    }

    /** Leaves the cluster and stops the member; what this member held is handed to the others first. */
    @Override
    public void close() {
        if (hazelcast.getLifecycleService().isRunning()) {
            hazelcast.shutdown();
        }
    }

    /** Stops the member at once, as a crash would (tests). */
    public void kill() {
        hazelcast.getLifecycleService().terminate();
    }

    private static String address(Member m) {
        return m.getAddress().getHost() + ":" + m.getAddress().getPort();
    }

    @Override
    public String toString() {
        return "Cluster{" + config.name() + ", " + (isRunning() ? members() : "stopped") + "}";
    }
}
