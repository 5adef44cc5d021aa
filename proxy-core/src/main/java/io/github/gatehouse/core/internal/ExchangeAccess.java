package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheStatus;
import io.github.gatehouse.core.Exchange;

/**
 * The way from the API ({@link io.github.gatehouse.core.HttpCache#recordStatus}) to the relay's own exchange state.
 *
 * <p>Thread-safe: the exchange's fields are volatile.
 */
public final class ExchangeAccess {
    private ExchangeAccess() {
    }

    /** Sets {@code exchange}'s cache status if it is one of the relay's exchanges; otherwise does nothing. */
    public static void recordCacheStatus(Exchange exchange, CacheStatus status) {
        if (exchange instanceof ExchangeImpl) {
            ((ExchangeImpl) exchange).cacheStatus(status);
        }
    }
}
