package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.HttpHeaders;
import java.time.Instant;

/**
 * What a lookup that goes upstream leaves for the upstream's answer ({@code CacheLookup.state()}): the request's
 * kind, its primary key and directives, the stored response it may validate or fall back on, the fill it leads, and
 * whether the request allows storing.
 *
 * @param kind how the cache treats the request
 * @param primary the primary key ({@code null} for requests the cache does not key)
 * @param requestTime when the request was looked up (RFC 9111 §4.2.3 {@code request_time})
 * @param requestDirectives the request's {@code Cache-Control}
 * @param stored the stored response found for the request ({@code null} when none)
 * @param fill the fill this request leads ({@code null} when it leads none)
 * @param storing whether the request lets the response be stored
 * @param clientHeaders the client's request fields as they were before the cache removed its conditionals and ranges
 *     from the upstream request ({@code null} when unchanged)
 */
record Pending(Kind kind, String primary, Instant requestTime, Directives requestDirectives, StoredEntry stored,
        Collapser.Fill fill, Storing storing, HttpHeaders clientHeaders) {

    /** How the cache treats a request. */
    enum Kind {
        /** {@code GET} or {@code HEAD}: looked up, its response possibly stored. */
        CACHEABLE,
        /** An unsafe method: its success invalidates the target and its {@code Location}s (RFC 9111 §4.4). */
        UNSAFE,
        /** {@code OPTIONS} or {@code TRACE}: neither looked up nor stored, and invalidating nothing. */
        SAFE_OTHER,
        /** A {@code GET} or {@code HEAD} with a body: the cache stays out of it. */
        BYPASS
    }

    /** Whether a response may be stored, as far as the request says. */
    enum Storing {
        ALLOWED,
        /** The request said {@code no-store}. */
        REQUEST_NO_STORE
    }

    /** A request the cache does not key: an unsafe or other method, or a bypass. */
    static Pending unkeyed(Kind kind, Instant requestTime) {
        return new Pending(kind, null, requestTime, Directives.NONE, null, null, Storing.REQUEST_NO_STORE, null);
    }

    /** The {@code fwd} reason this request gives in {@code Cache-Status}. */
    Forward forward() {
        switch (kind) {
            case BYPASS:
                return Forward.BYPASS;
            case CACHEABLE:
                return stored != null ? Forward.STALE : Forward.URI_MISS;
            default:
                return Forward.METHOD;
        }
    }
}
