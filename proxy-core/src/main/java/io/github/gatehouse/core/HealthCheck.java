package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.time.Duration;
import java.util.Set;

/**
 * Active health checking of a pool's members (HAProxy's {@code inter}/{@code rise}/{@code fall}): every interval
 * (with up to 10% jitter) each member gets {@code GET path}; an answer with an expected status within the timeout is
 * a success. {@code fall} consecutive failures mark a member down, {@code rise} consecutive successes mark it up
 * again (in slow start, if the pool has one). Members start up. Immutable and thread-safe.
 *
 * <pre>{@code
 * HealthCheck.get("/health").every(Duration.ofSeconds(5)).timeout(Duration.ofSeconds(2)).rise(2).fall(3)
 * }</pre>
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class HealthCheck {
    private final String path;
    private final Duration interval;
    private final Duration timeout;
    private final int rise;
    private final int fall;
    private final Set<Integer> expectedStatuses;

    private HealthCheck(String path, Duration interval, Duration timeout, int rise, int fall, Set<Integer> expected) {
        this.path = path;
        this.interval = interval;
        this.timeout = timeout;
        this.rise = rise;
        this.fall = fall;
        this.expectedStatuses = expected;
    }

    /** Checks with {@code GET path}; every 5 s, 2 s timeout, rise 2, fall 3, any 2xx or 3xx expected. */
    public static HealthCheck get(String path) {
        requireNonNull(path, "path");
        checkArgument(path.startsWith("/"), "health check path: %s (expected: a path starting with /)", path);
        return new HealthCheck(path, Duration.ofSeconds(5), Duration.ofSeconds(2), 2, 3, Set.of());
    }

    /** How often each member is checked. */
    public HealthCheck every(Duration interval) {
        requireNonNull(interval, "interval");
        checkArgument(interval.toMillis() >= 10, "health check interval: %s (expected: >= 10ms)", interval);
        return new HealthCheck(path, interval, timeout, rise, fall, expectedStatuses);
    }

    /** How long a check may take. */
    public HealthCheck timeout(Duration timeout) {
        requireNonNull(timeout, "timeout");
        checkArgument(timeout.toMillis() >= 1, "health check timeout: %s (expected: >= 1ms)", timeout);
        return new HealthCheck(path, interval, timeout, rise, fall, expectedStatuses);
    }

    /** Consecutive successes that bring a member back up. */
    public HealthCheck rise(int n) {
        checkArgument(n >= 1 && n <= 100, "rise: %s (expected: 1..100)", n);
        return new HealthCheck(path, interval, timeout, n, fall, expectedStatuses);
    }

    /** Consecutive failures that take a member down. */
    public HealthCheck fall(int n) {
        checkArgument(n >= 1 && n <= 100, "fall: %s (expected: 1..100)", n);
        return new HealthCheck(path, interval, timeout, rise, n, expectedStatuses);
    }

    /** The statuses that count as healthy (by default any 2xx or 3xx). */
    public HealthCheck expect(int... statuses) {
        checkArgument(statuses.length > 0, "expected statuses: none (expected: at least one)");
        java.util.Set<Integer> set = new java.util.HashSet<>();
        for (int s : statuses) {
            checkArgument(s >= 100 && s <= 599, "expected status: %s (expected: 100..599)", s);
            set.add(s);
        }
        return new HealthCheck(path, interval, timeout, rise, fall, Set.copyOf(set));
    }

    public String path() {
        return path;
    }

    public Duration interval() {
        return interval;
    }

    public Duration timeout() {
        return timeout;
    }

    public int rise() {
        return rise;
    }

    public int fall() {
        return fall;
    }

    /** Whether {@code status} counts as healthy. */
    public boolean isExpected(int status) {
        return expectedStatuses.isEmpty() ? status >= 200 && status < 400 : expectedStatuses.contains(status);
    }

    @Override
    public String toString() {
        return "HealthCheck{GET " + path + " every " + interval + ", timeout " + timeout + ", rise " + rise + ", fall " + fall + "}";
    }
}
