package io.github.gatehouse.filter.internal;

import java.time.Duration;

/**
 * Failed logins counted across instances ({@link SharedLockouts}), behind a {@link FailureTracker}. Names no cluster
 * type, so a single instance never loads the cluster engine. Thread-safe; never blocks.
 */
public interface LockoutSharing {
    /** Counts a failed login for {@code key} cluster-wide (in the background). */
    void failure(String key);

    /** How long {@code key} stays locked out by a lockout another instance (or this one) began, or null. */
    Duration lockedFor(String key);

    /** A successful login for {@code key}: its shared failures are forgotten unless it is locked. */
    void success(String key);
}
