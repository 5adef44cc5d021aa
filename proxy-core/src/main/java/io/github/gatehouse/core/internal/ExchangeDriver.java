package io.github.gatehouse.core.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the phases of an exchange in order (DESIGN.md "The life of an exchange"). {@link #advance} is the one place
 * that says which phase follows which; each phase is one class:
 * <ol>
 *   <li>{@link RequestHeadCheck}: header count, HTTP/1.0 framing, forwarding loops -> 400/431/508</li>
 *   <li>{@link TargetResolver}: absolute-form, route match, CONNECT authority; {@code OPTIONS *}, TRACE -> 400/404/405</li>
 *   <li>{@link AuthenticationPhase} -> 407 / 401 / 403</li>
 *   <li>{@link RequestFilterRunner#runRequestFilters}, in builder order -> the filter's answer</li>
 *   <li>{@link CachePhase}: a hit is served ({@link BodyRelay}), a miss goes on; a {@code CONNECT} goes to
 *       {@link TunnelPhase} instead</li>
 *   <li>{@link UpstreamSelector}: the route's pool (load balancing, stickiness, health) -> 503</li>
 *   <li>{@link UpstreamCall}: the request upstream, with its body streaming -> 502 / 504, or back to phase 6 for
 *       a retry</li>
 *   <li>{@link RequestFilterRunner#respond}: response filters, and the cache's store decision in {@link UpstreamCall}</li>
 *   <li>{@link BodyRelay}: the body to the client, through body filters, into the cache</li>
 *   <li>{@link ExchangeContext} as the exchange's callback: the access-log line, state released</li>
 * </ol>
 * A phase returns {@link Step#NEXT} when it moved the exchange on and the next phase can run now, {@link Step#PAUSED}
 * when it waits for something (an authenticator, the cache, a request body) and will call {@link #advance} again
 * itself, and {@link Step#DONE} when it answered or handed the exchange to the upstream or a tunnel.
 *
 * <p><b>Threading.</b> Stateless and thread-safe; {@link #advance} runs on whichever thread resumes the exchange.
 */
final class ExchangeDriver {
    private static final Logger LOG = LoggerFactory.getLogger(ExchangeDriver.class);

    /** What a phase tells the driver. */
    enum Step {
        /** The exchange moved on; run the next phase now. */
        NEXT,
        /** The phase waits; it calls {@link #advance} again when it can go on. */
        PAUSED,
        /** The exchange has left the driver: answered, tunnelled, or with the upstream. */
        DONE,
        /** Phase 6 for a retry found no member that may take it: nothing was done; the failed try answers. */
        DECLINED
    }

    private final RequestHeadCheck headCheck;
    private final TargetResolver targets;
    private final AuthenticationPhase authentication;
    private final RequestFilterRunner filters;
    private final TunnelPhase tunnels;
    private final CachePhase cache;
    private final UpstreamSelector upstreams;
    private final Answers answers;
    private UpgradePhase upgrades;

    ExchangeDriver(RequestHeadCheck headCheck, TargetResolver targets, AuthenticationPhase authentication,
            RequestFilterRunner filters, TunnelPhase tunnels, CachePhase cache, UpstreamSelector upstreams,
            Answers answers) {
        this.headCheck = headCheck;
        this.targets = targets;
        this.authentication = authentication;
        this.filters = filters;
        this.tunnels = tunnels;
        this.cache = cache;
        this.upstreams = upstreams;
        this.answers = answers;
    }

    /** Set once, at construction of the relay: where upgrade requests go ({@link UpgradePhase}). */
    void upgrades(UpgradePhase phase) {
        this.upgrades = phase;
    }

    /**
     * A retry re-enters the driver at phase 6: returns false, having done nothing, when no other member may take it
     * (the caller then answers with the failure of its try).
     */
    boolean retry(ExchangeContext x) {
        if (x.state() != RelayState.RETRYING) {
            throw new IllegalStateException(x.exchange.id() + ": retry in state " + x.state());
        }
        Step step;
        try {
            step = upstreams.pick(x);
        } catch (RuntimeException e) {
            LOG.error("{} failed picking an upstream for a retry", x.exchange.id(), e);
            return false;
        }
        if (step == Step.DECLINED) {
            return false;
        }
        if (step == Step.NEXT) {
            advance(x);
        }
        return true;
    }

    /** Runs phases from wherever the exchange is, until one pauses or the exchange leaves the driver. */
    void advance(ExchangeContext x) {
        try {
            Step step = Step.NEXT;
            while (step == Step.NEXT) {
                step = switch (x.state()) {
                    case RECEIVED -> headCheck.check(x);                        // 1
                    case HEAD_CHECKED -> targets.resolve(x);                    // 2
                    case TARGET_RESOLVED -> authentication.authenticate(x);     // 3
                    case AUTHENTICATED -> filters.runRequestFilters(x);         // 4
                    case ADMITTED -> x.exchange.mode() == io.github.gatehouse.core.Exchange.Mode.TUNNEL
                            ? tunnels.open(x)                                   // CONNECT: the tunnel
                            : x.upgrade != null ? upgrades.admit(x)             // Upgrade: no cache
                            : cache.lookup(x);                                  // 5
                    case CACHE_MISSED, RETRYING -> upstreams.pick(x);           // 6
                    case UPSTREAM_CHOSEN -> x.upgrade != null ? upgrades.send(x) // 7 for an Upgrade
                            : upstreams.send(x);                                // 7; 8 to 10 follow from the upstream
                    default -> throw new IllegalStateException("the driver cannot advance an exchange in " + x.state());
                };
            }
        } catch (Throwable t) {
            LOG.error("{} failed unexpectedly in the relay ({})", x.exchange.id(), x.state(), t);
            if (!x.state().isTerminal()) {
                if (x.response.isCommitted()) {
                    x.failed(t);
                } else {
                    answers.internalError(x, "proxy internal error");
                }
            }
        }
    }
}
