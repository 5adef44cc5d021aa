package io.github.gatehouse.core.testing;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CanIgnoreReturnValue;
import com.google.errorprone.annotations.CheckReturnValue;
import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.ResponseHead;
import io.github.gatehouse.core.Verdict;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link ProxyFilter} that makes things go wrong for a share of requests, to test how clients, retries and
 * timeouts cope: added latency, {@code 5xx} answers from the proxy, and responses aborted mid-body (the client
 * connection is cut after part of the body, so the client sees a truncated, failed response).
 *
 * <pre>{@code
 * FaultInjection faults = FaultInjection.builder()
 *         .seed(42)                                           // the same seed, the same faults for the same requests
 *         .latency(Duration.ofMillis(200), 0.10)              // 10% of requests wait 200 ms before going on
 *         .error(503, 0.05)                                   // 5% are answered 503 by the proxy
 *         .abortResponse(0.01)                                // 1% of responses are cut mid-body
 *         .build();
 * ProxyServer.builder().filter(faults)...
 * }</pre>
 *
 * <p>Each request draws three numbers from one seeded generator, in arrival order, whatever faults apply: with one
 * client sending one request at a time, a seed gives the same faults to the same requests on every run. Faults
 * combine: a delayed request may still be answered 503. Counters ({@link #delayed()}, {@link #errors()},
 * {@link #aborted()}) say how many were injected. An aborted response with no body at all becomes a {@code 502}.
 *
 * <p>The 5xx answers carry {@code Proxy-Status} like any other filter answer; their reason says
 * {@code fault injected}.
 *
 * <p><b>Threading.</b> Thread-safe. <b>Latency blocks</b> the proxy thread that runs the filter for the delay:
 * it is for tests only, with short delays, never for production.
 */
public final class FaultInjection implements ProxyFilter {
    private final SplittableRandom random;
    private final Duration latency;
    private final double latencyShare;
    private final int errorStatus;
    private final double errorShare;
    private final double abortShare;
    private final AtomicLong delayed = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong aborted = new AtomicLong();
    private final String abortAttribute = FaultInjection.class.getName() + ".abort@" + System.identityHashCode(this);

    private FaultInjection(Builder b) {
        this.random = new SplittableRandom(b.seed);
        this.latency = b.latency;
        this.latencyShare = b.latencyShare;
        this.errorStatus = b.errorStatus;
        this.errorShare = b.errorShare;
        this.abortShare = b.abortShare;
    }

    /** A builder with no faults and seed 0. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Verdict onRequest(Exchange exchange) {
        double forLatency;
        double forError;
        double forAbort;
        synchronized (random) {
            forLatency = random.nextDouble();
            forError = random.nextDouble();
            forAbort = random.nextDouble();
        }
        if (forLatency < latencyShare) {
            delayed.incrementAndGet();
            pause(latency);
        }
        if (forError < errorShare) {
            errors.incrementAndGet();
            return Verdict.respond(errorStatus, "fault injected: " + errorStatus);
        }
        if (forAbort < abortShare) {
            exchange.attributes().put(abortAttribute, Boolean.TRUE);
        }
        return Verdict.proceed();
    }

    @Override
    public Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
        if (exchange.attributes().remove(abortAttribute) == null) {
            return Optional.empty();
        }
        aborted.incrementAndGet();
        return Optional.of(new Aborting());
    }

    /** How many requests were delayed. */
    public long delayed() {
        return delayed.get();
    }

    /** How many requests were answered with the error status. */
    public long errors() {
        return errors.get();
    }

    /** How many responses were aborted. */
    public long aborted() {
        return aborted.get();
    }

    @Override
    public String name() {
        return "FaultInjection";
    }

    @Override
    public String toString() {
        return "FaultInjection{latency " + latency + " for " + latencyShare + ", " + errorStatus + " for " + errorShare
                + ", abort for " + abortShare + "}";
    }

    private static void pause(Duration d) {
        long end = System.nanoTime() + d.toNanos();
        boolean interrupted = false;
        for (long left = d.toNanos(); left > 0; left = end - System.nanoTime()) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Passes the first half of the first chunk (keeping {@code Content-Length}), then cuts the client connection at
     * the next chunk; a body of one chunk ends short of its {@code Content-Length}, which fails it as well.
     */
    private static final class Aborting implements BodyFilter {
        private boolean passedSome;

        @Override
        public ByteBuffer onChunk(ByteBuffer chunk, boolean last, Control control) {
            if (passedSome || chunk.remaining() < 2) {
                control.block(502, "fault injected: response aborted");
                return ByteBuffer.allocate(0);
            }
            passedSome = true;
            ByteBuffer half = ByteBuffer.allocate(chunk.remaining() / 2);
            ByteBuffer view = chunk.duplicate();
            view.limit(view.position() + half.capacity());
            half.put(view).flip();
            return half;
        }

        @Override
        public boolean preservesBytes() {
            return true;
        }
    }

    /**
     * Configures a {@link FaultInjection}. Shares are between 0 (never) and 1 (always).
     *
     * <p><b>Threading.</b> Not thread-safe; build once, share the built filter.
     */
    public static final class Builder {
        private long seed;
        private Duration latency = Duration.ZERO;
        private double latencyShare;
        private int errorStatus = 503;
        private double errorShare;
        private double abortShare;

        private Builder() {
        }

        /** The generator's seed (default 0). */
        @CanIgnoreReturnValue
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Delays {@code share} of requests by {@code delay} before they go on.
         *
         * @throws IllegalArgumentException if {@code delay} is negative or {@code share} not in 0..1
         */
        @CanIgnoreReturnValue
        public Builder latency(Duration delay, double share) {
            requireNonNull(delay, "delay");
            if (delay.isNegative()) {
                throw new IllegalArgumentException("latency: " + delay + " (expected: >= 0)");
            }
            this.latency = delay;
            this.latencyShare = share(share, "latency");
            return this;
        }

        /**
         * Answers {@code share} of requests with {@code status} (a 5xx) instead of relaying them.
         *
         * @throws IllegalArgumentException if {@code status} is not 500..599 or {@code share} not in 0..1
         */
        @CanIgnoreReturnValue
        public Builder error(int status, double share) {
            if (status < 500 || status > 599) {
                throw new IllegalArgumentException("error status: " + status + " (expected: 500..599)");
            }
            this.errorStatus = status;
            this.errorShare = share(share, "error");
            return this;
        }

        /**
         * Cuts {@code share} of responses mid-body: the client gets the head and part of the body, then the
         * connection closes.
         *
         * @throws IllegalArgumentException if {@code share} is not in 0..1
         */
        @CanIgnoreReturnValue
        public Builder abortResponse(double share) {
            this.abortShare = share(share, "abortResponse");
            return this;
        }

        /** The filter. */
        @CheckReturnValue
        public FaultInjection build() {
            return new FaultInjection(this);
        }

        private static double share(double share, String what) {
            if (!(share >= 0 && share <= 1)) {
                throw new IllegalArgumentException(what + " share: " + share + " (expected: 0..1)");
            }
            return share;
        }
    }
}
