package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.AuthResult;
import io.github.gatehouse.core.Authenticator;
import io.github.gatehouse.core.Credentials;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.filter.internal.AuthExecutors;
import io.github.gatehouse.filter.internal.FailureTracker;
import io.github.gatehouse.filter.internal.Htpasswd;
import io.github.gatehouse.filter.internal.PasswordHash;
import io.github.gatehouse.filter.internal.VerifiedCache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP Basic authentication (RFC 7617) against users held in memory or in htpasswd files.
 *
 * <p><b>Outcomes.</b> No credentials, another scheme, or a wrong user name or password: a challenge
 * ({@code Basic realm="...", charset="UTF-8"}), which the proxy sends as {@code 407 Proxy-Authenticate} in forward
 * mode and {@code 401 WWW-Authenticate} in reverse mode. Right credentials: the user, which goes to the access log
 * and to filters ({@link Exchange#user()}). A client address or a user with too many recent failures: {@code 403}
 * for a while (see {@link Builder#clientLockout} and {@link Builder#userLockout}), even with the right password.
 *
 * <p><b>Stores.</b> htpasswd files may hold bcrypt ({@code $2y$}, {@code $2a$}, {@code $2b$}), SHA-256-crypt
 * ({@code $5$}), SHA-512-crypt ({@code $6$}) and, for old files, Apache's MD5-crypt ({@code $apr1$}, the default
 * of {@code htpasswd -m}) and {@code {SHA}} hashes; lines with other hashes (plain text, crypt(3) DES, scrypt) are
 * skipped with a WARN naming the file, line and user. In-memory passwords are kept as their SHA-256 only.
 * {@link #reload()} re-reads the files and swaps the users in atomically, dropping cached verifications.
 *
 * <p><b>Costs.</b> bcrypt, SHA-crypt and MD5-crypt checks run on a small dedicated executor (by default a shared pool of
 * daemon threads named {@code gatehouse-auth-N}), never on the proxy's I/O threads, and complete the returned stage
 * there. Credentials that verified are remembered for {@link Builder#cacheFor} (one minute by default), keyed by a
 * keyed hash of user and password, so a client sending the same header on every request costs one hash check a
 * minute. A name that is not in the store costs one slow check as well, so response times do not tell which
 * user names exist. Passwords and header values are never logged.
 *
 * <p><b>Overload.</b> The shared pool has one thread a core (at most 4) and room for 1024 waiting checks. When the executor refuses a
 * check (that pool full, or your {@link Builder#executor} throwing
 * {@link java.util.concurrent.RejectedExecutionException}), the stage fails with a
 * {@code RejectedExecutionException}, which the proxy answers with {@code 503} and {@code Retry-After} (see
 * {@link Authenticator}), not with a challenge: the client's credentials were not judged. Cached and fast checks
 * still pass while the pool is full.
 *
 * <pre>{@code
 * ProxyServer.builder().forward()
 *     .authenticator(BasicAuthenticator.builder().realm("office").htpasswd(Path.of("users.htpasswd")).build())
 *     .build();
 * }</pre>
 *
 * <p><b>Threading.</b> Thread-safe; {@link #authenticate} never blocks. {@link #reload()} reads files on the
 * calling thread.
 */
public final class BasicAuthenticator implements Authenticator {
    private static final Logger LOG = LoggerFactory.getLogger(BasicAuthenticator.class);

    /** {@code decoy}: a slow hash of the store, checked for unknown users so they cost as much as known ones. */
    private record Store(Map<String, PasswordHash> users, long generation, PasswordHash decoy) {
        static Store of(Map<String, PasswordHash> users, long generation) {
            List<String> costliestFirst = List.of("bcrypt", "sha512-crypt", "sha256-crypt", "md5-crypt");
            PasswordHash decoy = users.values().stream().filter(PasswordHash::isSlow)
                    .min(Comparator.comparingInt(h -> costliestFirst.indexOf(h.kind()) & Integer.MAX_VALUE)).orElse(null);
            return new Store(users, generation, decoy);
        }
    }

    private final String realm;
    private final String challenge;
    private final Map<String, PasswordHash> inMemory;
    private final Path htpasswd;
    private final Executor executor;
    private final VerifiedCache cache;
    private final FailureTracker clientFailures;
    private final FailureTracker userFailures;
    private volatile Store store;
    private final java.util.concurrent.atomic.LongAdder successes = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder failures = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder lockouts = new java.util.concurrent.atomic.LongAdder();

    private BasicAuthenticator(Builder b) {
        this.realm = b.realm;
        this.challenge = "Basic realm=\"" + b.realm + "\", charset=\"UTF-8\"";
        this.inMemory = Map.copyOf(b.users);
        this.htpasswd = b.htpasswd;
        this.executor = b.executor != null ? b.executor : AuthExecutors.shared();
        this.cache = new VerifiedCache(b.cacheFor, b.cacheSize, b.clock);
        this.clientFailures = b.clientMaxFailures > 0
                ? new FailureTracker("client", b.clientMaxFailures, b.clientWindow, b.clientLockFor, 100_000, b.clock) : null;
        this.userFailures = b.userMaxFailures > 0
                ? new FailureTracker("user", b.userMaxFailures, b.userWindow, b.userLockFor, 100_000, b.clock) : null;
        this.store = Store.of(load(), 1);
        if (b.cluster != null) {
            if (clientFailures != null) {
                clientFailures.share(new io.github.gatehouse.filter.internal.SharedLockouts(b.cluster, b.clusterName,
                        "client", b.clientMaxFailures, b.clientWindow, b.clientLockFor));
            }
            if (userFailures != null) {
                userFailures.share(new io.github.gatehouse.filter.internal.SharedLockouts(b.cluster, b.clusterName,
                        "user", b.userMaxFailures, b.userWindow, b.userLockFor));
            }
        }
    }

    /**
     * Users from an htpasswd file, realm {@code gatehouse}.
     *
     * @throws UncheckedIOException if it cannot be read
     */
    public static BasicAuthenticator htpasswd(Path file) {
        return builder().htpasswd(file).build();
    }

    /** Users from a map of user name to plain password (kept hashed), realm {@code gatehouse}. */
    public static BasicAuthenticator users(Map<String, String> userToPassword) {
        return builder().users(userToPassword).build();
    }

    /** A builder: realm {@code gatehouse}, no users, lockouts and cache at their defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public CompletionStage<AuthResult> authenticate(Optional<Credentials> credentials, Exchange exchange) {
        String client = clientKey(exchange);
        Duration clientLock = clientFailures == null ? null : clientFailures.lockedFor(client);
        if (clientLock != null) {
            failures.increment();
            return done(AuthResult.forbidden("too many failed logins from " + client + "; locked out for "
                    + seconds(clientLock) + " more seconds"));
        }
        if (credentials.isEmpty()) {
            return done(AuthResult.challenge(challenge, "credentials required for realm " + realm));
        }
        Optional<Credentials.UserPassword> basic = credentials.get().basic();
        if (basic.isEmpty()) {
            return done(AuthResult.challenge(challenge, "Basic credentials required for realm " + realm));
        }
        String user = basic.get().user();
        String password = basic.get().password();
        Duration userLock = userFailures == null ? null : userFailures.lockedFor(user);
        if (userLock != null) {
            failures.increment();
            return done(AuthResult.forbidden("user " + user + " is locked out for " + seconds(userLock)
                    + " more seconds after too many failed logins"));
        }
        Store s = store;
        if (cache.contains(user, password, s.generation)) {
            successes.increment();
            return done(AuthResult.authenticated(user));
        }
        PasswordHash hash = s.users.get(user);
        if (hash == null && s.decoy == null) {
            return done(failed(exchange, client, null));
        }
        if (hash != null && !hash.isSlow()) {
            return done(check(exchange, client, user, password, hash, s.generation));
        }
        CompletableFuture<AuthResult> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    if (hash == null) {
                        s.decoy.verify(password);   // an unknown name costs what a known one does: no user probing by timing
                        result.complete(failed(exchange, client, null));
                    } else {
                        result.complete(check(exchange, client, user, password, hash, s.generation));
                    }
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            // the relay logs the 503 at WARN; once per exchange is enough
            LOG.debug("{} password check rejected: the authentication executor is saturated", exchange.id());
            result.completeExceptionally(new RejectedExecutionException("authentication executor is saturated", e));
        }
        return result;
    }

    private AuthResult check(Exchange exchange, String client, String user, String password, PasswordHash hash,
            long generation) {
        if (hash.verify(password)) {
            cache.put(user, password, generation);
            if (userFailures != null) {
                userFailures.success(user);
            }
            successes.increment();
            return AuthResult.authenticated(user);
        }
        return failed(exchange, client, user);
    }

    /** {@code knownUser} is null for unknown names: those count against the client only, never create user state. */
    private AuthResult failed(Exchange exchange, String client, String knownUser) {
        failures.increment();
        if (clientFailures != null && clientFailures.failure(client)) {
            lockouts.increment();
            LOG.info("{} client {} is now locked out after repeated failed logins", exchange.id(), client);
        }
        if (knownUser != null && userFailures != null && userFailures.failure(knownUser)) {
            lockouts.increment();
            LOG.info("{} user {} is now locked out after repeated failed logins", exchange.id(), knownUser);
        }
        return AuthResult.challenge(challenge, "invalid user name or password for realm " + realm);
    }

    /**
     * Logins accepted, refused (wrong password, unknown user, refused while locked out) and lockouts begun, since this
     * authenticator was built. A request without credentials gets a challenge and counts as neither.
     */
    @Override
    public Optional<io.github.gatehouse.core.AuthCounters> counters() {
        return Optional.of(new io.github.gatehouse.core.AuthCounters(successes.sum(), failures.sum(), lockouts.sum()));
    }

    /**
     * Re-reads the htpasswd file (if any) and swaps the users in; cached verifications are dropped. On failure the
     * current users stay in force.
     *
     * @return the number of users now known
     * @throws UncheckedIOException if the file cannot be read
     */
    public int reload() {
        Map<String, PasswordHash> users = load();
        Store old = store;
        store = Store.of(users, old.generation + 1);
        cache.clear();
        LOG.info("basic authenticator for realm {} reloaded: {} users", realm, users.size());
        return users.size();
    }

    /** The number of users currently known. */
    public int userCount() {
        return store.users.size();
    }

    /** The realm. */
    public String realm() {
        return realm;
    }

    private Map<String, PasswordHash> load() {
        Map<String, PasswordHash> users = new HashMap<>();
        if (htpasswd != null) {
            try {
                users.putAll(Htpasswd.read(htpasswd));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read htpasswd file " + htpasswd, e);
            }
        }
        users.putAll(inMemory);
        return Map.copyOf(users);
    }

    private static String clientKey(Exchange exchange) {
        InetSocketAddress a = exchange.clientAddress();
        if (a == null) {
            return "unknown";
        }
        return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }

    private static long seconds(Duration d) {
        return Math.max(1, (d.toMillis() + 999) / 1000);
    }

    private static CompletionStage<AuthResult> done(AuthResult r) {
        return CompletableFuture.completedFuture(r);
    }

    @Override
    public String toString() {
        return "BasicAuthenticator{realm=" + realm + ", " + store.users.size() + " users"
                + (htpasswd == null ? "" : ", " + htpasswd) + "}";
    }

    /** Configures {@link BasicAuthenticator}; not thread-safe. */
    public static final class Builder {
        private String realm = "gatehouse";
        private final Map<String, PasswordHash> users = new LinkedHashMap<>();
        private Path htpasswd;
        private Executor executor;
        private Clock clock = Clock.systemUTC();
        private Duration cacheFor = Duration.ofMinutes(1);
        private int cacheSize = 10_000;
        private int clientMaxFailures = 20;
        private Duration clientWindow = Duration.ofMinutes(5);
        private Duration clientLockFor = Duration.ofMinutes(5);
        private int userMaxFailures = 10;
        private Duration userWindow = Duration.ofMinutes(5);
        private Duration userLockFor = Duration.ofMinutes(5);

        private Builder() {
        }

        /** The realm shown in the challenge; printable ASCII without {@code "} or {@code \}. */
        public Builder realm(String realm) {
            requireNonNull(realm, "realm");
            if (realm.isEmpty() || !realm.chars().allMatch(c -> c >= 0x20 && c < 0x7f && c != '"' && c != '\\')) {
                throw new IllegalArgumentException("realm: '" + realm
                        + "' (expected: non-empty printable ASCII without quote or backslash)");
            }
            this.realm = realm;
            return this;
        }

        /** Adds a user with a plain password (kept as its SHA-256). Users given here win over the file's. */
        public Builder user(String user, String password) {
            requireNonNull(user, "user");
            requireNonNull(password, "password");
            if (user.isEmpty() || user.indexOf(':') >= 0) {
                throw new IllegalArgumentException("user: '" + user + "' (expected: a non-empty name without ':')");
            }
            users.put(user, PasswordHash.plain(password));
            return this;
        }

        /** Adds every user of {@code userToPassword}. */
        public Builder users(Map<String, String> userToPassword) {
            requireNonNull(userToPassword, "userToPassword").forEach(this::user);
            return this;
        }

        /** Reads users from {@code file} now and on every {@link BasicAuthenticator#reload()}. */
        public Builder htpasswd(Path file) {
            if (this.htpasswd != null) {
                throw new IllegalStateException("htpasswd was already set to " + this.htpasswd);
            }
            this.htpasswd = requireNonNull(file, "file");
            return this;
        }

        private io.github.gatehouse.core.cluster.Cluster cluster;
        private String clusterName;

        /** Runs slow password checks on {@code executor} instead of the shared {@code gatehouse-auth} pool. */
        public Builder executor(Executor executor) {
            this.executor = requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Counts failed logins across the instances of {@code cluster} as well: a client or user gets its
         * {@link #clientLockout}/{@link #userLockout} tries across all of them, and a lockout begun on one holds on
         * all, one cluster message later (a login never waits on the cluster). Instances must give the same
         * {@code name} and lockouts. Shared locks run by the wall clock, not by {@link #clock}.
         */
        public Builder cluster(io.github.gatehouse.core.cluster.Cluster cluster, String name) {
            this.cluster = requireNonNull(cluster, "cluster");
            this.clusterName = requireNonNull(name, "name");
            return this;
        }

        /** The clock for lockouts and the cache (tests move a fake one). */
        public Builder clock(Clock clock) {
            this.clock = requireNonNull(clock, "clock");
            return this;
        }

        /** How long verified credentials are remembered; zero turns the cache off. Default one minute. */
        public Builder cacheFor(Duration ttl) {
            requireNonNull(ttl, "ttl");
            if (ttl.isNegative()) {
                throw new IllegalArgumentException("cacheFor: " + ttl + " (expected: >= 0)");
            }
            this.cacheFor = ttl;
            return this;
        }

        /** At most {@code entries} remembered verifications. Default 10 000. */
        public Builder cacheSize(int entries) {
            if (entries < 1) {
                throw new IllegalArgumentException("cacheSize: " + entries + " (expected: > 0)");
            }
            this.cacheSize = entries;
            return this;
        }

        /**
         * Locks a client address out for {@code lockFor} after {@code maxFailures} failed logins within
         * {@code window}; {@code maxFailures} 0 turns it off. Default: 20 in 5 minutes, locked 5 minutes.
         */
        public Builder clientLockout(int maxFailures, Duration window, Duration lockFor) {
            checkLockout("clientLockout", maxFailures, window, lockFor);
            this.clientMaxFailures = maxFailures;
            this.clientWindow = window;
            this.clientLockFor = lockFor;
            return this;
        }

        /**
         * Locks a known user out for {@code lockFor} after {@code maxFailures} failed logins within {@code window},
         * from any address; {@code maxFailures} 0 turns it off. Default: 10 in 5 minutes, locked 5 minutes.
         */
        public Builder userLockout(int maxFailures, Duration window, Duration lockFor) {
            checkLockout("userLockout", maxFailures, window, lockFor);
            this.userMaxFailures = maxFailures;
            this.userWindow = window;
            this.userLockFor = lockFor;
            return this;
        }

        private static void checkLockout(String what, int maxFailures, Duration window, Duration lockFor) {
            requireNonNull(window, "window");
            requireNonNull(lockFor, "lockFor");
            if (maxFailures < 0) {
                throw new IllegalArgumentException(what + ": maxFailures " + maxFailures + " (expected: >= 0)");
            }
            if (window.isNegative() || window.isZero()) {
                throw new IllegalArgumentException(what + ": window " + window + " (expected: > 0)");
            }
            if (lockFor.isNegative() || lockFor.isZero()) {
                throw new IllegalArgumentException(what + ": lockFor " + lockFor + " (expected: > 0)");
            }
        }

        /**
         * Builds the authenticator, reading the htpasswd file now.
         *
         * @throws IllegalStateException if neither users nor a file were given
         * @throws UncheckedIOException if the file cannot be read
         */
        public BasicAuthenticator build() {
            if (users.isEmpty() && htpasswd == null) {
                throw new IllegalStateException("no users: give users(...) or htpasswd(...)");
            }
            return new BasicAuthenticator(this);
        }
    }
}
