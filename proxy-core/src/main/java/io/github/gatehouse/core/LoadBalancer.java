package io.github.gatehouse.core;

import java.util.List;

/**
 * Picks the upstream that serves an exchange, among the members of a pool that may take requests now.
 *
 * <p>Strategies are values ({@link LoadBalancing} has the common ones); users may write their own.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads for every exchange of a route; must be thread-safe,
 * fast and non-blocking.
 */
@FunctionalInterface
public interface LoadBalancer {
    /**
     * Picks one of {@code candidates}.
     *
     * @param candidates the pool's available members, never empty; do not modify
     * @param exchange the exchange to place
     * @return one element of {@code candidates}
     */
    Upstream pick(List<Upstream> candidates, Exchange exchange);
}
