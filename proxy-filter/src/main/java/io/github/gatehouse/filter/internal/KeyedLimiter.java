package io.github.gatehouse.filter.internal;

import java.time.Duration;

/** A rate limit per key: {@link TokenBuckets} on one instance, {@link SharedTokenBuckets} across a cluster. */
@FunctionalInterface
public interface KeyedLimiter {
    /** Takes a token for {@code key}: {@code null} if granted, else how long until one may be. Never blocks. */
    Duration tryAcquire(String key);
}
