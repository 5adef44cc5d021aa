package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.ExchangeEvent;
import io.github.gatehouse.core.ExchangeListener;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one server, and the event each finished exchange becomes (phase 10). Without listeners it builds
 * nothing: observation costs one volatile read per exchange when it is off.
 *
 * <p><b>Threading.</b> Listeners may be added and removed at any time, from any thread; events are delivered on the
 * thread that completed the exchange.
 */
public final class ExchangeEvents {
    private static final Logger LOG = LoggerFactory.getLogger(ExchangeEvents.class);

    private final List<ExchangeListener> listeners = new CopyOnWriteArrayList<>();

    /** Adds {@code listener}; the returned action removes it again. */
    public Runnable add(ExchangeListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** Whether any listener is registered. */
    public boolean isObserved() {
        return !listeners.isEmpty();
    }

    /** An exchange (not an open tunnel) ended; {@code ok} when its response was delivered in full. */
    void completed(ExchangeContext x, boolean ok) {
        if (listeners.isEmpty()) {
            return;
        }
        try {
            int status = x.response.isCommitted() || ok ? x.response.getStatus() : 0;
            deliver(event(x, status, x.exchange.bytesIn(), x.bytesWritten(), ok, false));
        } catch (RuntimeException e) {
            LOG.error("{} exchange event could not be built", x.exchange.id(), e);
        }
    }

    /** A tunnel closed (both connections): one event for its whole life. */
    void tunnelClosed(ExchangeContext x, int status, long bytesToOrigin, long bytesToClient, boolean ok) {
        if (listeners.isEmpty()) {
            return;
        }
        try {
            deliver(event(x, status, bytesToOrigin, bytesToClient, ok, true));
        } catch (RuntimeException e) {
            LOG.error("{} exchange event could not be built", x.exchange.id(), e);
        }
    }

    private void deliver(ExchangeEvent event) {
        for (ExchangeListener l : listeners) {
            try {
                l.exchangeCompleted(event);
            } catch (RuntimeException e) {
                LOG.error("{} exchange listener {} threw", event.exchangeId(), l, e);
            }
        }
    }

    private static ExchangeEvent event(ExchangeContext x, int status, long bytesIn, long bytesOut, boolean ok,
            boolean tunnel) {
        ExchangeImpl e = x.exchange;
        String route = e.route().map(io.github.gatehouse.core.Route::label)
                .orElse(e.mode() == io.github.gatehouse.core.Exchange.Mode.FORWARD ? "forward" : "none");
        String outcome = !ok ? ExchangeEvent.ABORTED
                : e.denied() ? ExchangeEvent.DENIED
                : e.proxyError() != null ? e.proxyError()
                : e.answeredByProxy() ? ExchangeEvent.ANSWERED
                : ExchangeEvent.OK;
        MemberState member = x.member;
        long headNanos = e.upstreamHeadNanos();
        String target = "CONNECT".equals(e.method()) || e.request() == null ? e.originalTarget()
                : e.requestImpl().target();
        return new ExchangeEvent(e.id(), e.startTime(), route, e.method(), target, status, outcome,
                Duration.ofNanos(System.nanoTime() - e.startNanos()),
                member == null ? null : member.upstream().uri().toString(),
                headNanos < 0 ? null : Duration.ofNanos(headNanos), e.tries(), bytesIn, bytesOut,
                e.cacheStatus().orElse(null), e.user().isPresent(), e.deniedBy(), tunnel, e.reason(), e.isBackground());
    }

    /** The default {@code ProxyFilter.name()}: the simple class name, or for a lambda its declaring class's. */
    public static String filterName(Class<?> type) {
        String name = type.getName();
        int lambda = name.indexOf("$$Lambda");
        if (lambda >= 0) {
            name = name.substring(0, lambda);
        }
        int dot = name.lastIndexOf('.');
        name = name.substring(dot + 1);
        // anonymous and nested classes: Outer$1 -> Outer, Outer$Inner -> Inner
        int dollar = name.lastIndexOf('$');
        if (dollar >= 0) {
            String last = name.substring(dollar + 1);
            name = last.isEmpty() || Character.isDigit(last.charAt(0)) ? name.substring(0, name.indexOf('$')) : last;
        }
        return name;
    }
}
