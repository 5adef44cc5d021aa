package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.HttpCache;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phase 5: asks the cache for a stored response. A hit is served at once ({@link CachedBodySource}); a miss, or a
 * stored response to revalidate, goes on to phase 6 with the lookup in the {@link ExchangeContext}. A cache that
 * fails or throws never fails the exchange: it goes upstream as on a miss.
 *
 * <p>Stateless and thread-safe.
 */
final class CachePhase {
    private static final Logger LOG = LoggerFactory.getLogger(CachePhase.class);

    private final ProxyConfig config;
    private final RelayHandler relay;
    private ExchangeDriver driver;

    CachePhase(ProxyConfig config, RelayHandler relay) {
        this.config = config;
        this.relay = relay;
    }

    void driver(ExchangeDriver driver) {
        this.driver = driver;
    }

    ExchangeDriver.Step lookup(ExchangeContext x) {
        HttpCache cache = config.cache();
        if (cache == null) {
            x.moveTo(RelayState.CACHE_MISSED);
            return ExchangeDriver.Step.NEXT;
        }
        PeerRouting peers = config.cachePeers();
        if (peers != null) {
            findHome(x, peers);
        }
        CompletionStage<CacheLookup> stage;
        try {
            stage = cache.lookup(x.exchange);
        } catch (RuntimeException e) {
            LOG.error("{} cache lookup threw; going upstream", x.exchange.id(), e);
            stage = null;
        }
        if (stage == null) {
            x.moveTo(RelayState.CACHE_MISSED);
            return ExchangeDriver.Step.NEXT;
        }
        if (stage instanceof CompletableFuture<CacheLookup> future && future.isDone() && !future.isCompletedExceptionally()) {
            return decide(x, future.join(), null);
        }
        stage.whenComplete((lookup, failure) -> {
            ExchangeDriver.Step step;
            try {
                step = decide(x, lookup, failure);
            } catch (Throwable t) { // a stage's callback must not swallow it: the exchange would hang
                LOG.error("{} failed after the cache lookup", x.exchange.id(), t);
                if (!x.state().isTerminal()) {
                    if (x.response.isCommitted()) {
                        x.failed(t);
                    } else {
                        relay.answers().internalError(x, "proxy internal error");
                    }
                }
                return;
            }
            if (step == ExchangeDriver.Step.NEXT) {
                driver.advance(x);
            }
        });
        return ExchangeDriver.Step.PAUSED;
    }

    /**
     * Cache-peer routing: marks the exchange with its key's home when that is another instance, before the cache
     * looks it up (a foreign key's fill is its home's). Only a {@code GET} or {@code HEAD} without a body that is not
     * itself a peer's request; in reverse mode only from the plain listener (an {@code https} key would reach the home
     * as {@code http}); never {@code ftp://}; and only where the lean HTTP/1.1 transport carries cleartext upstreams.
     */
    private void findHome(ExchangeContext x, PeerRouting peers) {
        ExchangeImpl exchange = x.exchange;
        String method = exchange.method();
        if (exchange.isPeerRequest() || !(method.equals("GET") || method.equals("HEAD")) || HeaderRules.hasBody(x.request)
                || relay.lean(io.github.gatehouse.core.Exchange.Mode.REVERSE) == null) {
            return;
        }
        RequestHeadImpl head = exchange.requestImpl();
        String scheme = head.scheme();
        boolean reverse = exchange.mode() == io.github.gatehouse.core.Exchange.Mode.REVERSE;
        if (!(scheme.equals("http") || (!reverse && scheme.equals("https")))) {
            return;
        }
        String key = scheme + "://" + head.authority() + head.path() + (head.rawQuery() == null ? "" : "?" + head.rawQuery());
        PeerRouting.Peer home = peers.foreignHome(key);
        if (home != null) {
            x.peer = home;
            exchange.cachePeer(home.url());
        }
    }

    private ExchangeDriver.Step decide(ExchangeContext x, CacheLookup lookup, Throwable failure) {
        if (failure != null || lookup == null) {
            LOG.warn("{} cache lookup failed; going upstream: {}", x.exchange.id(),
                    failure == null ? "null lookup" : Failures.describe(failure));
            x.moveTo(RelayState.CACHE_MISSED);
            return ExchangeDriver.Step.NEXT;
        }
        if (lookup.kind() == CacheLookup.Kind.HIT) {
            x.moveTo(RelayState.SERVING_CACHED);
            CachedBodySource.serve(relay, x, lookup.response().orElseThrow());
            return ExchangeDriver.Step.DONE;
        }
        x.lookup = lookup;
        x.moveTo(RelayState.CACHE_MISSED);
        return ExchangeDriver.Step.NEXT;
    }
}
