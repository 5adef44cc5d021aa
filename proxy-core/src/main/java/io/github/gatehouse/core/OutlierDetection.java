package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.time.Duration;

/**
 * Passive health checking (Envoy's outlier detection): a member whose requests fail {@code consecutiveFailures}
 * times in a row (connect failure, reset, timeout, or a 5xx answer) is ejected for {@code baseEjection} times the
 * number of times it was ejected before (capped at 10x), so a flapping member stays out longer. At most
 * {@code maxEjectionPercent} of a pool is ejected at once. Immutable and thread-safe.
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class OutlierDetection {
    private static final OutlierDetection DEFAULT = new OutlierDetection(5, Duration.ofSeconds(30), 50);
    private static final OutlierDetection OFF = new OutlierDetection(Integer.MAX_VALUE, Duration.ofSeconds(30), 0);

    private final int consecutiveFailures;
    private final Duration baseEjection;
    private final int maxEjectionPercent;

    private OutlierDetection(int consecutiveFailures, Duration baseEjection, int maxEjectionPercent) {
        this.consecutiveFailures = consecutiveFailures;
        this.baseEjection = baseEjection;
        this.maxEjectionPercent = maxEjectionPercent;
    }

    /** 5 consecutive failures eject for 30 s (growing), at most 50% of the pool: the default. */
    public static OutlierDetection defaults() {
        return DEFAULT;
    }

    /** No passive ejection. */
    public static OutlierDetection off() {
        return OFF;
    }

    /** Ejects after {@code n} consecutive failures. */
    public OutlierDetection consecutiveFailures(int n) {
        checkArgument(n >= 1, "consecutiveFailures: %s (expected: >= 1)", n);
        return new OutlierDetection(n, baseEjection, maxEjectionPercent == 0 ? 50 : maxEjectionPercent);
    }

    /** The first ejection's length; later ones are multiples of it. */
    public OutlierDetection baseEjection(Duration d) {
        requireNonNull(d, "baseEjection");
        checkArgument(d.toMillis() >= 1, "baseEjection: %s (expected: >= 1ms)", d);
        return new OutlierDetection(consecutiveFailures, d, maxEjectionPercent);
    }

    /** The largest share of the pool that may be ejected at once (0..100). */
    public OutlierDetection maxEjectionPercent(int percent) {
        checkArgument(percent >= 0 && percent <= 100, "maxEjectionPercent: %s (expected: 0..100)", percent);
        return new OutlierDetection(consecutiveFailures, baseEjection, percent);
    }

    public int consecutiveFailures() {
        return consecutiveFailures;
    }

    public Duration baseEjection() {
        return baseEjection;
    }

    public int maxEjectionPercent() {
        return maxEjectionPercent;
    }

    @Override
    public String toString() {
        return this == OFF ? "OutlierDetection.off" : "OutlierDetection{" + consecutiveFailures + " failures, " + baseEjection
                + ", max " + maxEjectionPercent + "%}";
    }
}
