package io.github.gatehouse.core.testing;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link Clock} that stands still until a test moves it, for everything in Gatehouse that takes a clock: the cache
 * ({@code HttpCaches.builder().clock(...)}: freshness, age, stale windows), rate limits
 * ({@code RateLimits.builder().clock(...)}), authentication lockouts ({@code BasicAuthenticator.builder().clock(...)})
 * and time-of-day rules ({@code AccessConditions.time(clock, ...)}).
 *
 * <pre>{@code
 * SettableClock clock = SettableClock.atWholeSecond();
 * HttpCache cache = HttpCaches.builder().memory(DataSize.mebibytes(16)).clock(clock).build();
 * // ... store a response with max-age=60 ...
 * clock.advance(Duration.ofSeconds(61));                 // now it is stale, without waiting a minute
 * }</pre>
 *
 * <p>{@link #withZone} returns a view that shares this clock's instant: moving either moves both.
 *
 * <p><b>Threading.</b> Thread-safe: the proxy reads it from its threads while the test moves it.
 */
public final class SettableClock extends Clock {
    private final AtomicReference<Instant> now;
    private final ZoneId zone;

    private SettableClock(AtomicReference<Instant> now, ZoneId zone) {
        this.now = now;
        this.zone = zone;
    }

    /** A clock at {@code start}, in UTC. */
    public static SettableClock at(Instant start) {
        return new SettableClock(new AtomicReference<>(requireNonNull(start, "start")), ZoneOffset.UTC);
    }

    /** A clock at {@code isoInstant} ({@code 2026-01-01T00:00:00Z}), in UTC. */
    public static SettableClock at(String isoInstant) {
        return at(Instant.parse(requireNonNull(isoInstant, "isoInstant")));
    }

    /**
     * A clock at the current second, truncated, in UTC: HTTP dates have whole seconds, so {@code Date} and
     * {@code Expires} round-trip exactly.
     */
    public static SettableClock atWholeSecond() {
        return at(Instant.ofEpochSecond(Instant.now().getEpochSecond()));
    }

    /**
     * Moves the clock forward by {@code amount}.
     *
     * @throws IllegalArgumentException if {@code amount} is negative (use {@link #set} to go back)
     */
    public void advance(Duration amount) {
        requireNonNull(amount, "amount");
        if (amount.isNegative()) {
            throw new IllegalArgumentException("advance: " + amount + " (expected: >= 0; set(Instant) goes back)");
        }
        now.updateAndGet(t -> t.plus(amount));
    }

    /** Sets the clock to {@code instant}, forward or back. */
    public void set(Instant instant) {
        now.set(requireNonNull(instant, "instant"));
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    @Override
    public ZoneId getZone() {
        return zone;
    }

    /** A view in {@code zone} that shares this clock's instant. */
    @Override
    @CheckReturnValue
    public SettableClock withZone(ZoneId zone) {
        return new SettableClock(now, requireNonNull(zone, "zone"));
    }

    @Override
    public String toString() {
        return "SettableClock[" + now.get() + ", " + zone + "]";
    }
}
