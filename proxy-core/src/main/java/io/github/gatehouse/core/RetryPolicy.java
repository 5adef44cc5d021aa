package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * When a reverse route tries another member of its pool.
 *
 * <p>What triggers a retry ({@link #retryOn}), on a member not tried yet:
 * <ul>
 *   <li>{@link Condition#CONNECT_FAILURE} (default): the connection could not be made; any method, since nothing was
 *       sent;</li>
 *   <li>{@link Condition#RESET} (default): the connection was reset or closed before any response byte;</li>
 *   <li>{@link Condition#TIMEOUT} (opt-in): no response head within the per-try timeout;</li>
 *   <li>a response status (opt-in, {@link #retryOnStatus}, as nginx's {@code proxy_next_upstream http_503} or Envoy's
 *       {@code retriable-status-codes}): the member answered with it. By default an upstream's own answer, a 5xx
 *       included, always reaches the client as the upstream sent it.</li>
 * </ul>
 * All but a connect failure apply only to requests that can be replayed: idempotent methods (GET, HEAD, OPTIONS,
 * TRACE, PUT, DELETE) and requests carrying {@code Idempotency-Key}. When no try is left, the client gets the last
 * upstream response exactly as sent, or the proxy's own 502/504 for a failure. A request body is kept for replay when its declared length is at most {@link #replayableBodySize()}; a larger or
 * chunked body streams and is then never retried once sent. Retries are capped by a budget: at most
 * {@link #budgetPercent()} percent of requests (plus a small reserve) may be retries, so retries cannot amplify an
 * outage. Immutable and thread-safe.
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class RetryPolicy {
    /** A failure, other than a response, after which a request may be tried on another member. */
    public enum Condition {
        /** The connection to the member could not be made (refused, unreachable, connect timeout). */
        CONNECT_FAILURE,
        /** The connection was reset or closed before any response byte arrived. */
        RESET,
        /** No response head arrived within the per-try timeout. */
        TIMEOUT
    }

    private static final Set<Condition> DEFAULT_CONDITIONS =
            Collections.unmodifiableSet(EnumSet.of(Condition.CONNECT_FAILURE, Condition.RESET));
    private static final RetryPolicy NONE = new RetryPolicy(0, null, 0, DataSize.bytes(0), DEFAULT_CONDITIONS, Set.of());
    private static final RetryPolicy DEFAULT = new RetryPolicy(1, null, 20, DataSize.kibibytes(64), DEFAULT_CONDITIONS, Set.of());

    private final int retries;
    private final Duration perTryTimeout;
    private final int budgetPercent;
    private final DataSize replayableBodySize;
    private final Set<Condition> conditions;
    private final Set<Integer> statuses;

    private RetryPolicy(int retries, Duration perTryTimeout, int budgetPercent, DataSize replayableBodySize,
            Set<Condition> conditions, Set<Integer> statuses) {
        this.retries = retries;
        this.perTryTimeout = perTryTimeout;
        this.budgetPercent = budgetPercent;
        this.replayableBodySize = replayableBodySize;
        this.conditions = conditions;
        this.statuses = statuses;
    }

    /**
     * One retry on a connect failure or a reset before any response byte, a 20% budget, bodies up to 64 KiB kept for
     * replay: the default.
     */
    public static RetryPolicy defaults() {
        return DEFAULT;
    }

    /** Never retry. */
    public static RetryPolicy none() {
        return NONE;
    }

    /** Up to {@code n} retries per request (0..10). */
    public RetryPolicy retries(int n) {
        checkArgument(n >= 0 && n <= 10, "retries: %s (expected: 0..10)", n);
        return new RetryPolicy(n, perTryTimeout, budgetPercent == 0 ? 20 : budgetPercent, replayableBodySize, conditions,
                statuses);
    }

    /** How long each try may wait for the response head (by default the server's upstream timeout). */
    public RetryPolicy perTryTimeout(Duration timeout) {
        requireNonNull(timeout, "perTryTimeout");
        checkArgument(timeout.toMillis() >= 1, "perTryTimeout: %s (expected: >= 1ms)", timeout);
        return new RetryPolicy(retries, timeout, budgetPercent, replayableBodySize, conditions, statuses);
    }

    /** The share of requests that may be retries (1..100). */
    public RetryPolicy budgetPercent(int percent) {
        checkArgument(percent >= 1 && percent <= 100, "budgetPercent: %s (expected: 1..100)", percent);
        return new RetryPolicy(retries, perTryTimeout, percent, replayableBodySize, conditions, statuses);
    }

    /** The largest request body kept in memory so the request can be replayed (at most 16 MiB). */
    public RetryPolicy replayableBodySize(DataSize size) {
        requireNonNull(size, "size");
        checkArgument(size.toBytes() <= 16L * 1024 * 1024, "replayableBodySize: %s (expected: <= 16MiB)", size);
        return new RetryPolicy(retries, perTryTimeout, budgetPercent, size, conditions, statuses);
    }

    /**
     * The failures that trigger a retry, replacing the default {@code CONNECT_FAILURE, RESET}. An empty set leaves
     * only the statuses of {@link #retryOnStatus}.
     */
    public RetryPolicy retryOn(Set<Condition> retryConditions) {
        requireNonNull(retryConditions, "retryConditions");
        Set<Condition> copy = retryConditions.isEmpty() ? Set.of()
                : Collections.unmodifiableSet(EnumSet.copyOf(retryConditions));
        return new RetryPolicy(retries, perTryTimeout, budgetPercent, replayableBodySize, copy, statuses);
    }

    /**
     * The upstream response statuses (500..599) after which a replayable request is tried on another member; none by
     * default. The answer of the last try reaches the client unchanged.
     */
    public RetryPolicy retryOnStatus(int... retryStatuses) {
        requireNonNull(retryStatuses, "retryStatuses");
        Set<Integer> copy = new TreeSet<>();
        for (int status : retryStatuses) {
            checkArgument(status >= 500 && status <= 599, "retryOnStatus: %s (expected: 500..599)", status);
            copy.add(status);
        }
        return new RetryPolicy(retries, perTryTimeout, budgetPercent, replayableBodySize, conditions,
                Collections.unmodifiableSet(copy));
    }

    /** The failures that trigger a retry. */
    public Set<Condition> retryConditions() {
        return conditions;
    }

    /** The upstream statuses that trigger a retry (empty by default). */
    public Set<Integer> retryStatuses() {
        return statuses;
    }

    public int retries() {
        return retries;
    }

    public Optional<Duration> perTryTimeout() {
        return Optional.ofNullable(perTryTimeout);
    }

    public int budgetPercent() {
        return budgetPercent;
    }

    public DataSize replayableBodySize() {
        return replayableBodySize;
    }

    @Override
    public String toString() {
        return "RetryPolicy{retries " + retries + " on " + conditions + (statuses.isEmpty() ? "" : " and " + statuses)
                + ", budget " + budgetPercent + "%, replayable bodies up to " + replayableBodySize + "}";
    }
}
