package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.PurgeMode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * What {@link CacheEngine} asks of a store shared by several instances ({@link GridStore}) beyond {@code CacheStore}.
 * It names no cluster type, so the engine's {@code instanceof SharedTier} never loads the cluster engine: a single
 * instance runs without it on the class path.
 *
 * <p><b>Threading.</b> Thread-safe; the stages never block the caller, the purges may (admin calls).
 */
public interface SharedTier {
    /** Makes the variants of {@code primary} available to {@code get}; completes with their keys (empty on a miss). */
    CompletionStage<List<String>> load(String primary);

    /** Tries to take the cluster-wide fill lease of {@code primary}; true when this instance should go upstream. */
    CompletionStage<Boolean> claimFill(String primary, Duration lease);

    /** Completes when another instance released its lease on {@code primary}, or after {@code wait}. */
    CompletionStage<Void> awaitRelease(String primary, Duration wait);

    /** Releases this instance's lease on {@code primary}. */
    void releaseFill(String primary);

    /** Purges every variant of {@code primary} cluster-wide; returns how many. */
    long purgePrimary(String primary, PurgeMode mode);

    /** Purges every key starting with {@code prefix} cluster-wide; returns how many. */
    long purgePrefix(String prefix, PurgeMode mode);

    /** Purges every variant whose field {@code header} lists {@code tag} cluster-wide; returns how many. */
    long purgeTag(String header, String tag, PurgeMode mode);

    /** This instance's counters and the cluster's members. */
    io.github.gatehouse.cache.SharedTierStats stats();

    /** Where work that waits on the cluster runs (never an I/O thread). */
    Executor executor();
}
