package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's own answers, from any phase: a status, a one-line reason, {@code Proxy-Status} for errors, and a log
 * line. Each moves the exchange to {@link RelayState#ANSWERING}; the answer's write completes the exchange.
 *
 * <p>Stateless and thread-safe: one instance serves every exchange of a relay.
 */
final class Answers {
    private static final Logger LOG = LoggerFactory.getLogger(Answers.class);

    private final ProxyConfig config;

    Answers(ProxyConfig config) {
        this.config = config;
    }

    /**
     * Answers {@code status} with {@code reason}. {@code proxyStatusError} (the RFC 9209 error type) and {@code extra}
     * may be null; {@code close} closes the connection afterwards (after a malformed request). Returns
     * {@link ExchangeDriver.Step#DONE}, for phases to return.
     */
    ExchangeDriver.Step answer(ExchangeContext x, int status, String reason, String proxyStatusError, HttpHeaders extra,
            boolean close) {
        return answerThen(x, x, status, reason, proxyStatusError, extra, close);
    }

    private ExchangeDriver.Step answerThen(ExchangeContext x, Callback done, int status, String reason,
            String proxyStatusError, HttpHeaders extra, boolean close) {
        ExchangeImpl exchange = x.exchange;
        exchange.reason(reason);
        exchange.answered(proxyStatusError);
        if (LOG.isInfoEnabled()) {
            LOG.info("{} {} {} -> {} {}", exchange.id(), exchange.method(), exchange.originalTarget(), status, reason);
        }
        if (x.state().isTerminal()) {
            return ExchangeDriver.Step.DONE;
        }
        if (x.response.isCommitted()) {
            x.failed(new IllegalStateException("cannot answer " + status + ": response already committed"));
            return ExchangeDriver.Step.DONE;
        }
        if (!x.state().mayMoveTo(RelayState.ANSWERING)) {
            LOG.error("{} cannot answer {} in state {}", exchange.id(), status, x.state());
            x.failed(new IllegalStateException("cannot answer " + status + " in state " + x.state()));
            return ExchangeDriver.Step.DONE;
        }
        x.moveTo(RelayState.ANSWERING);
        // A refused CONNECT closes the connection: the client may already be sending tunnel bytes.
        boolean closeAfter = close || "CONNECT".equals(exchange.method());
        PlainTextResponses.write(x.response, done, config.viaName(), status, reason, proxyStatusError, extra, closeAfter);
        return ExchangeDriver.Step.DONE;
    }

    /**
     * {@link #answer} from a phase before the request body is read (authentication, request filters): a short
     * unread body is drained so the connection survives for the client's retry, a long one closes it (see
     * {@link UnreadRequestBody}).
     */
    ExchangeDriver.Step answerUnread(ExchangeContext x, int status, String reason, HttpHeaders extra) {
        return answerUnread(x, status, reason, null, extra);
    }

    /** {@link #answerUnread(ExchangeContext, int, String, HttpHeaders)} with an RFC 9209 error type (may be null). */
    ExchangeDriver.Step answerUnread(ExchangeContext x, int status, String reason, String proxyStatusError,
            HttpHeaders extra) {
        if ("CONNECT".equals(x.exchange.method()) || !UnreadRequestBody.isPending(x.request)) {
            return answer(x, status, reason, proxyStatusError, extra, false);
        } else if (UnreadRequestBody.isDrainable(x.request)) {
            return answerThen(x, UnreadRequestBody.drainThen(x.request, x.exchange, x), status, reason, proxyStatusError,
                    extra, false);
        } else {
            return answer(x, status, reason, proxyStatusError, extra, true);
        }
    }

    /** A 500 for a failure inside the proxy (a filter or authenticator that threw, a bug). */
    ExchangeDriver.Step internalError(ExchangeContext x, String reason) {
        return answer(x, 500, reason, "proxy_internal_error", null, false);
    }

    /** A 400 for a request the proxy will not relay, closing the connection. */
    ExchangeDriver.Step badRequest(ExchangeContext x, String reason) {
        return answer(x, 400, reason, "http_request_error", null, true);
    }
}
