package io.github.gatehouse.core;

import java.util.Optional;

/**
 * Sees each exchange passing through the proxy, and lets it pass, rewrites it or answers it.
 *
 * <p><b>Order.</b> {@link #onRequest} runs in builder order, after authentication; the first answer
 * ({@link Verdict#respond}) ends the chain: later filters, the cache and the upstream never see the request.
 * {@link #onResponse} runs in reverse order, only for filters whose {@code onRequest} let the request pass; it sees
 * responses from the upstream and from the cache alike. No body is shown unless {@link #responseBody} asks for it.
 * {@code CONNECT} requests pass through {@link #onRequest} too (mode {@link Exchange.Mode#TUNNEL}), before any
 * tunnel is opened; tunnelled bytes are never shown.
 *
 * <p><b>Failures.</b> A filter that throws or returns {@code null} turns the exchange into a 500 answer and an
 * ERROR log line naming the filter; other exchanges are not affected.
 *
 * <p><b>Threading.</b> One instance serves all exchanges concurrently, on I/O threads. Implementations must be
 * thread-safe and must not block; per-exchange state goes in {@link Exchange#attributes()}.
 */
@FunctionalInterface
public interface ProxyFilter {

    /** Decides about a request head; may change {@code exchange.request()} to rewrite it. Never returns null. */
    Verdict onRequest(Exchange exchange);

    /** Sees, and may change, the response head before it goes to the client. */
    default void onResponse(Exchange exchange, ResponseHead response) {
    }

    /**
     * Asks to see the response body of this exchange. Called after {@link #onResponse}, for responses that have a
     * body. Returns a filter for this exchange only, or empty to let the body stream past untouched (the default).
     */
    default Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
        return Optional.empty();
    }

    /**
     * A short, stable name for this filter, used as a metric tag for the requests it refuses
     * ({@link ExchangeEvent#deniedBy()}): the class's simple name by default, or for a lambda the simple name of the
     * class that declared it. Override it to tell two instances apart; keep the set of names small and fixed.
     */
    default String name() {
        return io.github.gatehouse.core.internal.ExchangeEvents.filterName(getClass());
    }
}
