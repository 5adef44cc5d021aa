package io.github.gatehouse.core;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * One request and its response passing through the proxy, as every phase of the relay sees it.
 *
 * <p>An exchange is created when a request head has been parsed and lives until its access-log line is written. The
 * request head is mutable until the request goes upstream; {@link #attributes()} carries state between a
 * component's callbacks for this exchange (filters are shared by all exchanges and must keep per-exchange state
 * here, not in fields).
 *
 * <p><b>Threading.</b> An exchange runs one phase at a time, but phases may run on different threads; the
 * relay publishes changes safely between phases. Do not keep a reference past the exchange's end.
 */
public interface Exchange {
    /** How the proxy came to handle the request. */
    enum Mode {
        /** An absolute-form {@code http://} request to a forward proxy. */
        FORWARD,
        /** A {@code CONNECT host:port} tunnel request to a forward proxy. */
        TUNNEL,
        /** A request matched by a reverse-proxy route. */
        REVERSE
    }

    /** A short id unique within this server, for log lines ({@code "7f3a-12"}). */
    String id();

    /** Forward, tunnel or reverse. */
    Mode mode();

    /** The client's address (the TCP peer). */
    InetSocketAddress clientAddress();

    /** The proxy's local address the client connected to. */
    InetSocketAddress localAddress();

    /** When the request head was received. */
    Instant startTime();

    /** The request as it will go upstream; mutable until it is sent. */
    RequestHead request();

    /** The authenticated user's name, once an {@link Authenticator} accepted the request. */
    Optional<String> user();

    /** The route that matched, for reverse exchanges. */
    Optional<Route> route();

    /** Per-exchange state for filters and other components; thread-safe map. */
    Map<String, Object> attributes();

    /**
     * What the cache did for this exchange, if a cache set it ({@link HttpCache#recordStatus}); the access log prints
     * it.
     */
    Optional<CacheStatus> cacheStatus();

    /**
     * The home instance ({@code http://host:port}) this exchange's cache miss goes to, when cache-peer routing
     * ({@link CachePeers}) sends it there: set before the cache lookup for a {@code GET} or {@code HEAD} whose key
     * belongs to another instance, and cleared when the exchange goes to the origin instead (the cache had a stored
     * response to revalidate, or the home failed and the miss fell back). A cache reads it in {@link HttpCache#lookup}
     * (a foreign key's fill is its home's: nothing to collapse or lease here) and in
     * {@link HttpCache#onUpstreamResponse} (the answer came from the home, which stored it: not stored here). Empty by
     * default.
     */
    default Optional<String> cachePeer() {
        return Optional.empty();
    }

    /**
     * Whether this exchange is another instance's peer request for a key whose home is this one ({@link CachePeers}):
     * it is served from this cache or the origin, never sent to another instance; authentication and filters ran on
     * the instance the client reached. False by default.
     */
    default boolean isPeerRequest() {
        return false;
    }
}
