package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The filter chain runner: phase 4 ({@link ProxyFilter#onRequest} in builder order; the first answer ends the chain)
 * and phase 8 ({@link ProxyFilter#onResponse} in reverse order for the filters that let the request pass, and the
 * body filters they ask for). It does not trust filters: a {@code null} verdict or a filter that throws is a 500 for
 * that exchange and an ERROR line naming the filter.
 *
 * <p>Stateless and thread-safe.
 */
final class RequestFilterRunner {
    private static final Logger LOG = LoggerFactory.getLogger(RequestFilterRunner.class);

    private final ProxyConfig config;
    private final Answers answers;

    RequestFilterRunner(ProxyConfig config, Answers answers) {
        this.config = config;
        this.answers = answers;
    }

    /** Phase 4. */
    ExchangeDriver.Step runRequestFilters(ExchangeContext x) {
        List<ProxyFilter> filters = config.filters();
        ExchangeImpl exchange = x.exchange;
        if (exchange.isPeerRequest()) {
            // a cache peer's request: the filters ran on the instance the client reached (and, as none passes
            // here, no response filter runs either: that instance's run on the answer)
            x.moveTo(RelayState.ADMITTED);
            return ExchangeDriver.Step.NEXT;
        }
        for (int i = 0; i < filters.size(); i++) {
            ProxyFilter filter = filters.get(i);
            Verdict verdict;
            try {
                verdict = filter.onRequest(exchange);
            } catch (RuntimeException e) {
                LOG.error("{} filter {} threw from onRequest", exchange.id(), filter, e);
                return answers.internalError(x, "request filter failed");
            }
            if (verdict == null) {
                LOG.error("{} filter {} returned null from onRequest (expected: a Verdict)", exchange.id(), filter);
                return answers.internalError(x, "request filter failed");
            }
            if (!verdict.proceeds()) {
                String proxyStatusError = null;
                if (verdict.status() >= 400) {
                    exchange.deny(); // a filter's 2xx/3xx answer (a redirect, a canned page) is not a refusal
                    exchange.deniedBy(filter.name());
                    // like the proxy's other errors (RFC 9209), unless the filter set a Proxy-Status of its own
                    if (!verdict.headers().contains("Proxy-Status")) {
                        proxyStatusError = verdict.status() < 500 ? "http_request_denied" : "proxy_internal_response";
                    }
                }
                return answers.answerUnread(x, verdict.status(), verdict.reason(), proxyStatusError, verdict.headers());
            }
            exchange.filtersPassed(i + 1);
        }
        x.moveTo(RelayState.ADMITTED);
        return ExchangeDriver.Step.NEXT;
    }

    /**
     * Phase 8, for upstream and stored responses alike: runs the response filters over {@code head}, sets it on the
     * client response, and returns the body filter chain the filters asked for, or null. {@code Content-Length} goes
     * when a body filter may change the bytes, and for statuses without a body.
     *
     * @throws RuntimeException when a filter throws; the caller answers 500
     */
    BodyFilterChain respond(ExchangeContext x, ResponseHeadImpl head, boolean hasBody) {
        List<ProxyFilter> filters = config.filters();
        ExchangeImpl exchange = x.exchange;
        for (int i = exchange.filtersPassed() - 1; i >= 0; i--) {
            filters.get(i).onResponse(exchange, head);
        }
        List<BodyFilter> bodyFilters = null;
        if (hasBody) {
            for (int i = exchange.filtersPassed() - 1; i >= 0; i--) {
                Optional<BodyFilter> bf = filters.get(i).responseBody(exchange, head);
                if (bf != null && bf.isPresent()) {
                    if (bodyFilters == null) {
                        bodyFilters = new ArrayList<>(2);
                    }
                    bodyFilters.add(bf.get());
                }
            }
        }
        Response response = x.response;
        int status = head.status();
        response.setStatus(status);
        HttpFields.Mutable out = response.getHeaders();
        HeaderViews.copyTo(head.headers(), out);
        boolean bytesMayChange = false;
        if (bodyFilters != null) {
            for (BodyFilter bf : bodyFilters) {
                bytesMayChange |= !bf.preservesBytes();
            }
        }
        if (bytesMayChange || status == 204 || status == 304 || status < 200) {
            out.remove(HttpHeader.CONTENT_LENGTH);
        }
        return bodyFilters == null ? null : new BodyFilterChain(exchange.id(), bodyFilters);
    }
}
