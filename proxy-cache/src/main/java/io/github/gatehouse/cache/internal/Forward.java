package io.github.gatehouse.cache.internal;

/**
 * Why a request went forward, as the {@code fwd} parameter of {@code Cache-Status} spells it (RFC 9211 §2.2).
 *
 * <p><b>Threading.</b> Immutable.
 */
enum Forward {
    /** The cache does not handle this request (a {@code GET} or {@code HEAD} with a body). */
    BYPASS("bypass"),
    /** The method is not one the cache answers. */
    METHOD("method"),
    /** Nothing stored for the URL (or for this variant of it). */
    URI_MISS("uri-miss"),
    /** A stored response that could not be used without the upstream. */
    STALE("stale"),
    /** Stored ranges that held only part of the request: the rest came from the upstream. */
    PARTIAL("partial");

    private final String token;

    Forward(String token) {
        this.token = token;
    }

    /** The RFC 9211 token. */
    String token() {
        return token;
    }

    @Override
    public String toString() {
        return token;
    }
}
