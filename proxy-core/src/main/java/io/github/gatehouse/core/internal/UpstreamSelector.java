package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phase 6: where the request goes. A forward exchange goes to its target. A reverse exchange goes to a member of its
 * route's pool: the sticky member when the request names one that is available, else the pool's load balancer's pick
 * among the members not tried yet; none available is a 503 (or a stale stored response). The upstream target, the
 * {@code Host} field by the route's policy, and the sticky cookie to set are worked out here.
 *
 * <p>A plain miss whose key's home is another instance (cache-peer routing, marked in phase 5) goes to that home
 * first; when the home fails, the exchange comes back here as a retry, without the mark, and goes to the origin.
 *
 * <p>A retry comes back here ({@link RelayState#RETRYING}); when no other member may take it, the phase declines and
 * the failed try answers with its own failure. Before the first try, a small request body is read whole when the
 * pool's retry policy may replay it.
 *
 * <p>Stateless and thread-safe.
 */
final class UpstreamSelector {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamSelector.class);

    private final ProxyConfig config;
    private final RelayHandler relay;
    private ExchangeDriver driver;

    UpstreamSelector(ProxyConfig config, RelayHandler relay) {
        this.config = config;
        this.relay = relay;
    }

    void driver(ExchangeDriver driver) {
        this.driver = driver;
    }

    ExchangeDriver.Step pick(ExchangeContext x) {
        ExchangeImpl exchange = x.exchange;
        RequestHeadImpl head = exchange.requestImpl();
        PeerRouting.Peer home = x.peer;
        if (home != null) {
            if (x.state() == RelayState.CACHE_MISSED && x.lookup.kind() == io.github.gatehouse.core.CacheLookup.Kind.MISS) {
                return toHome(x, home, head);
            }
            dropHome(x); // a stored entry of this instance's own to revalidate: with the origin
        }
        if (exchange.mode() != Mode.REVERSE) {
            exchange.upstream(head.authority());
            exchange.tries(1);
            x.upstreamTarget = new UpstreamCall.Target(head.scheme(), head.host(), head.port(), pathQuery(head.path(),
                    head.rawQuery()));
            x.hostHeader = null;
            x.member = null;
            x.moveTo(RelayState.UPSTREAM_CHOSEN);
            return ExchangeDriver.Step.NEXT;
        }
        Tries tries = x.tries;
        if (tries == null) {
            Route route = exchange.route().orElseThrow();
            UpstreamPool pool = route.pool().orElseThrow();
            ApiAccess.pools().earnRetryBudget(pool);
            long length = x.request.getLength();
            long replayable = pool.retryPolicy().retries() > 0 ? pool.retryPolicy().replayableBodySize().toBytes() : 0;
            if (length > 0 && length <= replayable) {
                BodyBuffer.read(x.request, exchange, (int) length, body -> {
                    x.tries = new Tries(route, pool, body);
                    driver.advance(x);
                }, failure -> {
                    boolean slow = failure instanceof BodyRateHandler.SlowBodyException;
                    relay.answers().answer(x, slow ? 408 : 400, slow ? ((BodyRateHandler.SlowBodyException) failure).getReason()
                            : "request body could not be read: " + Failures.describe(failure), "http_request_error", null, true);
                });
                return ExchangeDriver.Step.PAUSED;
            }
            tries = new Tries(route, pool, null);
            x.tries = tries;
        }
        String sticky = tries.route.stickyCookie().orElse(null);
        String stickyValue = sticky == null ? null : stickyValue(x, sticky);
        MemberState member = choose(x, tries, stickyValue);
        if (member == null) {
            if (x.state() == RelayState.RETRYING) {
                return ExchangeDriver.Step.DECLINED;
            }
            return noMember(x, tries);
        }
        if (sticky != null && !member.id().equals(stickyValue)) {
            exchange.stickySetCookie(sticky + "=" + member.id() + "; Path=/; HttpOnly");
        } else {
            exchange.stickySetCookie(null);
        }
        tries.tried.add(member);
        tries.count++;
        exchange.tries(tries.count);
        Upstream upstream = member.upstream();
        x.upstreamTarget = new UpstreamCall.Target(upstream.uri().getScheme(), upstream.host(), upstream.port(),
                upstream.basePath() + pathQuery(ApiAccess.routes().rewritePath(tries.route, head.path()), head.rawQuery()));
        exchange.upstream(upstream.authority());
        x.hostHeader = hostHeader(tries.route, upstream, head);
        x.member = member;
        x.moveTo(RelayState.UPSTREAM_CHOSEN);
        return ExchangeDriver.Step.NEXT;
    }

    /**
     * Cache-peer routing: the miss goes to its home, as the client sent it: in absolute form for a forward exchange,
     * in origin form with the client's {@code Host} for a reverse one (the home matches the same route).
     */
    private ExchangeDriver.Step toHome(ExchangeContext x, PeerRouting.Peer home, RequestHeadImpl head) {
        ExchangeImpl exchange = x.exchange;
        String pathQuery = pathQuery(head.path(), head.rawQuery());
        int defaultPort = head.scheme().equals("https") ? 443 : 80;
        String h = head.host().indexOf(':') >= 0 ? "[" + head.host() + "]" : head.host();
        String authority = head.port() == defaultPort ? h : h + ":" + head.port();
        if (exchange.mode() != Mode.REVERSE) {
            pathQuery = head.scheme() + "://" + authority + pathQuery;
        }
        exchange.upstream(home.host().indexOf(':') >= 0 ? "[" + home.host() + "]:" + home.port() : home.host() + ":" + home.port());
        exchange.tries(1);
        x.upstreamTarget = new UpstreamCall.Target("http", home.host(), home.port(), pathQuery);
        x.hostHeader = authority;
        x.member = null;
        x.peerTry = true;
        x.moveTo(RelayState.UPSTREAM_CHOSEN);
        return ExchangeDriver.Step.NEXT;
    }

    /** The exchange goes to the origin after all: the cache sees an origin's answer from now on. */
    static void dropHome(ExchangeContext x) {
        x.peer = null;
        x.peerTry = false;
        x.exchange.cachePeer(null);
    }

    /** Phase 7 begins: the request goes to the upstream chosen. */
    ExchangeDriver.Step send(ExchangeContext x) {
        if (relay.ftp() != null && "ftp".equals(x.exchange.requestImpl().scheme())) {
            relay.ftp().send(x); // the FTP gateway is this exchange's origin
            return ExchangeDriver.Step.DONE;
        }
        new UpstreamCall(relay, x, x.upstreamTarget, x.hostHeader, x.member).send();
        return ExchangeDriver.Step.DONE;
    }

    /** The sticky member named by {@code stickyValue} when it may take the try, else the load balancer's pick. */
    private MemberState choose(ExchangeContext x, Tries tries, String stickyValue) {
        if (stickyValue != null) {
            for (UpstreamMember m : tries.pool.members()) {
                if (m instanceof MemberState && ((MemberState) m).id().equals(stickyValue) && m.isAvailable()
                        && !tries.tried.contains(m)) {
                    return (MemberState) m;
                }
            }
        }
        Optional<UpstreamMember> picked;
        try {
            picked = ApiAccess.pools().select(tries.pool, x.exchange, tries.tried);
        } catch (RuntimeException e) {
            LOG.error("{} load balancer {} threw", x.exchange.id(), tries.pool.balancer(), e);
            return null;
        }
        return picked.isPresent() && picked.get() instanceof MemberState ? (MemberState) picked.get() : null;
    }

    /** No member can take a first try: a stale stored response if the cache allows one, else 503. */
    private ExchangeDriver.Step noMember(ExchangeContext x, Tries tries) {
        Optional<CachedResponse> stale = Optional.empty();
        if (config.cache() != null) {
            try {
                stale = config.cache().onUpstreamFailure(x.exchange, x.lookup,
                        new java.net.ConnectException("no upstream available"));
            } catch (RuntimeException e) {
                LOG.error("{} cache onUpstreamFailure threw", x.exchange.id(), e);
            }
        }
        if (stale != null && stale.isPresent()) {
            x.moveTo(RelayState.SERVING_CACHED);
            CachedBodySource.serve(relay, x, stale.get());
            return ExchangeDriver.Step.DONE;
        }
        boolean overloaded = tries.pool.members().stream().anyMatch(UpstreamMember::isAvailable);
        if (overloaded) {
            ApiAccess.pools().rejected(tries.pool); // circuit breaking, for metrics
        }
        return relay.answers().answer(x, 503, overloaded
                ? "every upstream of " + tries.route + " is at its request limit"
                : "no healthy upstream for " + tries.route, "destination_unavailable",
                new HttpHeaders().add("Retry-After", "1"), false);
    }

    private static String hostHeader(Route route, Upstream upstream, RequestHeadImpl head) {
        switch (route.hostHeaderPolicy()) {
            case UPSTREAM:
                return upstream.authority();
            case FIXED:
                return route.fixedHost().orElseThrow();
            default:
                String h = head.host().indexOf(':') >= 0 ? "[" + head.host() + "]" : head.host();
                int defaultPort = head.scheme().equals("https") ? 443 : 80;
                return head.port() == defaultPort ? h : h + ":" + head.port();
        }
    }

    private static String pathQuery(String path, String query) {
        return query == null ? path : path + "?" + query;
    }

    private static String stickyValue(ExchangeContext x, String name) {
        return cookieValue(x.exchange.requestImpl().headers(), name);
    }

    /** The value of cookie {@code name} in the request's Cookie headers, or null. */
    static String cookieValue(HttpHeaders headers, String name) {
        for (String header : headers.getAll("Cookie")) {
            for (String pair : header.split(";")) {
                String p = pair.trim();
                if (p.startsWith(name) && p.length() > name.length() && p.charAt(name.length()) == '=') {
                    return p.substring(name.length() + 1).trim();
                }
            }
        }
        return null;
    }
}
