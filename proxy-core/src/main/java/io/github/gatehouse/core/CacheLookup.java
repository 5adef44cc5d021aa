package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * The result of {@link HttpCache#lookup}: serve a stored response, revalidate it, or go upstream.
 *
 * <p>A lookup may carry a cache's own per-exchange state ({@link #state()}) that it reads back in
 * {@link HttpCache#onUpstreamResponse}. Immutable once built; thread-safe if the state is.
 */
public final class CacheLookup {
    /** The kinds of lookup result. */
    public enum Kind {
        /** Serve the stored response; nothing goes upstream. */
        HIT,
        /** Go upstream with extra conditional headers; the stored response may be served if it validates. */
        REVALIDATE,
        /** Go upstream as usual. */
        MISS
    }

    private static final CacheLookup PLAIN_MISS = new CacheLookup(Kind.MISS, null, new HttpHeaders(), null);

    private final Kind kind;
    private final CachedResponse response;
    private final HttpHeaders conditionalHeaders;
    private final Object state;

    private CacheLookup(Kind kind, CachedResponse response, HttpHeaders conditionalHeaders, Object state) {
        this.kind = kind;
        this.response = response;
        this.conditionalHeaders = conditionalHeaders;
        this.state = state;
    }

    /** Serves {@code response}. */
    public static CacheLookup hit(CachedResponse response) {
        return new CacheLookup(Kind.HIT, requireNonNull(response, "response"), new HttpHeaders(), null);
    }

    /** Goes upstream, adding {@code conditionalHeaders} (such as {@code If-None-Match}); {@code state} is the cache's. */
    public static CacheLookup revalidate(HttpHeaders conditionalHeaders, Object state) {
        return new CacheLookup(Kind.REVALIDATE, null, new HttpHeaders(requireNonNull(conditionalHeaders, "conditionalHeaders")), state);
    }

    /** Goes upstream. */
    public static CacheLookup miss() {
        return PLAIN_MISS;
    }

    /** Goes upstream; {@code state} is the cache's own, handed back later. */
    public static CacheLookup miss(Object state) {
        return new CacheLookup(Kind.MISS, null, new HttpHeaders(), state);
    }

    /** The kind of result. */
    public Kind kind() {
        return kind;
    }

    /** The response to serve, for hits. */
    public Optional<CachedResponse> response() {
        return Optional.ofNullable(response);
    }

    /** Headers to add to the upstream request (a copy). */
    public HttpHeaders conditionalHeaders() {
        return new HttpHeaders(conditionalHeaders);
    }

    /** The cache's own state for this exchange; empty when the lookup carries none. */
    public Optional<Object> state() {
        return Optional.ofNullable(state);
    }

    /** The cache's own state for this exchange if it is a {@code type}; empty otherwise. */
    public <T> Optional<T> state(Class<T> type) {
        return type.isInstance(state) ? Optional.of(type.cast(state)) : Optional.empty();
    }
}
