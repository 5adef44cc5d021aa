package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheKeyPolicy;
import io.github.gatehouse.cache.CacheRule;
import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.core.internal.Cidr;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The immutable configuration of a cache, as built by {@code HttpCaches.Builder}. {@code rules} are the cache rules
 * in order (first match wins); {@code finishWithoutClientBytes} is how much of a fill no client waits for any more is
 * still read from the origin to finish storing it.
 *
 * <p><b>Threading.</b> Immutable (the maps and lists are copies); shared by all exchanges.
 */
public record CacheConfig(CacheStore store, long maxObjectBytes, Clock clock, CacheKeyPolicy keyPolicy,
        Map<Integer, Duration> forcedTtl, Duration heuristicCap, boolean ignoreClientNoCache, boolean collapsing,
        Duration collapseTimeout, List<String> targetedForward, List<String> targetedReverse, String tagHeader, List<Cidr> purgeFrom, String name,
        Duration defaultStaleIfError, boolean backgroundRevalidation,
        boolean replaySetCookie, List<CacheRule> rules, long finishWithoutClientBytes) {
}
