package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheWriter;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phases 7 and 8 of one try: sends the upstream request with the client's body streaming into it, takes the
 * response head (response filters, the cache's decision) and hands the body to the {@link BodyRelay}, as its
 * {@link BodyRelay.Source}. One instance per try: a retry makes a new one, once this one's exchange with the
 * upstream has completed.
 *
 * <p>Failure rules: before the client response is committed, an upstream failure is retried (when the pool's policy
 * allows it), or becomes a stale stored response, or a 502/504 answer; after it, the client response is aborted,
 * never completed as if the body were whole. A client that goes away aborts the upstream request.
 *
 * <p><b>Threading.</b> jetty-client calls the listener methods one at a time; the client's write callbacks race with
 * them, which the exchange's state settles ({@link RelayState}).
 */
final class UpstreamCall implements org.eclipse.jetty.client.Response.Listener, BodyRelay.Source {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamCall.class);

    /** An upstream request target: scheme, host, port and the raw path with query, kept apart (no URI parse). */
    record Target(String scheme, String host, int port, String pathQuery) {
        @Override
        public String toString() {
            return scheme + "://" + (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":"
                    + port + pathQuery;
        }
    }

    private final RelayHandler relay;
    private final ExchangeContext x;
    private final ExchangeImpl exchange;
    private final Request clientRequest;
    private final Response clientResponse;
    private final Target target;
    private final String hostHeader;
    private final MemberState member;
    private final Tries tries;
    private final boolean clientAcceptsTrailers;
    private final AtomicBoolean accounted = new AtomicBoolean();

    private volatile long sentNanos;
    private volatile long headNanos = -1;
    private volatile int upstreamStatus;
    private long discarded;
    private volatile Deadlines.Handle headTimeout;
    private volatile org.eclipse.jetty.client.Response upstreamResponse;
    private volatile Runnable demander;
    private volatile BodyRelay body;
    private volatile HttpFields upstreamTrailers;

    UpstreamCall(RelayHandler relay, ExchangeContext x, Target target, String hostHeader, MemberState member) {
        this.relay = relay;
        this.x = x;
        this.exchange = x.exchange;
        this.clientRequest = x.request;
        this.clientResponse = x.response;
        this.target = target;
        this.hostHeader = hostHeader;
        this.member = member;
        this.tries = x.tries;
        this.clientAcceptsTrailers = HeaderRules.acceptsTrailers(clientRequest.getHeaders());
    }

    // ---- phase 7: the upstream request --------------------------------------------------------------------

    void send() {
        ProxyConfig config = relay.config();
        RequestHeadImpl head = exchange.requestImpl();
        org.eclipse.jetty.client.Request upstreamRequest;
        try {
            upstreamRequest = relay.client(exchange.mode()).newRequest(hostForClient(target.host()), target.port());
        } catch (IllegalArgumentException e) {
            // a host Jetty's parser took but no client can connect to (such as "127.1", which java.net.URI refuses)
            relay.answers().badRequest(x, "invalid target host '" + target.host() + "'");
            return;
        }
        upstreamRequest.scheme(target.scheme())
                .path(target.pathQuery())
                .method(head.method())
                .version(HttpVersion.HTTP_1_1)
                .idleTimeout(config.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .timeout(config.exchangeTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .headers(this::copyRequestHeaders);
        if (tries != null && tries.body != null) {
            upstreamRequest.body(new BytesRequestContent(clientRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), tries.body));
        } else if (HeaderRules.hasBody(clientRequest)) {
            upstreamRequest.body(new ClientRequestContent(clientRequest, exchange));
        } else if (clientRequest.getLength() == 0 && clientRequest.getHeaders().contains(HttpHeader.CONTENT_LENGTH)) {
            // an explicit empty body: keep "Content-Length: 0" without tying the upstream request to the client's
            upstreamRequest.body(new BytesRequestContent(clientRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), new byte[0]));
        }
        if (member != null) {
            member.begin();
        }
        sentNanos = System.nanoTime();
        upstreamRequest.attribute(InterimResponses.RELAY, this);
        upstreamRequest.onRequestSuccess(this::startHeadTimeout);
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} upstreamRequest {} {} {}", exchange.id(), head.method(), target, head.headers());
        }
        x.moveTo(RelayState.AWAITING_RESPONSE);
        upstreamRequest.send(this);
    }

    private static String hostForClient(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private void copyRequestHeaders(HttpFields.Mutable h) {
        RequestHeadImpl head = exchange.requestImpl();
        HeaderViews.copyTo(head.headers(), h);
        if (hostHeader != null) {
            h.put(HttpHeader.HOST, hostHeader);
        }
        h.add(HttpHeader.VIA, relay.via(head.version()));
        if (clientAcceptsTrailers) {
            h.put(HttpHeader.TE, "trailers");
        }
        if (exchange.mode() == Mode.REVERSE) {
            ForwardedFields.add(relay.config(), exchange, clientRequest, head, h);
        }
        if (x.lookup.kind() == io.github.gatehouse.core.CacheLookup.Kind.REVALIDATE) {
            x.lookup.conditionalHeaders().forEachField(h::put);
        }
    }

    private void startHeadTimeout(org.eclipse.jetty.client.Request upstreamRequest) {
        java.time.Duration timeout = tries != null
                ? tries.pool.retryPolicy().perTryTimeout().orElse(relay.config().upstreamTimeout())
                : relay.config().upstreamTimeout();
        if (x.state() != RelayState.AWAITING_RESPONSE || upstreamStatus != 0) {
            return;
        }
        headTimeout = relay.deadlines().schedule(timeout.toMillis(), () -> upstreamRequest.abort(
                new Failures.UpstreamHeadTimeout("upstream sent no response within " + timeout.toMillis() + "ms")));
    }

    private void cancelHeadTimeout() {
        Deadlines.Handle task = headTimeout;
        if (task != null) {
            task.cancel();
        }
    }

    // ---- interim responses --------------------------------------------------------------------------------

    /**
     * An interim response (100, 102, 103) from the upstream: relayed to an HTTP/1.1 or HTTP/2 client before the final response
     * (RFC 9110 §15.2: never to an HTTP/1.0 client), with its end-to-end fields only. It is never cached, and its
     * fields never join the final response.
     */
    void onInterim(int status, HttpFields fields) {
        if (x.state() != RelayState.AWAITING_RESPONSE || clientResponse.isCommitted()
                || HttpVersion.HTTP_1_0.is(clientRequest.getConnectionMetaData().getProtocol())) {
            LOG.debug("{} upstream interim {} not relayed", exchange.id(), status);
            return;
        }
        HttpHeaders end = HeaderRules.upstreamResponseFields(fields);
        HttpFields.Mutable out = HttpFields.build();
        HeaderViews.copyTo(end, out);
        x.writeInterim(status, out);
    }

    // ---- phase 8: the response head -----------------------------------------------------------------------

    @Override
    public void onBegin(org.eclipse.jetty.client.Response response) {
        cancelHeadTimeout();
        upstreamResponse = response;
        headNanos = System.nanoTime() - sentNanos;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response response) {
        cancelHeadTimeout();
        upstreamResponse = response;
        int status = response.getStatus();
        upstreamStatus = status;
        if (x.state() != RelayState.AWAITING_RESPONSE) {
            return;
        }
        if (status < 200) {
            // 1xx other than 100/102/103 (which InterimResponses takes): a 101 was never asked for, since the relay
            // does not forward Upgrade; anything else is not HTTP/1.1.
            exchange.reason("upstream answered " + status + " without being asked to switch protocols");
            LOG.info("{} upstream {} answered {} to a request that asked for no upgrade", exchange.id(),
                    exchange.upstream(), status);
            relay.answers().answer(x, 502, "upstream answered " + status + " without being asked to switch protocols",
                    "http_protocol_error", null, true);
            response.abort(new CancellationException("unsolicited " + status));
            return;
        }
        if (tries != null && tries.pool.retryPolicy().retryStatuses().contains(status) && anotherMemberAvailable()
                && mayRetry(false)) {
            // The retry starts once this try has completed (onComplete), never while it is being torn down. The
            // short error body is read and dropped (onContent) so the connection stays reusable: aborting here would
            // leave jetty-client's pooled connection failing the next request sent on it.
            x.moveTo(RelayState.DRAINING_FOR_RETRY);
            LOG.info("{} upstream {} answered {}; retrying on another member", exchange.id(), exchange.upstream(), status);
            return;
        }
        try {
            HttpHeaders fields = HeaderRules.upstreamResponseFields(response.getHeaders());
            fields.add("Via", relay.via(response.getVersion() == HttpVersion.HTTP_1_0));
            if (exchange.stickySetCookie() != null) {
                fields.add("Set-Cookie", exchange.stickySetCookie());
            }
            ResponseHeadImpl head = new ResponseHeadImpl(status, fields);
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} upstreamResponse {} {}", exchange.id(), head.status(), head.headers());
            }
            CacheWriter writer = null;
            HttpCache cache = relay.config().cache();
            if (cache != null) {
                CacheDecision decision = cache.onUpstreamResponse(exchange, x.lookup, head);
                if (decision != null && decision.kind() == CacheDecision.Kind.SERVE) {
                    x.moveTo(RelayState.SERVING_CACHED);
                    response.abort(new CancellationException("upstream response replaced by a cached one"));
                    CachedBodySource.serve(relay, x, decision.response().orElseThrow());
                    return;
                }
                if (decision != null && decision.kind() == CacheDecision.Kind.STORE) {
                    writer = decision.writer().orElseThrow();
                }
            }
            boolean hasBody = !"HEAD".equals(exchange.request().method()) && status != 204 && status != 304;
            BodyFilterChain filters;
            try {
                filters = relay.filters().respond(x, head, hasBody);
            } catch (RuntimeException e) {
                if (writer != null) {
                    writer.abort(e);
                }
                throw e;
            }
            // Trailers force chunked framing: only when the body is chunked anyway and the client asked for them.
            if (hasBody && !clientResponse.getHeaders().contains(HttpHeader.CONTENT_LENGTH) && clientAcceptsTrailers) {
                clientResponse.setTrailersSupplier(() -> upstreamTrailers);
            }
            body = new BodyRelay(x, this, filters, writer, relay.answers());
            x.moveTo(RelayState.STREAMING_UPSTREAM);
        } catch (Throwable t) {
            LOG.error("{} failed while preparing the response head", exchange.id(), t);
            relay.answers().internalError(x, "response filter failed");
            response.abort(new CancellationException("response head failed"));
        }
    }

    // ---- phase 9: the response body, through the body relay ------------------------------------------------

    @Override
    public void onContent(org.eclipse.jetty.client.Response response, Content.Chunk chunk, Runnable demander) {
        RelayState state = x.state();
        if (state == RelayState.DRAINING_FOR_RETRY) {
            discarded += chunk.remaining();
            if (discarded > 64 * 1024) {
                response.abort(new CancellationException("error body too long to drain before retrying"));
            } else {
                demander.run();
            }
            return;
        }
        if (state != RelayState.STREAMING_UPSTREAM && state != RelayState.DETACHED) {
            return; // handed off (served from cache, answered, blocked) or ended: the upstream is being aborted
        }
        this.demander = demander;
        body.onData(chunk.getByteBuffer(), chunk);
    }

    @Override
    public void onSuccess(org.eclipse.jetty.client.Response response) {
        RelayState state = x.state();
        if (state == RelayState.DETACHED) {
            body.onEnd();
            return;
        }
        if (state != RelayState.STREAMING_UPSTREAM) {
            return;
        }
        upstreamTrailers = response.getTrailers();
        body.onEnd();
    }

    @Override
    public void demand() {
        demander.run();
    }

    @Override
    public void abort(Throwable cause) {
        org.eclipse.jetty.client.Response r = upstreamResponse;
        if (r != null) {
            r.abort(cause);
        }
    }

    @Override
    public void lastWritten() {
        if (!x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.BODY_SENT) && x.state() == RelayState.UPSTREAM_DONE) {
            x.succeeded();
        }
    }

    // ---- the end of the try -------------------------------------------------------------------------------

    @Override
    public void onComplete(Result result) {
        cancelHeadTimeout();
        RelayState state = x.state();
        accountMember(result, state);
        switch (state) {
            case DRAINING_FOR_RETRY -> {
                int status = upstreamStatus;
                x.moveTo(RelayState.RETRYING);
                if (!relay.driver().retry(x)) {
                    relay.answers().answer(x, status, "upstream " + exchange.upstream() + " answered " + status
                            + " and no other upstream could take the request", "http_response_status", null, false);
                }
            }
            case BODY_SENT -> x.succeeded();
            case DETACHED -> {
                if (result.isFailed()) {
                    body.abortWriter(result.getFailure()); // the upstream body broke: the entry must not become servable
                }
            }
            case STREAMING_UPSTREAM, AWAITING_RESPONSE -> {
                if (!result.isFailed() && state == RelayState.STREAMING_UPSTREAM) {
                    if (!x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.UPSTREAM_DONE)
                            && x.state() == RelayState.BODY_SENT) {
                        x.succeeded();
                    }
                } else {
                    failed(result, state);
                }
            }
            default -> {
                // handed off or ended: nothing of this try drives the client response any more
            }
        }
    }

    private void failed(Result result, RelayState state) {
        Throwable failure = result.getFailure();
        if (failure == null) {
            failure = new IllegalStateException("upstream exchange ended without a response");
        }
        BodyRelay b = body;
        if (b != null) {
            b.abortWriter(failure);
        }
        if (state == RelayState.AWAITING_RESPONSE && tries != null && upstreamStatus == 0 && !clientResponse.isCommitted()
                && retryWanted(failure)) {
            LOG.info("{} upstream {} failed ({}); retrying on another member", exchange.id(), exchange.upstream(),
                    Failures.classify(failure).description());
            x.retryCause = failure;
            if (x.moveFrom(RelayState.AWAITING_RESPONSE, RelayState.RETRYING) && relay.driver().retry(x)) {
                return;
            }
        }
        if (clientResponse.isCommitted()) {
            exchange.reason("upstream failed mid-body: " + Failures.describe(failure));
            LOG.info("{} {} {} upstream {} failed after the response began; aborting the client response: {}",
                    exchange.id(), exchange.request().method(), exchange.requestImpl().target(), exchange.upstream(),
                    Failures.describe(failure));
            x.failed(failure);
            return;
        }
        HttpCache cache = relay.config().cache();
        if (cache != null) {
            Optional<CachedResponse> stale = Optional.empty();
            try {
                stale = cache.onUpstreamFailure(exchange, x.lookup, failure);
            } catch (RuntimeException e) {
                LOG.error("{} cache onUpstreamFailure threw", exchange.id(), e);
            }
            if (stale != null && stale.isPresent()) {
                clientResponse.reset();
                x.moveTo(RelayState.SERVING_CACHED);
                CachedBodySource.serve(relay, x, stale.get());
                return;
            }
        }
        org.eclipse.jetty.http.HttpException bad = null;
        for (Throwable t = result.getRequestFailure(); t != null && bad == null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof org.eclipse.jetty.http.HttpException) {
                bad = (org.eclipse.jetty.http.HttpException) t;
            }
        }
        if (bad != null && bad.getCode() >= 400 && bad.getCode() < 500 && result.getResponse().getStatus() <= 0) {
            // the client's body was malformed (bad chunk framing) or too slow (408): its fault, not the upstream's
            boolean slow = bad.getCode() == 408;
            relay.answers().answer(x, slow ? 408 : 400, slow ? bad.getReason() : "malformed request body: " + bad.getReason(),
                    "http_request_error", null, true);
            return;
        }
        Failures.Classified c = Failures.classify(failure);
        if (Failures.isDeniedDestination(failure)) {
            exchange.deny(); // the internal-destination check after DNS: a refusal, not an upstream failure
        }
        String what = exchange.mode() == Mode.FORWARD ? exchange.requestImpl().authority() : "upstream " + exchange.upstream();
        relay.answers().answer(x, c.status(), what + ": " + c.description(), c.proxyStatusError(), null, false);
    }

    /** Whether the pool's retry policy retries this failure of a try that got no response, and may retry now. */
    private boolean retryWanted(Throwable failure) {
        Failures.Classified kind = Failures.classify(failure);
        String error = kind.proxyStatusError();
        boolean connectFailure = error.startsWith("connection_refused") || error.equals("connection_timeout")
                || error.equals("dns_error") || error.equals("destination_unavailable");
        boolean timeout = kind.status() == 504;
        Set<RetryPolicy.Condition> on = tries.pool.retryPolicy().retryConditions();
        boolean wanted = connectFailure ? on.contains(RetryPolicy.Condition.CONNECT_FAILURE)
                : timeout ? on.contains(RetryPolicy.Condition.TIMEOUT)
                : kind.status() == 502 && on.contains(RetryPolicy.Condition.RESET);
        return wanted && mayRetry(connectFailure);
    }

    /** Whether a member not tried yet could take a retry: else the upstream's own answer goes to the client. */
    private boolean anotherMemberAvailable() {
        for (UpstreamMember m : tries.pool.members()) {
            if (m.isAvailable() && !tries.tried.contains(m)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Tells the member how its request went, for outlier detection and statistics; once. A failure counts against
     * the member only when it was the upstream's: not when the proxy or the client ended the try.
     */
    private void accountMember(Result result, RelayState state) {
        if (member == null || !accounted.compareAndSet(false, true)) {
            return;
        }
        boolean upstreamsFault = state == RelayState.AWAITING_RESPONSE || state == RelayState.STREAMING_UPSTREAM;
        boolean failed = upstreamStatus >= 500
                || (result.isFailed() && upstreamsFault && !Failures.isClientBodyFault(result.getRequestFailure()));
        if (member.end(failed, headNanos, tries.pool.outlierDetection(),
                () -> UpstreamPool.Internals.mayEject(tries.pool))) {
            LOG.warn("upstream {} ejected after {} consecutive failures ({} ejections so far)", member,
                    tries.pool.outlierDetection().consecutiveFailures(), member.stats().ejections());
        }
    }

    /**
     * Whether this exchange may be retried on another member: tries left, a replayable request (nothing sent for a
     * connect failure, else an idempotent method and a kept or absent body), and budget.
     */
    private boolean mayRetry(boolean connectFailure) {
        if (tries == null || tries.count > tries.pool.retryPolicy().retries()) {
            return false;
        }
        boolean hasBody = HeaderRules.hasBody(clientRequest);
        if (connectFailure) {
            if (!(tries.bodyReplayable(hasBody) || exchange.bytesIn() == 0)) {
                return false;
            }
        } else {
            String method = exchange.request().method();
            boolean key = exchange.request().headers().contains("Idempotency-Key");
            if (!RetryPolicy.isIdempotent(method, key) || !tries.bodyReplayable(hasBody)) {
                return false;
            }
        }
        if (!UpstreamPool.Internals.spendRetryBudget(tries.pool)) {
            LOG.info("{} retry budget of {} exhausted; not retrying", exchange.id(), tries.route);
            return false;
        }
        return true;
    }
}
