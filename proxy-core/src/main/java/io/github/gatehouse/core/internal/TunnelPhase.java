package io.github.gatehouse.core.internal;

import org.eclipse.jetty.server.Handler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After phase 4 for a {@code CONNECT}: hands the admitted exchange to the tunnel ({@link GatehouseConnectHandler}),
 * which connects to the authority, answers {@code 200}, pumps bytes both ways and reports the tunnel's close to the
 * {@link ExchangeContext} for its access-log line.
 *
 * <p>Stateless and thread-safe.
 */
final class TunnelPhase {
    private static final Logger LOG = LoggerFactory.getLogger(TunnelPhase.class);

    private final Handler tunnel;
    private final Answers answers;
    private volatile HttpsInspection inspection;

    TunnelPhase(Handler tunnel, Answers answers) {
        this.tunnel = tunnel;
        this.answers = answers;
    }

    /** HTTPS inspection: the {@code CONNECT}s it intercepts go to it instead of the byte tunnel. */
    void inspection(HttpsInspection inspection) {
        this.inspection = inspection;
    }

    ExchangeDriver.Step open(ExchangeContext x) {
        HttpsInspection i = inspection;
        if (i != null && i.intercepts(x)) {
            return i.open(x);
        }
        x.exchange.upstream(x.exchange.requestImpl().authority());
        x.moveTo(RelayState.TUNNEL);
        try {
            if (!tunnel.handle(x.request, x.response, x)) {
                return answers.badRequest(x, "CONNECT could not be handled");
            }
        } catch (Exception e) {
            LOG.info("{} CONNECT {} failed: {}", x.exchange.id(), x.exchange.requestImpl().authority(),
                    Failures.describe(e));
            if (!x.response.isCommitted()) {
                return answers.answer(x, 502, "tunnel failed", "proxy_internal_error", null, true);
            }
            x.failed(e);
        }
        return ExchangeDriver.Step.DONE;
    }
}
