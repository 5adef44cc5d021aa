package io.github.gatehouse.core.internal;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where one exchange is in its life (DESIGN.md "The life of an exchange"), and the only moves it may make. The state
 * of an exchange is one value of this enum, held by its {@link ExchangeContext}; there are no other flags.
 *
 * <p>Phases 1 to 6 move the state forward one step each, or to {@link #ANSWERING} when the proxy answers itself.
 * From {@link #AWAITING_RESPONSE} on, the upstream's callbacks and the client's write callbacks race; each of them
 * moves the state with a compare-and-set from the state it expects, so exactly one of two racing parties wins a move.
 */
enum RelayState {
    /** Phase 1: the request head is being checked. */
    RECEIVED,
    /** Phase 2: the head passed its checks; the target is being resolved. */
    HEAD_CHECKED,
    /** Phase 3: the target is known (forward, reverse route, or a CONNECT authority); authentication runs. */
    TARGET_RESOLVED,
    /** Phase 4: the user is known (or none is needed); the request filters run. */
    AUTHENTICATED,
    /** Phase 5: every request filter let the request pass; a tunnel opens or the cache is asked. */
    ADMITTED,
    /** Phase 6: the cache had nothing to serve (a miss, or a revalidation to make); an upstream is picked. */
    CACHE_MISSED,
    /** Phase 7: an upstream was picked; the request is about to go. */
    UPSTREAM_CHOSEN,
    /** Phase 7: the request went upstream; no response head yet. */
    AWAITING_RESPONSE,
    /** The upstream answered with a status the retry policy retries: its short body is read and dropped. */
    DRAINING_FOR_RETRY,
    /** The try failed in a way the retry policy retries: back to phase 6 for another member. */
    RETRYING,
    /** Phases 8 and 9 for an upstream response: its head is set, its body streams to the client. */
    STREAMING_UPSTREAM,
    /** The client has the whole upstream body; the upstream exchange has not completed yet. */
    BODY_SENT,
    /** The upstream exchange completed; the last write to the client is still in flight. */
    UPSTREAM_DONE,
    /**
     * The client went away mid-body and the cache writer asked for the rest ({@code CacheWriter.continueWithoutClient}):
     * the client's side has ended (logged, Jetty's callback failed), and the upstream body goes on into the cache
     * alone. Terminal for the client; the upstream try still runs.
     */
    DETACHED,
    /** Phases 8 and 9 for a stored response (a hit, a stale answer, a 304 turned into the stored one). */
    SERVING_CACHED,
    /** The proxy writes its own answer (an error, a challenge, a filter's verdict, an {@code OPTIONS *}). */
    ANSWERING,
    /** A {@code CONNECT} was handed to the tunnel, or an upgrade request's upstream answered {@code 101}. */
    TUNNEL,
    /** Phase 10 done: the client has the whole response. Terminal. */
    COMPLETED,
    /** Phase 10 done: the exchange was aborted. Terminal. */
    FAILED;

    private Set<RelayState> next;

    static {
        RECEIVED.next = EnumSet.of(HEAD_CHECKED, ANSWERING, FAILED);
        HEAD_CHECKED.next = EnumSet.of(TARGET_RESOLVED, ANSWERING, FAILED);
        TARGET_RESOLVED.next = EnumSet.of(AUTHENTICATED, ANSWERING, FAILED);
        AUTHENTICATED.next = EnumSet.of(ADMITTED, ANSWERING, FAILED);
        ADMITTED.next = EnumSet.of(TUNNEL, CACHE_MISSED, SERVING_CACHED, ANSWERING, FAILED);
        CACHE_MISSED.next = EnumSet.of(UPSTREAM_CHOSEN, SERVING_CACHED, ANSWERING, FAILED);
        UPSTREAM_CHOSEN.next = EnumSet.of(AWAITING_RESPONSE, ANSWERING, FAILED);
        AWAITING_RESPONSE.next = EnumSet.of(STREAMING_UPSTREAM, DRAINING_FOR_RETRY, RETRYING, SERVING_CACHED,
                ANSWERING, TUNNEL, FAILED); // TUNNEL: an upgrade's 101 (UpgradeCall)
        DRAINING_FOR_RETRY.next = EnumSet.of(RETRYING, ANSWERING, FAILED);
        RETRYING.next = EnumSet.of(UPSTREAM_CHOSEN, SERVING_CACHED, ANSWERING, FAILED);
        STREAMING_UPSTREAM.next = EnumSet.of(BODY_SENT, UPSTREAM_DONE, SERVING_CACHED, ANSWERING, DETACHED, FAILED);
        BODY_SENT.next = EnumSet.of(COMPLETED, FAILED);
        UPSTREAM_DONE.next = EnumSet.of(COMPLETED, FAILED);
        SERVING_CACHED.next = EnumSet.of(COMPLETED, ANSWERING, FAILED);
        ANSWERING.next = EnumSet.of(COMPLETED, FAILED);
        TUNNEL.next = EnumSet.of(COMPLETED, ANSWERING, FAILED);
        DETACHED.next = EnumSet.noneOf(RelayState.class);
        COMPLETED.next = EnumSet.noneOf(RelayState.class);
        FAILED.next = EnumSet.noneOf(RelayState.class);
    }

    /** Whether an exchange in this state may move to {@code target}. */
    boolean mayMoveTo(RelayState target) {
        return next.contains(target);
    }

    /** Whether the exchange has ended for the client. */
    boolean isTerminal() {
        return this == COMPLETED || this == FAILED || this == DETACHED;
    }

    /** Whether an upstream try of the exchange still drives the client response. */
    boolean isUpstreamDriven() {
        return this == AWAITING_RESPONSE || this == DRAINING_FOR_RETRY || this == STREAMING_UPSTREAM
                || this == BODY_SENT || this == UPSTREAM_DONE || this == DETACHED;
    }
}
