package io.github.gatehouse.cache.internal;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import com.hazelcast.query.Predicate;
import com.hazelcast.topic.ITopic;
import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.cluster.Cluster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cache tier shared by the instances of a {@link Cluster}, in a Hazelcast {@code IMap}, with this instance's
 * {@link MemoryStore} as its near tier: what one instance stores is a hit on the others, and a purge on one removes
 * the entry everywhere.
 *
 * <p><b>Layout.</b> One grid entry per primary key (a URL), holding every stored variant of it: head and whole body,
 * each variant at most {@code gridMaxObjectBytes} (larger ones stay in the near tier only). Writes, head updates and
 * removals are entry processors on that key, so they are atomic on the key's owner, and a primary key's variants
 * are fetched in one read. Bodies live in the grid rather than with the instance that fetched them: a read needs no
 * second hop to a peer that may be gone, and an entry, its body and its eviction are one unit (no head without a
 * body). A grid entry is copied whole into the near tier when first read; {@link #get} answers from the near tier
 * only, so the engine's synchronous path never waits on the network.
 *
 * <p><b>Invalidation.</b> Each change is published on a topic after the grid has it, with the grid entry's new
 * version; the other instances drop their near copies of that key unless what they read from the grid is that
 * version or newer (the topic may deliver a change after a reader already read its result), and a near read that
 * raced with an invalidation is not kept. A purge (by URL, prefix or tag) drops every matching near copy, and is
 * announced again when the grid applies it late (a purge that outlived its wait during a partition migration).
 * A change that changed nothing (removing what the grid did not hold) is not announced.
 *
 * <p><b>Cross-instance collapsing.</b> {@link #claimFill} takes a lease on a key in a second map, with a time to live
 * (the collapse timeout), so that a member that dies while filling cannot stall the key beyond it; the others wait
 * for {@link #releaseFill} (published on the topic), a member leaving the cluster, or their own timeout, then read
 * the grid or go upstream.
 *
 * <p><b>Trouble.</b> Every grid operation on a request's path has the cluster's operation timeout; when it fails,
 * throws or times out (a member that just joined, while partitions migrate) the request goes on with what this
 * instance has (a miss, an entry stored in the near tier only, a fill of its own), never an error to the client;
 * a change the grid applies after the request gave up waiting is still announced, and a fill claim that lands late
 * is released after the fill. The first failure of a run is logged once at WARN, the recovery once at INFO.
 *
 * <p><b>Threading.</b> Thread-safe and non-blocking on the request path; the purge methods block up to the
 * operation timeout (admin calls). Grid continuations run on the store's own executor.
 */
public final class GridStore implements CacheStore, SharedTier {
    private static final Logger LOG = LoggerFactory.getLogger(GridStore.class);
    private static final char SEP = CacheEngine.VARIANT_SEPARATOR;

    private final Cluster cluster;
    /** Where the purge task finds this store on each member ({@code HazelcastInstance.getUserContext()}). */
    private final String contextKey;
    private final com.hazelcast.core.IExecutorService purges;
    private final IMap<String, Variants> entries;
    private final IMap<String, String> claims;
    private final ITopic<String> events;
    private final UUID topicRegistration;
    private final UUID membershipRegistration;
    private final MemoryStore near;
    private final long gridMaxObjectBytes;
    private final Duration timeout;
    private final String self;
    private final ExecutorService executor;
    /** Primary key to the keys of its variants in the near tier (a superset: Caffeine evicts on its own). */
    private final ConcurrentHashMap<String, Set<String>> nearKeys = new ConcurrentHashMap<>();
    /**
     * The grid version of each primary key whose variants this instance read into its near tier: a change event
     * from another instance that is not newer than what was read (it was published before, delivered after) leaves
     * the near copies alone.
     */
    private final ConcurrentHashMap<String, Long> nearVersions = new ConcurrentHashMap<>();
    /** Fill claims sent and not answered yet: a release waits for its claim, so a late claim cannot outlive it. */
    private final ConcurrentHashMap<String, CompletableFuture<Boolean>> pendingClaims = new ConcurrentHashMap<>();
    /** Invalidations seen, striped by primary key: a grid read that raced one is not kept in the near tier. */
    private final AtomicLongArray generations = new AtomicLongArray(1024);
    private final ConcurrentHashMap<String, CompletableFuture<Void>> waiters = new ConcurrentHashMap<>();
    private final List<java.util.function.Consumer<String>> eventListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<Runnable> waitListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicBoolean troubled = new AtomicBoolean();
    private final LongAdder gridHits = new LongAdder();
    private final LongAdder gridMisses = new LongAdder();
    private final LongAdder nearHits = new LongAdder();
    private final LongAdder gridWrites = new LongAdder();
    private final LongAdder gridFailures = new LongAdder();
    private final LongAdder remoteWaits = new LongAdder();

    /**
     * A store over {@code cluster}'s map {@code name}, with {@code near} as this instance's tier; variants larger
     * than {@code gridMaxObjectBytes} stay in the near tier only.
     */
    public GridStore(Cluster cluster, String name, MemoryStore near, long gridMaxObjectBytes) {
        this.cluster = cluster;
        HazelcastInstance hz = io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster);
        this.entries = hz.getMap("gatehouse-cache-" + name);
        this.claims = hz.getMap("gatehouse-fills-" + name);
        this.events = hz.getTopic("gatehouse-cache-events-" + name);
        this.near = near;
        this.gridMaxObjectBytes = gridMaxObjectBytes;
        this.timeout = cluster.config().operationTimeout();
        this.self = cluster.localId();
        this.executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "gatehouse-grid-" + name);
            t.setDaemon(true);
            return t;
        });
        this.topicRegistration = events.addMessageListener(m -> onEvent(m.getMessageObject()));
        this.contextKey = "gatehouse-grid-store-" + name;
        this.purges = hz.getExecutorService("gatehouse-cache-purges-" + name);
        hz.getUserContext().put(contextKey, this);
        // a member that leaves may have held fill leases: whoever waits on one looks again now rather than at the
        // end of the lease (the grid then has the entry, or the waiter goes upstream itself)
        this.membershipRegistration = hz.getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
            @Override
            public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
            }

            @Override
            public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
                List.copyOf(waiters.keySet()).forEach(GridStore.this::complete);
            }
        });
    }

    // ---- the near tier, synchronous ------------------------------------------------------------------

    @Override
    public Optional<StoredEntry> get(String key) {
        return near.get(key);
    }

    @Override
    public Collection<String> keys() {
        return near.keys();
    }

    @Override
    public long entryCount() {
        return near.entryCount();
    }

    @Override
    public long sizeBytes() {
        return near.sizeBytes();
    }

    @Override
    public long evictions() {
        return near.evictions();
    }

    @Override
    public long capacityBytes() {
        return near.capacityBytes();
    }

    // ---- reads from the grid -------------------------------------------------------------------------

    /**
     * Makes the variants of {@code primary} available to {@link #get}: at once when the near tier holds them, else
     * after one grid read (empty on a grid miss, failure or timeout). The stage completes on the store's executor
     * or on the caller's thread, never on a Hazelcast thread.
     */
    @Override
    public CompletionStage<List<String>> load(String primary) {
        return load(primary, true);
    }

    private CompletionStage<List<String>> load(String primary, boolean retry) {
        Set<String> known = nearKeys.get(primary);
        if (known != null && !known.isEmpty()) {
            List<String> present = new ArrayList<>(known.size());
            for (String k : known) {
                if (near.get(k).isPresent()) {
                    present.add(k);
                }
            }
            if (present.size() == known.size()) {
                nearHits.increment();
                return CompletableFuture.completedFuture(present);
            }
        }
        int stripe = stripe(primary);
        long generation = generations.get(stripe);
        return withTimeout(call(() -> entries.getAsync(primary))).<CompletionStage<List<String>>>handleAsync((v, f) -> {
            if (f != null) {
                trouble("read", f);
                return CompletableFuture.completedFuture(List.<String>of());
            }
            if (generations.get(stripe) != generation) {
                // an invalidation arrived while we read: what we read may be older than it, so read again (once)
                return retry ? load(primary, false) : CompletableFuture.completedFuture(List.<String>of());
            }
            List<String> keys = install(primary, v, stripe, generation);
            if (keys == null) {
                // an invalidation arrived while we installed: most often the write announcement of the very entry we
                // read (another instance's fill, just stored), so read again (once) rather than call it a miss
                return retry ? load(primary, false) : CompletableFuture.completedFuture(List.<String>of());
            }
            return CompletableFuture.completedFuture(keys);
        }, executor).thenCompose(x -> x);
    }

    /**
     * Puts what a grid read found into the near tier; the keys installed, or null when an invalidation of the stripe
     * ran meanwhile (what was read may be older than it, so nothing of it is kept).
     */
    private List<String> install(String primary, Variants v, int stripe, long generation) {
        fine();
        {
            if (v == null || v.variants.isEmpty()) {
                gridMisses.increment();
                return List.<String>of();
            }
            List<String> keys = new ArrayList<>();
            for (Map.Entry<String, byte[]> e : v.variants.entrySet()) {
                String key = primary + SEP + e.getKey();
                Decoded d = decode(e.getValue());
                if (generations.get(stripe) != generation) {
                    return null; // invalidated while we read: do not keep what may be outdated
                }
                near.put(key, d.head, ChunkedBody.of(List.of(ByteBuffer.wrap(d.body).asReadOnlyBuffer())));
                nearKeys.computeIfAbsent(primary, p -> ConcurrentHashMap.newKeySet()).add(key);
                if (generations.get(stripe) != generation) { // an invalidation ran meanwhile: undo
                    near.remove(key);
                    return null;
                }
                keys.add(key);
            }
            nearVersions.merge(primary, v.version, Math::max);
            if (generations.get(stripe) != generation) { // invalidated meanwhile: the version must not outlive it
                nearVersions.remove(primary);
            }
            gridHits.increment(); // once per read that served, not again for a read made again
            return keys;
        }
    }

    // ---- writes --------------------------------------------------------------------------------------

    @Override
    public Writer begin(String key, EntryHead head) {
        Writer local = near.begin(key, head);
        return new Writer() {
            private final List<ByteBuffer> chunks = new ArrayList<>();
            private long length;
            private boolean localLive = true;
            private boolean shared = true;

            @Override
            public boolean write(ByteBuffer chunk) {
                length += chunk.remaining();
                if (localLive && !local.write(chunk.duplicate())) {
                    localLive = false;
                }
                if (shared && length > gridMaxObjectBytes) {
                    shared = false;
                    chunks.clear();
                } else if (shared) {
                    chunks.add(chunk);
                }
                return localLive || shared;
            }

            @Override
            public CompletionStage<Void> commit() {
                if (localLive) {
                    local.commit();
                    trackNear(key);
                } else {
                    local.abort();
                }
                if (!shared) {
                    return CompletableFuture.completedFuture(null);
                }
                byte[] blob = encode(head, chunks, length);
                chunks.clear();
                return submitAnnounced(primaryOf(key), new PutVariant(secondaryOf(key), blob)).handle((v, f) -> {
                    if (f != null) {
                        trouble("write", f);
                    } else {
                        fine();
                        gridWrites.increment();
                    }
                    return (Void) null;
                });
            }

            @Override
            public void abort() {
                chunks.clear();
                local.abort();
            }
        };
    }

    @Override
    public boolean updateHead(String key, EntryHead head) {
        boolean had = near.updateHead(key, head);
        byte[] headBytes = encodeHead(head);
        submitAnnounced(primaryOf(key), new UpdateHead(secondaryOf(key), headBytes)).whenComplete((v, f) -> {
            if (f != null) {
                trouble("head update", f);
            }
        });
        return had;
    }

    @Override
    public boolean remove(String key) {
        boolean had = near.remove(key);
        submitAnnounced(primaryOf(key), new RemoveVariant(secondaryOf(key))).whenComplete((v, f) -> {
            if (f != null) {
                trouble("remove", f);
            }
        });
        return had;
    }

    // ---- purges, cluster-wide ------------------------------------------------------------------------

    /** Purges every variant of {@code primary} in the grid and in every near tier; returns how many variants. */
    @Override
    public long purgePrimary(String primary, PurgeMode mode) {
        long n = 0;
        CompletableFuture<Integer> raw = call(() -> entries.submitToKey(primary, new Purge(mode == PurgeMode.HARD, null, null)));
        // announced again when the grid applies it, even after this call gave up waiting (during a partition
        // migration, say): an instance that re-read the entry meanwhile must not keep it
        raw.whenComplete((r, f) -> publish('U', primary));
        try {
            Integer r = raw.copy().get(purgeWait().toMillis(), TimeUnit.MILLISECONDS);
            n = r == null ? 0 : r;
        } catch (Exception e) {
            trouble("purge", e);
            n = dropNear(primary);
            publish('U', primary);
        }
        dropNear(primary);
        dropEverywhere('U', primary);
        return n;
    }

    /** Purges every key that starts with {@code prefix}, cluster-wide; returns how many variants. */
    @Override
    public long purgePrefix(String prefix, PurgeMode mode) {
        long n = purgeWhere(mode, new KeyPrefix(prefix), new Purge(mode == PurgeMode.HARD, null, null),
                () -> publish('P', prefix));
        dropNearWhere(k -> k.startsWith(prefix));
        dropEverywhere('P', prefix);
        return n;
    }

    /** Purges every variant whose field {@code header} lists {@code tag}, cluster-wide; returns how many. */
    @Override
    public long purgeTag(String header, String tag, PurgeMode mode) {
        long n = purgeWhere(mode, null, new Purge(mode == PurgeMode.HARD, header, tag),
                () -> publish('T', header + SEP + tag));
        dropNearTagged(header, tag);
        dropEverywhere('T', header + SEP + tag);
        return n;
    }

    /** Runs {@code purge} on every entry ({@code where} matches), announcing it once it ran (late too) or failed. */
    private long purgeWhere(PurgeMode mode, Predicate<String, Variants> where, Purge purge, Runnable announce) {
        CompletableFuture<Map<String, Integer>> f = CompletableFuture.supplyAsync(
                () -> where == null ? entries.executeOnEntries(purge) : entries.executeOnEntries(purge, where), executor);
        f.whenComplete((r, e) -> announce.run());
        try {
            long n = 0;
            for (Integer i : f.copy().get(purgeWait().toMillis(), TimeUnit.MILLISECONDS).values()) {
                n += i == null ? 0 : i;
            }
            return n;
        } catch (Exception e) {
            trouble("purge", e);
            announce.run();
            return 0;
        }
    }

    /**
     * Has every member drop its near copies for a purge, and waits for them (up to the purge wait), so that when a
     * purge returns no instance serves what it removed; the topic announcement stays as the fallback for a member
     * that does not answer in time.
     */
    private void dropEverywhere(char kind, String arg) {
        try {
            List<java.util.concurrent.Future<Boolean>> acks = new ArrayList<>(
                    purges.submitToAllMembers(new DropNear(contextKey, kind + self + SEP + arg)).values());
            long deadline = System.nanoTime() + purgeWait().toNanos();
            for (java.util.concurrent.Future<Boolean> ack : acks) {
                ack.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        } catch (Exception e) {
            trouble("purge on the other members", e);
        }
    }

    /** Runs a purge's near-tier drop on one member, in the store registered there under {@code contextKey}. */
    static final class DropNear implements java.util.concurrent.Callable<Boolean>, Serializable,
            com.hazelcast.core.HazelcastInstanceAware {
        private static final long serialVersionUID = 1L;
        private final String contextKey;
        private final String message;
        private transient HazelcastInstance hazelcast;

        DropNear(String contextKey, String message) {
            this.contextKey = contextKey;
            this.message = message;
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance hazelcast) {
            this.hazelcast = hazelcast;
        }

        @Override
        public Boolean call() {
            Object store = hazelcast == null ? null : hazelcast.getUserContext().get(contextKey);
            if (store instanceof GridStore g) {
                g.onEvent(message);
                return true;
            }
            return false;
        }
    }

    /** How long a purge (an admin call) waits for the grid: longer than a request would, to ride out a migration. */
    private Duration purgeWait() {
        return timeout.compareTo(Duration.ofSeconds(5)) > 0 ? timeout : Duration.ofSeconds(5);
    }

    // ---- cross-instance collapsing -------------------------------------------------------------------

    /**
     * Tries to become the one instance that fills {@code primary}, for at most {@code lease}; completes with
     * {@code true} when this instance should go upstream (it won, or the grid did not answer in time).
     */
    @Override
    public CompletionStage<Boolean> claimFill(String primary, Duration lease) {
        CompletableFuture<Boolean> raw = call(() -> claims.submitToKey(primary,
                new Claim(self, lease.toMillis(), liveMembers())));
        pendingClaims.put(primary, raw);
        raw.whenComplete((won, f) -> pendingClaims.remove(primary, raw));
        // on a timeout this instance goes upstream as if it had won, and releases the claim at the end of its fill
        // like a winner: a claim that the grid applies late (during a partition migration, say) does not hold the
        // other instances for the whole lease
        return withTimeout(raw).handleAsync((won, f) -> {
            if (f != null) {
                trouble("fill lock", f);
                return true;
            }
            return won == null || won;
        }, executor);
    }

    /** Gives up this instance's claim on {@code primary} (after its entry was stored, or the fill ended). */
    @Override
    public void releaseFill(String primary) {
        CompletableFuture<Boolean> claim = pendingClaims.get(primary);
        if (claim != null && !claim.isDone()) {
            claim.whenComplete((won, f) -> releaseFill(primary)); // after its claim: the release must come second
            return;
        }
        call(() -> claims.submitToKey(primary, new Unclaim(self))).whenComplete((v, f) -> {
            if (f != null) {
                trouble("fill unlock", f);
            }
            publish('R', primary);
        });
    }

    /**
     * Completes when another instance's claim on {@code primary} is released, or after {@code timeout}, on the
     * store's executor.
     */
    @Override
    public CompletionStage<Void> awaitRelease(String primary, Duration wait) {
        remoteWaits.increment();
        CompletableFuture<Void> w = waiters.computeIfAbsent(primary, k -> new CompletableFuture<>());
        withTimeout(call(() -> claims.getAsync(primary))).whenComplete((owner, f) -> {
            if (f == null && (owner == null || !liveMembers().contains(owner))) {
                complete(primary); // released before we listened, or held by a member that is gone
            }
        });
        waitListeners.forEach(Runnable::run);
        return w.completeOnTimeout(null, wait.toMillis(), TimeUnit.MILLISECONDS).whenCompleteAsync((v, f) -> waiters.remove(primary, w),
                executor);
    }

    /**
     * The ids of the members this one sees now. A fill lease held by any other id is a dead member's (killed while
     * filling): it is taken over at once rather than waited for until its time to live ends.
     */
    private List<String> liveMembers() {
        try {
            List<String> ids = new ArrayList<>();
            for (com.hazelcast.cluster.Member m : io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster)
                    .getCluster().getMembers()) {
                ids.add(m.getUuid().toString());
            }
            return ids;
        } catch (RuntimeException e) { // the member is shutting down: only this one counts
            return List.of(self);
        }
    }

    /** Runs {@code listener} each time a request starts waiting for another instance's fill (tests). */
    public void onRemoteWait(Runnable listener) {
        waitListeners.add(listener);
    }

    private void complete(String primary) {
        CompletableFuture<Void> w = waiters.remove(primary);
        if (w != null) {
            executor.execute(() -> w.complete(null));
        }
    }

    // ---- events --------------------------------------------------------------------------------------

    private void publish(char kind, String arg) {
        try {
            events.publishAsync(kind + self + SEP + arg).whenComplete((v, f) -> {
                if (f != null) {
                    trouble("invalidation", f);
                }
            });
        } catch (RuntimeException e) {
            trouble("invalidation", e);
        }
    }

    private void onEvent(String message) {
        char kind = message.charAt(0);
        int sep = message.indexOf(SEP);
        String from = message.substring(1, sep);
        String arg = message.substring(sep + 1);
        boolean mine = from.equals(self);
        switch (kind) {
            case 'W' -> {
                int s = arg.lastIndexOf(SEP);
                String primary = arg.substring(0, s);
                long version = Long.parseLong(arg.substring(s + 1));
                Long read = nearVersions.get(primary);
                if (!mine && (read == null || read < version)) {
                    dropNear(primary);
                }
            }
            case 'U' -> dropNear(arg);
            case 'P' -> dropNearWhere(k -> k.startsWith(arg));
            case 'T' -> {
                int s = arg.indexOf(SEP);
                dropNearTagged(arg.substring(0, s), arg.substring(s + 1));
            }
            case 'R' -> complete(arg);
            default -> LOG.debug("unknown cache event {}", message);
        }
        eventListeners.forEach(l -> l.accept(message));
    }

    /** Runs {@code listener} after each cluster event this store has handled, with the event (tests). */
    public void onEvent(java.util.function.Consumer<String> listener) {
        eventListeners.add(listener);
    }

    private int dropNear(String primary) {
        generations.incrementAndGet(stripe(primary));
        nearVersions.remove(primary);
        Set<String> keys = nearKeys.remove(primary);
        int n = 0;
        if (keys != null) {
            for (String k : keys) {
                if (near.remove(k)) {
                    n++;
                }
            }
        }
        return n;
    }

    private void dropNearWhere(java.util.function.Predicate<String> matches) {
        for (String primary : List.copyOf(nearKeys.keySet())) {
            if (matches.test(primary)) {
                dropNear(primary);
            }
        }
        for (String key : near.keys()) {
            if (matches.test(key)) {
                generations.incrementAndGet(stripe(primaryOf(key)));
                near.remove(key);
            }
        }
    }

    private void dropNearTagged(String header, String tag) {
        for (String key : near.keys()) {
            near.get(key).ifPresent(e -> {
                for (String line : e.head().headerLines(header)) {
                    if (Invalidation.listsTag(line, tag)) {
                        dropNear(primaryOf(key));
                        near.remove(key);
                        return;
                    }
                }
            });
        }
    }

    private void trackNear(String key) {
        nearKeys.computeIfAbsent(primaryOf(key), p -> ConcurrentHashMap.newKeySet()).add(key);
    }

    // ---- plumbing ------------------------------------------------------------------------------------

    /**
     * Runs a change on {@code primary}'s grid entry; once the grid applied it (even after the returned stage timed
     * out), the other instances are told its new version, unless it changed nothing (version -1).
     */
    private CompletableFuture<Long> submitAnnounced(String primary, EntryProcessor<String, Variants, Long> processor) {
        CompletableFuture<Long> raw = call(() -> entries.submitToKey(primary, processor));
        raw.whenComplete((version, f) -> {
            if (f == null && version != null && version >= 0) {
                publish('W', primary + SEP + version);
            }
        });
        return withTimeout(raw);
    }

    /**
     * The stage {@code op} starts, or a failed one when it throws at once (a member shutting down, or not started
     * yet): trouble with the grid is a miss for the request, never an exception on its path.
     */
    private static <T> CompletableFuture<T> call(java.util.function.Supplier<CompletionStage<T>> op) {
        try {
            return op.get().toCompletableFuture();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private <T> CompletableFuture<T> withTimeout(CompletionStage<T> stage) {
        return stage.toCompletableFuture().copy().orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void trouble(String what, Throwable f) {
        gridFailures.increment();
        if (troubled.compareAndSet(false, true)) {
            LOG.warn("shared cache {} failed ({}): serving from this instance's tier and the origin until the"
                    + " cluster answers again", what, f.toString());
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("shared cache {} failed", what, f);
        }
    }

    private void fine() {
        if (troubled.compareAndSet(true, false)) {
            LOG.info("shared cache answers again");
        }
    }

    private int stripe(String primary) {
        return (primary.hashCode() & 0x7fffffff) % generations.length();
    }

    static String primaryOf(String key) {
        int sep = key.indexOf(SEP);
        return sep < 0 ? key : key.substring(0, sep);
    }

    static String secondaryOf(String key) {
        int sep = key.indexOf(SEP);
        return sep < 0 ? "" : key.substring(sep + 1);
    }

    @Override
    public io.github.gatehouse.cache.SharedTierStats stats() {
        return new io.github.gatehouse.cache.SharedTierStats(cluster.members(), nearHits.sum(), gridHits.sum(),
                gridMisses.sum(), gridWrites.sum(), gridFailures.sum(), remoteWaits.sum());
    }

    /** Reads from the grid that found an entry (and copied it to the near tier). */
    public long gridHits() {
        return gridHits.sum();
    }

    /** Reads from the grid that found nothing. */
    public long gridMisses() {
        return gridMisses.sum();
    }

    /** Lookups the near tier answered without a grid read. */
    public long nearHits() {
        return nearHits.sum();
    }

    /** Entries written to the grid. */
    public long gridWrites() {
        return gridWrites.sum();
    }

    /** Grid operations that failed or timed out. */
    public long gridFailures() {
        return gridFailures.sum();
    }

    /** Requests that waited for another instance's fill. */
    public long remoteWaits() {
        return remoteWaits.sum();
    }

    /** The store's executor (grid continuations, cluster-wide purges). */
    @Override
    public java.util.concurrent.Executor executor() {
        return executor;
    }

    /** The cluster this store shares. */
    public Cluster cluster() {
        return cluster;
    }

    @Override
    public void close() {
        try {
            if (cluster.isRunning()) {
                events.removeMessageListener(topicRegistration);
                io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster).getUserContext().remove(contextKey, this);
                io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster).getCluster().removeMembershipListener(membershipRegistration);
            }
        } catch (RuntimeException e) {
            LOG.debug("could not remove the cache event listener", e);
        }
        executor.shutdown();
        near.close();
    }

    @Override
    public String toString() {
        return "GridStore{" + cluster.config().name() + ", near " + near + "}";
    }

    // ---- the grid's value and its processors ---------------------------------------------------------

    /** The grid value of one primary key: its variants, secondary key to encoded head and body. */
    static final class Variants implements Serializable {
        private static final long serialVersionUID = 1L;
        final LinkedHashMap<String, byte[]> variants = new LinkedHashMap<>();
        /** Grows with each change; see {@link #nextVersion}. */
        long version;

        /**
         * The version a change of {@code old} makes: above the old one, and above anything an earlier life of the
         * key had (it starts from the owner's clock, in microseconds), so that a key removed and stored again does
         * not look older than copies read before.
         */
        static long nextVersion(Variants old) {
            return Math.max(old == null ? 0 : old.version + 1, System.currentTimeMillis() * 1000);
        }
    }

    /** Encoded variant: [int headLength][head][body]; the head starts with the invalidated flag. */
    static byte[] encode(EntryHead head, List<ByteBuffer> chunks, long length) {
        byte[] h = encodeHead(head);
        ByteBuffer out = ByteBuffer.allocate(4 + h.length + (int) length);
        out.putInt(h.length).put(h);
        for (ByteBuffer c : chunks) {
            out.put(c.duplicate());
        }
        return out.array();
    }

    static byte[] encodeHead(EntryHead head) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeBoolean(head.invalidated());
            out.writeShort(head.status());
            out.writeLong(head.requestTime().getEpochSecond());
            out.writeInt(head.requestTime().getNano());
            out.writeLong(head.responseTime().getEpochSecond());
            out.writeInt(head.responseTime().getNano());
            List<HttpHeaders.Field> fields = new ArrayList<>();
            head.headers().forEach(fields::add);
            out.writeInt(fields.size());
            for (HttpHeaders.Field f : fields) {
                out.writeUTF(f.name());
                out.writeUTF(f.value());
            }
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record Decoded(EntryHead head, byte[] body) {
    }

    static Decoded decode(byte[] blob) {
        ByteBuffer in = ByteBuffer.wrap(blob);
        int headLength = in.getInt();
        EntryHead head = decodeHead(blob, 4, headLength);
        byte[] body = new byte[blob.length - 4 - headLength];
        System.arraycopy(blob, 4 + headLength, body, 0, body.length);
        return new Decoded(head, body);
    }

    static EntryHead decodeHead(byte[] blob, int offset, int length) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob, offset, length));
            boolean invalidated = in.readBoolean();
            int status = in.readShort();
            Instant requestTime = Instant.ofEpochSecond(in.readLong(), in.readInt());
            Instant responseTime = Instant.ofEpochSecond(in.readLong(), in.readInt());
            int n = in.readInt();
            HttpHeaders headers = new HttpHeaders();
            for (int i = 0; i < n; i++) {
                headers.add(in.readUTF(), in.readUTF());
            }
            return new EntryHead(status, headers, requestTime, responseTime, invalidated);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Stores one variant, replacing any under the same secondary key; a complete representation also drops the
     * stored ranges of that variant in the same change (one version, one event). Returns the new version.
     */
    record PutVariant(String secondary, byte[] blob) implements EntryProcessor<String, Variants, Long> {
        @Override
        public Long process(Map.Entry<String, Variants> entry) {
            Variants old = entry.getValue();
            Variants v = new Variants();
            if (old != null) {
                v.variants.putAll(old.variants);
            }
            v.version = Variants.nextVersion(old);
            v.variants.remove(secondary);
            if (!secondary.endsWith(PartialContent.SUFFIX)) {
                v.variants.remove(secondary + PartialContent.SUFFIX);
            }
            v.variants.put(secondary, blob);
            while (v.variants.size() > 16) { // a URL with more variants than that keeps its newest ones
                v.variants.remove(v.variants.keySet().iterator().next());
            }
            entry.setValue(v);
            return v.version;
        }
    }

    /** Replaces one variant's head, keeping its body; returns the new version, or -1 without that variant. */
    record UpdateHead(String secondary, byte[] head) implements EntryProcessor<String, Variants, Long> {
        @Override
        public Long process(Map.Entry<String, Variants> entry) {
            Variants v = entry.getValue();
            byte[] old = v == null ? null : v.variants.get(secondary);
            if (old == null) {
                return -1L;
            }
            int oldHead = ByteBuffer.wrap(old).getInt();
            int bodyLength = old.length - 4 - oldHead;
            ByteBuffer out = ByteBuffer.allocate(4 + head.length + bodyLength);
            out.putInt(head.length).put(head).put(old, 4 + oldHead, bodyLength);
            v.variants.put(secondary, out.array());
            v.version = Variants.nextVersion(v);
            entry.setValue(v);
            return v.version;
        }
    }

    /**
     * Removes one variant (and the grid entry with its last variant); returns the new version, or -1 when there was
     * nothing to remove (no event: nothing changed).
     */
    record RemoveVariant(String secondary) implements EntryProcessor<String, Variants, Long> {
        @Override
        public Long process(Map.Entry<String, Variants> entry) {
            Variants v = entry.getValue();
            if (v == null || v.variants.remove(secondary) == null) {
                return -1L;
            }
            v.version = Variants.nextVersion(v);
            entry.setValue(v.variants.isEmpty() ? null : v);
            return v.version;
        }
    }

    /**
     * Removes ({@code hard}) or invalidates the variants of an entry, all of them or those whose {@code header}
     * lists {@code tag}; returns how many.
     */
    record Purge(boolean hard, String header, String tag) implements EntryProcessor<String, Variants, Integer> {
        @Override
        public Integer process(Map.Entry<String, Variants> entry) {
            Variants v = entry.getValue();
            if (v == null) {
                return 0;
            }
            int n = 0;
            for (var it = v.variants.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<String, byte[]> e = it.next();
                if (tag != null && !lists(e.getValue())) {
                    continue;
                }
                n++;
                if (hard) {
                    it.remove();
                } else {
                    e.getValue()[4] = 1; // the invalidated flag, the head's first byte
                }
            }
            if (n > 0) {
                v.version = Variants.nextVersion(v);
                entry.setValue(v.variants.isEmpty() ? null : v);
            }
            return n;
        }

        private boolean lists(byte[] blob) {
            EntryHead head = decodeHead(blob, 4, ByteBuffer.wrap(blob).getInt());
            for (String line : head.headerLines(header)) {
                if (Invalidation.listsTag(line, tag)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Keys starting with a prefix. */
    record KeyPrefix(String prefix) implements Predicate<String, Variants> {
        @Override
        public boolean apply(Map.Entry<String, Variants> entry) {
            return entry.getKey().startsWith(prefix);
        }
    }

    /**
     * Takes the fill lease when free, already ours, or held by a member that is not among {@code live} (the members
     * the claiming one sees: a member killed while filling leaves its lease behind until its time to live, the whole
     * collapse timeout, and every instance that wanted that key would wait for it); true when this member holds it.
     */
    record Claim(String member, long leaseMillis, List<String> live) implements EntryProcessor<String, String, Boolean> {
        @Override
        public Boolean process(Map.Entry<String, String> entry) {
            String owner = entry.getValue();
            if (owner != null && owner.startsWith(FILLED) && !owner.equals(FILLED + member)) {
                return false; // another member's fill just ended: read what it stored rather than fetch it again
            }
            if (owner != null && !owner.startsWith(FILLED) && !owner.equals(member) && live.contains(owner)) {
                return false;
            }
            ((ExtendedMapEntry<String, String>) entry).setValue(member, leaseMillis, TimeUnit.MILLISECONDS);
            return true;
        }
    }

    /**
     * Marks a lease "just filled": for {@link #FILLED_MILLIS} a claim by another member loses. A member whose grid
     * read missed just before the fill's write landed, and whose claim comes just after its release, then reads the
     * grid again (its wait for the release ends at once: the marker names no live member) instead of fetching the
     * object a second time.
     */
    static final String FILLED = "=";
    static final long FILLED_MILLIS = 2_000;

    /** Gives up the fill lease when this member holds it, leaving the "just filled" marker for a short while. */
    record Unclaim(String member) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            if (member.equals(entry.getValue())) {
                ((ExtendedMapEntry<String, String>) entry).setValue(FILLED + member, FILLED_MILLIS, TimeUnit.MILLISECONDS);
            }
            return null;
        }
    }
}
