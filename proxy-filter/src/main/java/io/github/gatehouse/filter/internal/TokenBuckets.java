package io.github.gatehouse.filter.internal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Token buckets, one per key: each holds up to {@code burst} tokens and gains {@code perSecond} a second; a
 * request takes one. Time comes from a {@link Clock}. Holds at most {@code maxKeys} buckets: full (idle) ones are
 * purged when that is reached, and past it new keys are let through untracked (logged once at WARN). Thread-safe.
 */
public final class TokenBuckets implements KeyedLimiter {
    private static final Logger LOG = LoggerFactory.getLogger(TokenBuckets.class);

    private static final class Bucket {
        double tokens;
        Instant updated;

        Bucket(double tokens, Instant updated) {
            this.tokens = tokens;
            this.updated = updated;
        }
    }

    private final String what;
    private final double perSecond;
    private final int burst;
    private final int maxKeys;
    private final Clock clock;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final AtomicBoolean warnedFull = new AtomicBoolean();

    /** Buckets for keys of kind {@code what} ("client", "user"). */
    public TokenBuckets(String what, double perSecond, int burst, int maxKeys, Clock clock) {
        this.what = what;
        this.perSecond = perSecond;
        this.burst = burst;
        this.maxKeys = maxKeys;
        this.clock = clock;
    }

    /** Takes a token for {@code key}: {@code null} if granted, else how long until one is available. */
    @Override
    public Duration tryAcquire(String key) {
        Instant now = clock.instant();
        Bucket b = buckets.get(key);
        if (b == null) {
            if (buckets.size() >= maxKeys) {
                purge(now);
                if (buckets.size() >= maxKeys) {
                    if (warnedFull.compareAndSet(false, true)) {
                        LOG.warn("rate limit for {}s tracks {} keys already; new ones pass unlimited", what, maxKeys);
                    }
                    return null;
                }
            }
            b = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
        }
        synchronized (b) {
            refill(b, now);
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return null;
            }
            double missing = 1 - b.tokens;
            long nanos = (long) Math.ceil(missing / perSecond * 1e9);
            return Duration.ofNanos(Math.max(1, nanos));
        }
    }

    /** Buckets held. */
    public int size() {
        return buckets.size();
    }

    private void refill(Bucket b, Instant now) {
        if (now.isAfter(b.updated)) {
            double elapsed = Duration.between(b.updated, now).toNanos() / 1e9;
            b.tokens = Math.min(burst, b.tokens + elapsed * perSecond);
            b.updated = now;
        }
    }

    private void purge(Instant now) {
        buckets.entrySet().removeIf(e -> {
            Bucket b = e.getValue();
            synchronized (b) {
                refill(b, now);
                return b.tokens >= burst;
            }
        });
        warnedFull.set(false);
    }
}
