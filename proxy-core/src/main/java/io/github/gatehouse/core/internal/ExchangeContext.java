package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.CacheLookup;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything one exchange owns, in one object that every phase sees: the {@link ExchangeImpl} users see, Jetty's
 * request, response and callback, the relay's {@link RelayState}, and what the phases hand on to each other (the
 * cache lookup, the tries, the upstream chosen).
 *
 * <p>It is also the exchange's completion (phase 10): as a {@link Callback} it completes exactly once, moving to
 * {@link RelayState#COMPLETED} or {@link RelayState#FAILED}, writing the access-log line and completing Jetty's
 * callback. An established {@code CONNECT} tunnel writes its line when it closes ({@link #tunnelClosed}).
 *
 * <p><b>Threading.</b> Phases of one exchange never run at the same time, but they may run on different threads, and
 * from the upstream request on, upstream and client callbacks race: the state moves by compare-and-set, and the
 * fields phases hand on are volatile.
 */
final class ExchangeContext implements Callback {
    private static final Logger LOG = LoggerFactory.getLogger(ExchangeContext.class);
    private static final AtomicReferenceFieldUpdater<ExchangeContext, RelayState> STATE =
            AtomicReferenceFieldUpdater.newUpdater(ExchangeContext.class, RelayState.class, "state");

    final RelayHandler relay;
    final ExchangeImpl exchange;
    final Request request;
    final Response response;
    private final Callback callback;
    /** The request target exactly as the client wrote it, or null when the connection did not record it. */
    final String rawTarget;
    private volatile RelayState state = RelayState.RECEIVED;

    /** Phase 5's answer: what to ask the upstream for (a plain miss unless the cache wants a revalidation). */
    volatile CacheLookup lookup = CacheLookup.miss();
    /** Reverse routes: the members tried and the body kept for a replay; null until phase 6 sets it up. */
    volatile Tries tries;
    /** Phase 6's choice: where the request goes, the {@code Host} it carries (null: from the target), the member. */
    volatile UpstreamCall.Target upstreamTarget;
    volatile String hostHeader;
    volatile MemberState member;
    /** Cache-peer routing: the home of this exchange's key when it is another instance (phase 5), or null. */
    volatile PeerRouting.Peer peer;
    /** Whether the try in progress goes to {@link #peer} rather than to the origin. */
    volatile boolean peerTry;
    /** The protocols an upgrade request asks for ({@link UpgradePhase#requested}), or null for any other request. */
    volatile String upgrade;
    /** Runs once when the tunnel has closed on both sides (an upgrade's member accounting), or null. */
    private final java.util.concurrent.atomic.AtomicReference<Runnable> whenTunnelClosed =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** The failure of the last try, when the exchange is {@link RelayState#RETRYING}. */
    volatile Throwable retryCause;
    /** The try in progress, for diagnostics only ({@link #toString}). */
    volatile Object call;
    /** The chain of interim responses written to the client, or null when there was none. */
    private volatile CompletableFuture<Void> interimWrites;
    private volatile AccessHead tunnelHead;
    private final AtomicBoolean tunnelLogged = new AtomicBoolean();

    ExchangeContext(RelayHandler relay, ExchangeImpl exchange, Request request, Response response, Callback callback,
            String rawTarget) {
        this.relay = relay;
        this.exchange = exchange;
        this.request = request;
        this.response = response;
        this.callback = callback;
        this.rawTarget = rawTarget;
    }

    // ---- state ---------------------------------------------------------------------------------------------

    RelayState state() {
        return state;
    }

    /**
     * Moves to {@code next} from whatever the state is now.
     *
     * @throws IllegalStateException if the move is not legal from the current state
     */
    void moveTo(RelayState next) {
        for (;;) {
            RelayState current = state;
            if (!current.mayMoveTo(next)) {
                throw new IllegalStateException(exchange.id() + ": " + current + " -> " + next
                        + " is not a legal move (from " + current + ": see RelayState)");
            }
            if (STATE.compareAndSet(this, current, next)) {
                return;
            }
        }
    }

    /** Moves from {@code expected} to {@code next} if the state is still {@code expected}; false when it is not. */
    boolean moveFrom(RelayState expected, RelayState next) {
        if (!expected.mayMoveTo(next)) {
            throw new IllegalStateException(exchange.id() + ": " + expected + " -> " + next + " is not a legal move");
        }
        return STATE.compareAndSet(this, expected, next);
    }

    // ---- client writes -------------------------------------------------------------------------------------

    /**
     * Relays an interim response (100, 102, 103) to an HTTP/1.1 client, chained behind earlier ones; the final
     * response's first write waits for the chain ({@link #write}).
     */
    void writeInterim(int status, HttpFields fields) {
        synchronized (this) {
            CompletableFuture<Void> previous = interimWrites;
            interimWrites = (previous == null ? CompletableFuture.<Void>completedFuture(null) : previous)
                    .handle((r, x) -> null)
                    .thenCompose(ignored -> response.writeInterim(status, fields))
                    .exceptionally(x -> {
                        LOG.debug("{} interim {} could not be written: {}", exchange.id(), status, Failures.describe(x));
                        return null;
                    });
        }
    }

    /** Writes to the client once every interim response before it has been written. */
    void write(boolean last, ByteBuffer data, Callback writeCallback) {
        CompletableFuture<Void> pending = interimWrites;
        if (pending == null || pending.isDone()) {
            response.write(last, data, writeCallback);
        } else {
            pending.whenComplete((r, x) -> response.write(last, data, writeCallback));
        }
    }

    // ---- phase 10: the end ---------------------------------------------------------------------------------

    /**
     * The tunnel is set up and its {@code 200} is about to go: the exchange's success then writes no line;
     * {@link #tunnelClosed} writes it. What the line needs from the request is read now, while it is valid.
     */
    void tunnelEstablished(int status) {
        tunnelHead = accessHead(status);
    }

    /** Both sides of the tunnel have closed: writes its one line with the bytes each way and the whole duration. */
    /** {@code action} runs once, when this exchange's tunnel has closed on both sides. */
    void whenTunnelClosed(Runnable action) {
        whenTunnelClosed.set(action);
    }

    void tunnelClosed(long bytesToOrigin, long bytesToClient, Throwable cause) {
        Runnable closed = whenTunnelClosed.getAndSet(null);
        if (closed != null) {
            closed.run();
        }
        AccessHead head = tunnelHead;
        if (head == null || !tunnelLogged.compareAndSet(false, true)) {
            return;
        }
        exchange.addBytesIn(bytesToOrigin);
        if (cause != null && exchange.reason() == null) {
            exchange.reason("tunnel closed: " + Failures.describe(cause));
        }
        writeLine(head, bytesToOrigin, bytesToClient, cause == null);
        relay.events().tunnelClosed(this, head.status(), bytesToOrigin, bytesToClient, cause == null);
    }

    @Override
    public void succeeded() {
        for (;;) {
            RelayState current = state;
            if (current.isTerminal()) {
                return;
            }
            if (!current.mayMoveTo(RelayState.COMPLETED)) {
                LOG.error("{} completed in state {}, where the exchange cannot be complete; aborting it", exchange.id(),
                        current);
                failed(new IllegalStateException("exchange completed in state " + current));
                return;
            }
            if (STATE.compareAndSet(this, current, RelayState.COMPLETED)) {
                break;
            }
        }
        relay.untrack(this);
        relay.exchangeEnded();
        if (tunnelHead == null) {
            log(true);
            relay.events().completed(this, true);
        }
        if (!"CONNECT".equals(exchange.method()) && tunnelHead == null) { // an upgraded connection reads no more heads
            TargetFormConnectionFactory.exchangeEnded(request);
        }
        callback.succeeded();
    }

    @Override
    public void failed(Throwable failure) {
        for (;;) {
            RelayState current = state;
            if (current.isTerminal()) {
                return;
            }
            if (STATE.compareAndSet(this, current, RelayState.FAILED)) {
                break;
            }
        }
        ended(failure);
    }

    /**
     * The client went away mid-body, and the cache goes on reading the upstream body alone: the client's side ends
     * now, as a failure ({@link RelayState#DETACHED}). Returns false when the exchange was no longer streaming.
     */
    boolean detach(Throwable failure) {
        if (!STATE.compareAndSet(this, RelayState.STREAMING_UPSTREAM, RelayState.DETACHED)) {
            return false;
        }
        ended(failure);
        return true;
    }

    private void ended(Throwable failure) {
        relay.untrack(this);
        relay.exchangeEnded();
        if (exchange.reason() == null) {
            exchange.reason(Failures.describe(failure));
        }
        tunnelHead = null; // a tunnel whose set-up failed is logged now, as the failure it is
        log(false);
        relay.events().completed(this, false);
        callback.failed(failure);
    }

    @Override
    public String toString() {
        return exchange.id() + " " + exchange.method() + " " + rawTarget + " state=" + state + " committed="
                + response.isCommitted() + " call=" + call;
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    private void log(boolean ok) {
        if (relay.config().accessLog() == NoAccessLog.INSTANCE) {
            return;
        }
        try {
            writeLine(accessHead(response.isCommitted() || ok ? response.getStatus() : 0), exchange.bytesIn(),
                    bytesWritten(), ok);
        } catch (RuntimeException e) {
            LOG.error("{} access log failed", exchange.id(), e);
        }
    }

    /** Body bytes written to the client (for a background exchange, to its stand-in); -1 when unknown. */
    long bytesWritten() {
        return response instanceof BackgroundExchanges.ClientlessResponse clientless ? clientless.bytesWritten()
                : Response.getContentBytesWritten(response);
    }

    /** What the line needs from Jetty's request, read while it is valid (it is recycled after the exchange). */
    private AccessHead accessHead(int status) {
        HttpFields h = request.getHeaders();
        String method = request.getMethod();
        String target = "CONNECT".equals(method) ? exchange.originalTarget()
                : exchange.request() != null ? exchange.requestImpl().target() : exchange.originalTarget();
        return new AccessHead(method, target, request.getConnectionMetaData().getProtocol(), status,
                h.get(HttpHeader.REFERER), h.get(HttpHeader.USER_AGENT));
    }

    private void writeLine(AccessHead head, long bytesIn, long bytesOut, boolean ok) {
        if (relay.config().accessLog() == NoAccessLog.INSTANCE) {
            return;
        }
        try {
            InetSocketAddress client = exchange.clientAddress();
            String clientIp = client.getAddress() != null ? client.getAddress().getHostAddress() : client.getHostString();
            relay.config().accessLog().log(new AccessLogEntry(exchange.id(), exchange.startTime(),
                    Duration.ofNanos(System.nanoTime() - exchange.startNanos()), clientIp,
                    exchange.user().orElse(null), head.method(), head.target(), head.protocol(), head.status(),
                    bytesIn, bytesOut, exchange.upstream(), exchange.cacheStatus().orElse(null), head.referer(),
                    head.userAgent(), exchange.reason(), ok, exchange.tries(), exchange.denied(),
                    exchange.isBackground()));
        } catch (RuntimeException e) {
            LOG.error("{} access log failed", exchange.id(), e);
        }
    }


    /** The request-side facts of an access-log line. */
    private record AccessHead(String method, String target, String protocol, int status, String referer,
            String userAgent) {
    }
}
