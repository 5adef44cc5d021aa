package io.github.gatehouse.core;

import java.util.List;

/**
 * Picks the member of a pool that serves an exchange, among those that may take requests now.
 *
 * <p>Strategies are values ({@link LoadBalancing} has the common ones); users may write their own. The candidates
 * are live views: {@link UpstreamMember#activeRequests()} and {@link UpstreamMember#effectiveWeight()} are current.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads for every exchange of a route; must be thread-safe,
 * fast and non-blocking.
 */
@FunctionalInterface
public interface LoadBalancer {
    /**
     * Picks one of {@code candidates}.
     *
     * @param candidates the pool's available members (healthy, not ejected, not draining, not already tried by
     *     this exchange), never empty; do not modify
     * @param exchange the exchange to place
     * @return one element of {@code candidates}
     */
    UpstreamMember pick(List<UpstreamMember> candidates, Exchange exchange);
}
