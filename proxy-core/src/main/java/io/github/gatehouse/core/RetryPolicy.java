package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Optional;

/**
 * When a reverse route tries another member of its pool.
 *
 * <p>A request is retried, on a member not tried yet, when: the connection failed (any method: nothing was sent);
 * or, for idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) and requests carrying
 * {@code Idempotency-Key}, the upstream answered 502, 503 or 504, reset or timed out before any response byte. A
 * request body is kept for replay when its declared length is at most {@link #replayableBodySize()}; a larger or
 * chunked body streams and is then never retried once sent. Retries are capped by a budget: at most
 * {@link #budgetPercent()} percent of requests (plus a small reserve) may be retries, so retries cannot amplify an
 * outage. Immutable and thread-safe.
 */
public final class RetryPolicy {
    private static final RetryPolicy NONE = new RetryPolicy(0, null, 0, DataSize.bytes(0));
    private static final RetryPolicy DEFAULT = new RetryPolicy(1, null, 20, DataSize.kibibytes(64));

    private final int retries;
    private final Duration perTryTimeout;
    private final int budgetPercent;
    private final DataSize replayableBodySize;

    private RetryPolicy(int retries, Duration perTryTimeout, int budgetPercent, DataSize replayableBodySize) {
        this.retries = retries;
        this.perTryTimeout = perTryTimeout;
        this.budgetPercent = budgetPercent;
        this.replayableBodySize = replayableBodySize;
    }

    /** One retry, a 20% budget, bodies up to 64 KiB kept for replay: the default. */
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
        return new RetryPolicy(n, perTryTimeout, budgetPercent == 0 ? 20 : budgetPercent, replayableBodySize);
    }

    /** How long each try may wait for the response head (by default the server's upstream timeout). */
    public RetryPolicy perTryTimeout(Duration timeout) {
        requireNonNull(timeout, "perTryTimeout");
        checkArgument(timeout.toMillis() >= 1, "perTryTimeout: %s (expected: >= 1ms)", timeout);
        return new RetryPolicy(retries, timeout, budgetPercent, replayableBodySize);
    }

    /** The share of requests that may be retries (1..100). */
    public RetryPolicy budgetPercent(int percent) {
        checkArgument(percent >= 1 && percent <= 100, "budgetPercent: %s (expected: 1..100)", percent);
        return new RetryPolicy(retries, perTryTimeout, percent, replayableBodySize);
    }

    /** The largest request body kept in memory so the request can be replayed (at most 16 MiB). */
    public RetryPolicy replayableBodySize(DataSize size) {
        requireNonNull(size, "size");
        checkArgument(size.toBytes() <= 16L * 1024 * 1024, "replayableBodySize: %s (expected: <= 16MiB)", size);
        return new RetryPolicy(retries, perTryTimeout, budgetPercent, size);
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

    /** Whether {@code method} (with or without an {@code Idempotency-Key}) may be replayed after it was sent. */
    public static boolean isIdempotent(String method, boolean hasIdempotencyKey) {
        switch (method) {
            case "GET":
            case "HEAD":
            case "OPTIONS":
            case "TRACE":
            case "PUT":
            case "DELETE":
                return true;
            default:
                return hasIdempotencyKey;
        }
    }

    @Override
    public String toString() {
        return "RetryPolicy{retries " + retries + ", budget " + budgetPercent + "%, replayable bodies up to " + replayableBodySize + "}";
    }
}
