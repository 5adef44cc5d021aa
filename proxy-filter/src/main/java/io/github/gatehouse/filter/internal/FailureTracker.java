package io.github.gatehouse.filter.internal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts failed logins per key (a client address or a user) and locks a key out for a while once it failed
 * {@code maxFailures} times within {@code window}. Keeps at most {@code maxKeys} keys: expired ones are purged when
 * full, and past that new keys are not tracked (logged once at WARN) rather than forgetting locked ones.
 * Thread-safe.
 */
public final class FailureTracker {
    private static final Logger LOG = LoggerFactory.getLogger(FailureTracker.class);

    private static final class State {
        int failures;
        Instant windowStart;
        Instant lockedUntil;
    }

    private final String what;
    private final int maxFailures;
    private final Duration window;
    private final Duration lockFor;
    private final int maxKeys;
    private final Clock clock;
    private final ConcurrentHashMap<String, State> states = new ConcurrentHashMap<>();
    private final AtomicBoolean warnedFull = new AtomicBoolean();
    /** Failures counted across instances as well, or null on a single instance. */
    private volatile LockoutSharing shared;

    /** A tracker; {@code what} ("client", "user") names keys in log lines. */
    public FailureTracker(String what, int maxFailures, Duration window, Duration lockFor, int maxKeys, Clock clock) {
        this.what = what;
        this.maxFailures = maxFailures;
        this.window = window;
        this.lockFor = lockFor;
        this.maxKeys = maxKeys;
        this.clock = clock;
    }

    /** Counts failures across the instances of a cluster as well (a lock begun anywhere holds everywhere). */
    public void share(LockoutSharing sharing) {
        this.shared = sharing;
    }

    /** How long {@code key} stays locked out from now, or {@code null} when it is not locked. */
    public Duration lockedFor(String key) {
        Duration local = lockedLocally(key);
        LockoutSharing sharing = shared;
        return local != null || sharing == null ? local : sharing.lockedFor(key);
    }

    private Duration lockedLocally(String key) {
        State s = states.get(key);
        if (s == null) {
            return null;
        }
        Instant now = clock.instant();
        synchronized (s) {
            if (s.lockedUntil != null && now.isBefore(s.lockedUntil)) {
                return Duration.between(now, s.lockedUntil);
            }
        }
        return null;
    }

    /** Records a failure for {@code key}; returns whether this failure locked it out. */
    public boolean failure(String key) {
        LockoutSharing sharing = shared;
        if (sharing != null) {
            sharing.failure(key);
        }
        Instant now = clock.instant();
        State s = states.get(key);
        if (s == null) {
            if (states.size() >= maxKeys) {
                purge(now);
                if (states.size() >= maxKeys) {
                    if (warnedFull.compareAndSet(false, true)) {
                        LOG.warn("failed-login tracking for {}s is full ({} keys); new ones are not tracked", what, maxKeys);
                    }
                    return false;
                }
            }
            s = states.computeIfAbsent(key, k -> new State());
        }
        synchronized (s) {
            if (s.lockedUntil != null && !now.isBefore(s.lockedUntil)) {
                s.lockedUntil = null;
                s.failures = 0;
            }
            if (s.windowStart == null || !now.isBefore(s.windowStart.plus(window))) {
                s.windowStart = now;
                s.failures = 0;
            }
            s.failures++;
            if (s.failures >= maxFailures && s.lockedUntil == null) {
                s.lockedUntil = now.plus(lockFor);
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} {} locked out for {}s after {} failed logins", what, key, lockFor.toSeconds(), s.failures);
                }
                return true;
            }
        }
        return false;
    }

    /** Forgets failures of {@code key} (after a successful login), unless it is locked. */
    public void success(String key) {
        LockoutSharing sharing = shared;
        if (sharing != null) {
            sharing.success(key);
        }
        State s = states.get(key);
        if (s != null) {
            synchronized (s) {
                if (s.lockedUntil == null) {
                    states.remove(key, s);
                }
            }
        }
    }

    /** Keys currently tracked. */
    public int size() {
        return states.size();
    }

    private void purge(Instant now) {
        states.entrySet().removeIf(e -> {
            State s = e.getValue();
            synchronized (s) {
                boolean lockOver = s.lockedUntil == null || !now.isBefore(s.lockedUntil);
                boolean windowOver = s.windowStart == null || !now.isBefore(s.windowStart.plus(window));
                return lockOver && windowOver;
            }
        });
        warnedFull.set(false);
    }
}
