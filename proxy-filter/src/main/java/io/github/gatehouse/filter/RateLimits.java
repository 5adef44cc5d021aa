package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.filter.internal.KeyedLimiter;
import io.github.gatehouse.filter.internal.TokenBuckets;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Request rate limits per client address and per authenticated user, as token buckets: each key may make
 * {@code burst} requests at once and then {@code permitsPerSecond} a second. A request over the limit gets
 * {@code 429 Too Many Requests} with {@code Retry-After} (whole seconds, at least 1) and a reason naming the limit.
 *
 * <p>The per-user limit applies only to authenticated exchanges (put the filter after authentication, which the
 * proxy always runs first). Each exchange, {@code CONNECT} included, takes one token from each limit that applies;
 * a request refused by the client limit does not take a user token. At most {@link Builder#maxTrackedKeys} keys
 * (100 000 by default) are tracked per limit; idle ones are forgotten when that is reached.
 *
 * <pre>{@code
 * ProxyServer.builder().forward()
 *     .authenticator(users)
 *     .filter(RateLimits.builder().perClient(50, 100).perUser(20, 40).build())
 *     .build();
 * }</pre>
 *
 * <p><b>Threading.</b> Thread-safe; {@link #onRequest} never blocks. Time comes from the builder's {@link Clock}.
 */
public final class RateLimits implements ProxyFilter {
    private final KeyedLimiter clients;
    private final KeyedLimiter users;
    private final String clientLimit;
    private final String userLimit;

    private RateLimits(Builder b) {
        this.clients = b.clientRate > 0 ? limiter(b, "client", b.clientRate, b.clientBurst) : null;
        this.users = b.userRate > 0 ? limiter(b, "user", b.userRate, b.userBurst) : null;
        this.clientLimit = b.clientRate + "/s, burst " + b.clientBurst;
        this.userLimit = b.userRate + "/s, burst " + b.userBurst;
    }

    private static KeyedLimiter limiter(Builder b, String what, int rate, int burst) {
        if (b.cluster != null) {
            return new io.github.gatehouse.filter.internal.SharedTokenBuckets(b.cluster, b.clusterName, what, rate, burst,
                    b.maxKeys, b.clock);
        }
        return new TokenBuckets(what, rate, burst, b.maxKeys, b.clock);
    }

    /** {@code permitsPerSecond} requests a second per client address, bursts of as many. */
    public static RateLimits perClient(int permitsPerSecond) {
        return builder().perClient(permitsPerSecond, permitsPerSecond).build();
    }

    /** {@code permitsPerSecond} requests a second per authenticated user, bursts of as many. */
    public static RateLimits perUser(int permitsPerSecond) {
        return builder().perUser(permitsPerSecond, permitsPerSecond).build();
    }

    /** A builder with no limits yet, on the system clock. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Verdict onRequest(Exchange exchange) {
        if (clients != null) {
            String client = clientKey(exchange);
            Duration wait = clients.tryAcquire(client);
            if (wait != null) {
                return tooMany("rate limit exceeded for client " + client + " (" + clientLimit + ")", wait);
            }
        }
        if (users != null) {
            Optional<String> user = exchange.user();
            if (user.isPresent()) {
                Duration wait = users.tryAcquire(user.get());
                if (wait != null) {
                    return tooMany("rate limit exceeded for user " + user.get() + " (" + userLimit + ")", wait);
                }
            }
        }
        return Verdict.proceed();
    }

    private static Verdict tooMany(String reason, Duration wait) {
        long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
        return Verdict.respond(429, reason, new HttpHeaders().add("Retry-After", Long.toString(seconds)));
    }

    private static String clientKey(Exchange exchange) {
        InetSocketAddress a = exchange.clientAddress();
        if (a == null) {
            return "unknown";
        }
        return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }

    @Override
    public String toString() {
        return "RateLimits{" + (clients != null ? "client " + clientLimit : "") + (users != null ? " user " + userLimit : "") + "}";
    }

    /** Configures {@link RateLimits}; not thread-safe. */
    public static final class Builder {
        private int clientRate;
        private int clientBurst;
        private int userRate;
        private int userBurst;
        private int maxKeys = 100_000;
        private Clock clock = Clock.systemUTC();
        private io.github.gatehouse.core.cluster.Cluster cluster;
        private String clusterName;

        private Builder() {
        }

        /**
         * Shares the limits with the other instances of {@code cluster}: a client (or user) gets its limit across all
         * of them together, not on each. Each instance takes tokens from a local allowance it leases from a bucket in
         * the cluster a few at a time, so no request waits on the network; the cluster may admit, beyond the limit,
         * about one lease (a quarter of the burst divided by the members) per instance that sees the key, and may
         * refuse a request while an instance's next lease is in flight. Without an answer from the cluster (within
         * its operation timeout) an instance limits on its own until it answers again. The instances must give the
         * same {@code name} and limits; the clock given to {@link #clock} is not used for the shared buckets (their
         * owner's clock is).
         */
        public Builder cluster(io.github.gatehouse.core.cluster.Cluster cluster, String name) {
            this.cluster = requireNonNull(cluster, "cluster");
            this.clusterName = requireNonNull(name, "name");
            return this;
        }

        /** Limits each client address to {@code permitsPerSecond}, with bursts up to {@code burst}. */
        public Builder perClient(int permitsPerSecond, int burst) {
            check("perClient", permitsPerSecond, burst);
            this.clientRate = permitsPerSecond;
            this.clientBurst = burst;
            return this;
        }

        /** Limits each authenticated user to {@code permitsPerSecond}, with bursts up to {@code burst}. */
        public Builder perUser(int permitsPerSecond, int burst) {
            check("perUser", permitsPerSecond, burst);
            this.userRate = permitsPerSecond;
            this.userBurst = burst;
            return this;
        }

        /** The most keys tracked per limit; default 100 000. */
        public Builder maxTrackedKeys(int keys) {
            if (keys < 1) {
                throw new IllegalArgumentException("maxTrackedKeys: " + keys + " (expected: > 0)");
            }
            this.maxKeys = keys;
            return this;
        }

        /** The clock buckets refill by (tests move a fake one). */
        public Builder clock(Clock clock) {
            this.clock = requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the limits.
         *
         * @throws IllegalStateException if no limit was set
         */
        public RateLimits build() {
            if (clientRate == 0 && userRate == 0) {
                throw new IllegalStateException("no limit: give perClient(...) or perUser(...)");
            }
            return new RateLimits(this);
        }

        private static void check(String what, int rate, int burst) {
            if (rate < 1) {
                throw new IllegalArgumentException(what + ": permitsPerSecond " + rate + " (expected: > 0)");
            }
            if (burst < 1) {
                throw new IllegalArgumentException(what + ": burst " + burst + " (expected: > 0)");
            }
        }
    }
}
