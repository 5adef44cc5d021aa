package io.github.gatehouse.core;

/**
 * Observes finished exchanges: metrics, an admin page's recent errors, a recorder. Add one to a running or built
 * server with {@link ProxyServer#addListener}; without listeners the relay builds no events at all.
 *
 * <p>It sees the exchange after the fact and cannot change it. A listener that throws is logged at ERROR and the
 * other listeners still run; the exchange is not affected.
 *
 * <p><b>Threading.</b> Called concurrently from the proxy's I/O threads, once per exchange, after the response (or
 * the failure) reached the client. Implementations must be thread-safe and must not block: count, or hand the
 * event to a queue of your own.
 */
@FunctionalInterface
public interface ExchangeListener {
    /** One exchange finished. */
    void exchangeCompleted(ExchangeEvent event);
}
