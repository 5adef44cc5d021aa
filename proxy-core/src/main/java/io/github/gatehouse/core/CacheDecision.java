package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * What a cache decides about an upstream response: let it pass, store it while it streams, or serve a stored
 * response instead of it. Immutable.
 */
public final class CacheDecision {
    /** The kinds of decision. */
    public enum Kind {
        /** Relay the upstream response; store nothing. */
        PASS,
        /** Relay the upstream response and feed its body to a {@link CacheWriter}. */
        STORE,
        /** Discard the upstream response and serve a stored one (e.g. after a 304 validated it). */
        SERVE
    }

    private static final CacheDecision PASS = new CacheDecision(Kind.PASS, null, null);

    private final Kind kind;
    private final CacheWriter writer;
    private final CachedResponse response;

    private CacheDecision(Kind kind, CacheWriter writer, CachedResponse response) {
        this.kind = kind;
        this.writer = writer;
        this.response = response;
    }

    /** Relays the upstream response without storing it. */
    public static CacheDecision pass() {
        return PASS;
    }

    /** Relays the upstream response and streams its body into {@code writer}. */
    public static CacheDecision store(CacheWriter writer) {
        return new CacheDecision(Kind.STORE, requireNonNull(writer, "writer"), null);
    }

    /** Serves {@code response} instead of the upstream's. */
    public static CacheDecision serve(CachedResponse response) {
        return new CacheDecision(Kind.SERVE, null, requireNonNull(response, "response"));
    }

    /** The kind of decision. */
    public Kind kind() {
        return kind;
    }

    /** The writer, for {@link Kind#STORE}. */
    public Optional<CacheWriter> writer() {
        return Optional.ofNullable(writer);
    }

    /** The stored response, for {@link Kind#SERVE}. */
    public Optional<CachedResponse> response() {
        return Optional.ofNullable(response);
    }
}
