package io.github.gatehouse.core.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Minimum data rates for request and response bodies, in front of the relay (installed only when a rate is set).
 *
 * <p>Why not Jetty's: in Jetty 12.1 core, {@code HttpConfiguration.setMinRequestDataRate/setMinResponseDataRate}
 * are read by nothing but the servlet layers (ee9/ee10 {@code HttpInput}/{@code HttpOutput}), so on a core
 * {@code Handler} they do nothing; and {@code MinimumDataRateHandler} measures the rate with its
 * {@code StatisticsHandler}'s handler-wide byte counters (all exchanges together, so one fast client hides every
 * slow one), only when the application calls {@code demand} or {@code write}, and from the first demand in wall
 * time, so a slow upstream counts against the client.
 *
 * <p>Here each direction of an exchange has a meter of the time the proxy spent waiting on the client (a request
 * demand not yet answered; a response write not yet completed) and the bytes that moved. The client may make the
 * proxy wait {@code grace + bytes / rate}; a check every {@value #CHECK_MS} ms (one {@link Deadlines} entry per
 * exchange, on a single fixed duration) ends the exchange past that: a request-body failure that the relay answers
 * with 408 (or a reset once the response began), or a closed connection for a response the client does not take.
 * {@code CONNECT} is passed through untouched.
 */
final class BodyRateHandler extends Handler.Wrapper {
    private static final Logger LOG = LoggerFactory.getLogger(BodyRateHandler.class);
    static final long CHECK_MS = 500;

    private final long minRequestRate;
    private final long minResponseRate;
    private final long graceNanos;
    private final Supplier<Deadlines> deadlines;

    BodyRateHandler(Handler relay, long minRequestRate, long minResponseRate, java.time.Duration grace,
            Supplier<Deadlines> deadlines) {
        super(relay);
        this.minRequestRate = minRequestRate;
        this.minResponseRate = minResponseRate;
        this.graceNanos = grace.toNanos();
        this.deadlines = deadlines;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if ("CONNECT".equals(request.getMethod())) {
            return super.handle(request, response, callback);
        }
        Guard guard = new Guard(request, response, callback);
        return super.handle(guard.request, guard.response, guard.callback);
    }

    /** The slow-body failure of a request body: the relay answers it with 408. */
    static final class SlowBodyException extends HttpException.RuntimeException {
        private static final long serialVersionUID = 1L;

        SlowBodyException(String reason) {
            super(HttpStatus.REQUEST_TIMEOUT_408, reason);
        }
    }

    /** Bytes moved and time spent waiting on the client, for one direction. Written by one thread at a time. */
    private static final class Meter {
        final long rate;
        volatile long bytes;
        volatile long waitedNanos;
        /** When the current wait began, or 0 when the proxy is not waiting on the client. */
        volatile long waitingSince;

        Meter(long rate) {
            this.rate = rate;
        }

        void startWait() {
            long now = System.nanoTime();
            waitingSince = now == 0 ? 1 : now;
        }

        void endWait(long moved) {
            long since = waitingSince;
            if (since != 0) {
                waitedNanos += System.nanoTime() - since;
                waitingSince = 0;
            }
            bytes += moved;
        }

        long waited(long now) {
            long since = waitingSince;
            return waitedNanos + (since != 0 ? now - since : 0);
        }

        /** Whether the client made the proxy wait longer than the grace plus what its bytes earned. */
        boolean tooSlow(long now, long graceNanos) {
            if (rate <= 0) {
                return false;
            }
            long earned = bytes >= Long.MAX_VALUE / 1_000_000_000L ? Long.MAX_VALUE : bytes * 1_000_000_000L / rate;
            return waited(now) > graceNanos + earned;
        }

        String describe(long now) {
            return bytes + " bytes in " + TimeUnit.NANOSECONDS.toMillis(waited(now)) + " ms of waiting";
        }
    }

    /** One exchange: the wrapped request, response and callback, and the periodic check. */
    private final class Guard {
        final Meter in = new Meter(minRequestRate);
        final Meter out = new Meter(minResponseRate);
        final Request request;
        final Response response;
        final Callback callback;
        private final AtomicBoolean checking = new AtomicBoolean();
        private final AtomicBoolean violated = new AtomicBoolean();
        private volatile boolean ended;

        Guard(Request request, Response response, Callback callback) {
            this.request = minRequestRate > 0 ? new RateRequest(request, this) : request;
            this.response = minResponseRate > 0 ? new RateResponse(this.request, response, this) : response;
            this.callback = new Callback() {
                @Override
                public void succeeded() {
                    ended = true;
                    callback.succeeded();
                }

                @Override
                public void failed(Throwable failure) {
                    ended = true;
                    callback.failed(failure);
                }

                @Override
                public InvocationType getInvocationType() {
                    return callback.getInvocationType();
                }
            };
        }

        /** A wait began: make sure the check runs while the exchange lasts. */
        void waiting() {
            if (!checking.get() && checking.compareAndSet(false, true)) {
                schedule();
            }
        }

        private void schedule() {
            Deadlines d = deadlines.get();
            if (d != null) {
                d.schedule(CHECK_MS, this::check);
            }
        }

        /** On the sweeper thread: keep it short; the exchange is ended on the server's executor. */
        private void check() {
            if (ended || violated.get()) {
                return;
            }
            long now = System.nanoTime();
            if (in.tooSlow(now, graceNanos)) {
                if (violated.compareAndSet(false, true)) {
                    String reason = "request body arrived slower than " + in.rate + " bytes/s (" + in.describe(now) + ")";
                    LOG.info("{} {} {}: {}; ending the exchange", request.getConnectionMetaData().getRemoteSocketAddress(),
                            request.getMethod(), request.getHttpURI(), reason);
                    ((RateRequest) request).failSlow(new SlowBodyException(reason));
                }
                return;
            }
            if (out.tooSlow(now, graceNanos)) {
                if (violated.compareAndSet(false, true)) {
                    String reason = "client took the response body slower than " + out.rate + " bytes/s ("
                            + out.describe(now) + ")";
                    LOG.info("{} {} {}: {}; closing the connection", request.getConnectionMetaData().getRemoteSocketAddress(),
                            request.getMethod(), request.getHttpURI(), reason);
                    TimeoutException cause = new TimeoutException(reason);
                    executor().execute(() -> request.getConnectionMetaData().getConnection().getEndPoint().close(cause));
                }
                return;
            }
            schedule();
        }

        Executor executor() {
            return request.getComponents().getExecutor();
        }
    }

    /** Counts request-body bytes and the time between a demand and its callback. */
    private static final class RateRequest extends Request.Wrapper {
        private final Guard guard;
        private final AtomicReference<Runnable> pending = new AtomicReference<>();
        private volatile Content.Chunk failure;

        RateRequest(Request wrapped, Guard guard) {
            super(wrapped);
            this.guard = guard;
        }

        @Override
        public Content.Chunk read() {
            Content.Chunk f = failure;
            if (f != null) {
                return f;
            }
            Content.Chunk chunk = super.read();
            if (chunk != null && !Content.Chunk.isFailure(chunk)) {
                guard.in.bytes += chunk.remaining();
            }
            return chunk;
        }

        @Override
        public void demand(Runnable demandCallback) {
            if (failure != null) {
                demandCallback.run();
                return;
            }
            pending.set(demandCallback);
            guard.in.startWait();
            guard.waiting();
            super.demand(this::onDemand);
        }

        private void onDemand() {
            Runnable r = pending.getAndSet(null);
            if (r != null) {
                guard.in.endWait(0);
                r.run();
            }
        }

        /** Reads fail from now on; a reader waiting for bytes is woken (on the executor) to see the failure. */
        void failSlow(Throwable cause) {
            failure = Content.Chunk.from(cause, true);
            Runnable r = pending.getAndSet(null);
            if (r != null) {
                guard.in.endWait(0);
                guard.executor().execute(r);
            }
        }
    }

    /** Counts response-body bytes and the time a write stays pending. */
    private static final class RateResponse extends Response.Wrapper {
        private final Guard guard;

        RateResponse(Request request, Response wrapped, Guard guard) {
            super(request, wrapped);
            this.guard = guard;
        }

        @Override
        public void write(boolean last, ByteBuffer content, Callback callback) {
            Meter out = guard.out;
            long n = content == null ? 0 : content.remaining();
            out.startWait();
            guard.waiting();
            super.write(last, content, Callback.from(callback.getInvocationType(), () -> {
                out.endWait(n);
                callback.succeeded();
            }, x -> {
                out.endWait(0);
                callback.failed(x);
            }));
        }
    }
}
