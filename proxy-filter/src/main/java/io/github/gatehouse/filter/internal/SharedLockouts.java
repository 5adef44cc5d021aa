package io.github.gatehouse.filter.internal;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import com.hazelcast.topic.ITopic;
import io.github.gatehouse.core.cluster.Cluster;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Failed logins per key counted in the grid of a {@link Cluster}, so that a password guesser gets {@code maxFailures}
 * tries across all instances, not on each. Each failure is an entry processor on the key's owner (in the
 * background: the login's answer never waits on it); the failure that reaches {@code maxFailures} within
 * {@code window} locks the key for {@code lockFor} by the owner's clock and publishes the lock on a topic, which
 * every instance keeps in a local map that {@link #lockedFor} reads.
 *
 * <p><b>Accuracy.</b> A lock takes effect everywhere one topic delivery after the failure that began it (about a
 * millisecond on a LAN); failures in flight meanwhile still get a verdict. The instance's own {@link FailureTracker}
 * keeps counting locally as well, so an instance cut off from the cluster still locks out by its own count. Shared
 * locks expire by the wall clock.
 *
 * <p><b>Threading.</b> Thread-safe; never blocks.
 */
public final class SharedLockouts implements LockoutSharing {
    private static final Logger LOG = LoggerFactory.getLogger(SharedLockouts.class);

    private final IMap<String, long[]> failures;
    private final ITopic<String> locks;
    private final ConcurrentHashMap<String, Long> lockedUntil = new ConcurrentHashMap<>();
    private final int maxFailures;
    private final long windowMillis;
    private final long lockMillis;
    private final long timeoutMillis;
    private final AtomicBoolean troubled = new AtomicBoolean();

    /** Shared failure counts for keys of kind {@code what} ("client", "user"), named {@code name} in the grid. */
    public SharedLockouts(Cluster cluster, String name, String what, int maxFailures, Duration window, Duration lockFor) {
        this.failures = io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster).getMap("gatehouse-logins-" + name + "-" + what);
        this.locks = io.github.gatehouse.core.internal.ClusterAccess.hazelcast(cluster).getTopic("gatehouse-lockouts-" + name + "-" + what);
        this.maxFailures = maxFailures;
        this.windowMillis = window.toMillis();
        this.lockMillis = lockFor.toMillis();
        this.timeoutMillis = cluster.config().operationTimeout().toMillis();
        locks.addMessageListener(m -> {
            String s = m.getMessageObject();
            int sep = s.lastIndexOf(' ');
            lockedUntil.merge(s.substring(0, sep), Long.parseLong(s.substring(sep + 1)), Math::max);
        });
    }

    @Override
    public void failure(String key) {
        try {
            java.util.concurrent.CompletableFuture<Long> counted =
                    failures.submitToKey(key, new Fail(maxFailures, windowMillis, lockMillis)).toCompletableFuture();
            // a lock the grid decided is applied and announced whenever its answer comes, even after the timeout below:
            // a late answer that locked the key must not leave the other instances without the lock
            counted.thenAccept(until -> {
                if (until != null && until > 0) {
                    lockedUntil.merge(key, until, Math::max);
                    locks.publishAsync(key + " " + until);
                }
            });
            counted.copy().orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).whenComplete((until, f) -> {
                if (f != null) {
                    if (troubled.compareAndSet(false, true)) {
                        LOG.warn("shared login lockouts: the cluster did not answer ({}); counting on this"
                                + " instance only until it does", f.toString());
                    }
                } else if (troubled.compareAndSet(true, false)) {
                    LOG.info("shared login lockouts: the cluster answers again");
                }
            });
        } catch (RuntimeException e) {
            LOG.debug("shared login failure not counted", e);
        }
    }

    @Override
    public Duration lockedFor(String key) {
        Long until = lockedUntil.get(key);
        if (until == null) {
            return null;
        }
        long left = until - System.currentTimeMillis();
        if (left <= 0) {
            lockedUntil.remove(key, until);
            return null;
        }
        return Duration.ofMillis(left);
    }

    @Override
    public void success(String key) {
        if (lockedFor(key) == null) {
            try {
                failures.submitToKey(key, new Forget());
            } catch (RuntimeException e) {
                LOG.debug("shared login success not recorded", e);
            }
        }
    }

    /** {count, windowStart, lockedUntil} by the owner's clock; returns lockedUntil when this failure locked the key. */
    record Fail(int maxFailures, long windowMillis, long lockMillis) implements EntryProcessor<String, long[], Long> {
        @Override
        public Long process(Map.Entry<String, long[]> entry) {
            long now = System.currentTimeMillis();
            long[] s = entry.getValue();
            if (s == null || (s[2] > 0 && now >= s[2]) || (s[2] == 0 && now >= s[1] + windowMillis)) {
                s = new long[] {0, now, 0};
            }
            if (s[2] > 0) {
                return 0L; // locked already: published when it began
            }
            s[0]++;
            long result = 0;
            if (s[0] >= maxFailures) {
                s[2] = now + lockMillis;
                result = s[2];
            }
            long ttl = Math.max(s[1] + windowMillis, s[2]) - now + 1000;
            ((ExtendedMapEntry<String, long[]>) entry).setValue(s, ttl, TimeUnit.MILLISECONDS);
            return result;
        }
    }

    /** Forgets the key's failures unless it is locked. */
    record Forget() implements EntryProcessor<String, long[], Void> {
        @Override
        public Void process(Map.Entry<String, long[]> entry) {
            long[] s = entry.getValue();
            if (s != null && (s[2] == 0 || System.currentTimeMillis() >= s[2])) {
                entry.setValue(null);
            }
            return null;
        }
    }
}
