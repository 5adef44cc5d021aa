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
 * <p>Two transports carry a try: the lean {@link Http1Upstream} for cleartext HTTP/1.1 upstreams, and jetty-client
 * for the rest (TLS, h2, PROXY protocol pools, and everything with {@code gatehouse.upstream.transport=jetty-client}).
 * Each reports the same events
 * here: head, content, success, completion.
 *
 * <p><b>Threading.</b> A transport calls the listener methods one at a time; the client's write callbacks race with
 * them, which the exchange's state settles ({@link RelayState}).
 */
final class UpstreamCall implements org.eclipse.jetty.client.Response.Listener, BodyRelay.Source, Http1Connection.Listener {
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
    private boolean http2;
    /** Whether this try goes to the key's home instance (cache-peer routing) rather than the origin. */
    private final boolean peerTry;
    /** The cache peer timeout of this try (connect and response head), when it is a peer try. */
    private volatile Deadlines.Handle peerDeadline;

    private volatile long sentNanos;
    private volatile long headNanos = -1;
    private volatile int upstreamStatus;
    private long discarded;
    private volatile Deadlines.Handle headTimeout;
    private volatile org.eclipse.jetty.client.Response upstreamResponse;
    private volatile Runnable demander;
    private volatile BodyRelay body;
    private volatile HttpFields upstreamTrailers;
    /** The lean transport's connection for this try, once it has one. */
    private volatile Http1Connection lean;
    /** jetty-client's request for this try, when jetty-client carries it. */
    private volatile org.eclipse.jetty.client.Request jettyRequest;
    private volatile Deadlines.Handle totalTimeout;
    private volatile boolean responseBegun;
    /** Lean transport: set once this try has a connection, or has ended while it waited for one. */
    private final AtomicBoolean waitOver = new AtomicBoolean();
    private volatile boolean leanTransport;
    private volatile Throwable pendingAbort;
    /** The cause with which the body relay stopped this try ({@link #abort}), or null. */
    private volatile Throwable stoppedByRelay;

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
        this.peerTry = x.peerTry;
        x.call = this;
    }

    /** What happened to this try, as bits in the order head, content, success, complete, demand, last written: diagnostics. */
    private int trace;

    @Override
    public String toString() {
        Http1Connection c = lean;
        return "UpstreamCall[" + target.host() + ":" + target.port() + " lean=" + leanTransport + " waitOver=" + waitOver.get()
                + " trace=" + Integer.toBinaryString(trace) + " begun=" + responseBegun + " status=" + upstreamStatus + " body=" + body + " connection="
                + (c == null ? "none" : c.toConnectionString()) + "]";
    }

    // ---- phase 7: the upstream request --------------------------------------------------------------------

    void send() {
        // the lean transport carries cleartext HTTP/1.1; TLS and HTTP/2 (h2c too) stay with jetty-client
        // (and pools that send PROXY protocol headers: jetty-client writes them, per client address)
        io.github.gatehouse.core.ProxyProtocolVersion proxyProtocol = tries == null ? null
                : tries.pool.proxyProtocol().orElse(null);
        Http1Upstream transport = peerTry ? relay.lean(Mode.REVERSE) // a cache peer: no destination policy
                : "http".equals(target.scheme()) && proxyProtocol == null
                && (tries == null || tries.pool.protocol() == io.github.gatehouse.core.UpstreamProtocol.HTTP_1_1)
                ? relay.lean(exchange.mode()) : null;
        if (transport != null) {
            sendLean(transport);
            return;
        }
        ProxyConfig config = relay.config();
        RequestHeadImpl head = exchange.requestImpl();
        org.eclipse.jetty.client.Request upstreamRequest;
        UpstreamClients.Choice via = relay.upstream(x);
        http2 = via.version() == HttpVersion.HTTP_2;
        try {
            upstreamRequest = via.client().newRequest(hostForClient(target.host()), target.port());
        } catch (IllegalArgumentException e) {
            // a host Jetty's parser took but no client can connect to (such as "127.1", which java.net.URI refuses)
            relay.answers().badRequest(x, "invalid target host '" + target.host() + "'");
            return;
        }
        if (proxyProtocol != null) {
            upstreamRequest.tag(ProxyProtocolHeaders.tag(proxyProtocol, exchange.clientAddress(), exchange.localAddress()));
        }
        upstreamRequest.scheme(target.scheme())
                .path(target.pathQuery())
                .method(head.method())
                .version(via.version())
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
        jettyRequest = upstreamRequest;
        upstreamRequest.send(this);
    }

    /** Phase 7 on the lean transport: a pooled connection, then the head and the streaming body. */
    private void sendLean(Http1Upstream transport) {
        ProxyConfig config = relay.config();
        RequestHeadImpl head = exchange.requestImpl();
        HttpFields.Mutable fields = HttpFields.build(head.headers().size() + 8);
        copyRequestHeaders(fields);
        if (hostHeader == null && !fields.contains(HttpHeader.HOST)) {
            String h = target.host().indexOf(':') >= 0 && !target.host().startsWith("[") ? "[" + target.host() + "]" : target.host();
            fields.put(HttpHeader.HOST, target.port() == 80 ? h : h + ":" + target.port());
        }
        Http1Connection.Request request;
        if (tries != null && tries.body != null) {
            request = new Http1Connection.Request(head.method(), target.pathQuery(), fields, null, tries.body, tries.body.length,
                    "HEAD".equals(head.method()));
        } else if (HeaderRules.hasBody(clientRequest)) {
            request = new Http1Connection.Request(head.method(), target.pathQuery(), fields,
                    new ClientRequestContent(clientRequest, exchange), null, clientRequest.getLength(), "HEAD".equals(head.method()));
        } else if (clientRequest.getLength() == 0 && clientRequest.getHeaders().contains(HttpHeader.CONTENT_LENGTH)) {
            request = new Http1Connection.Request(head.method(), target.pathQuery(), fields, null, new byte[0], 0,
                    "HEAD".equals(head.method()));
        } else {
            request = new Http1Connection.Request(head.method(), target.pathQuery(), fields, null, null, -1,
                    "HEAD".equals(head.method()));
        }
        if (member != null) {
            member.begin();
        }
        sentNanos = System.nanoTime();
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} upstreamRequest {} {} {}", exchange.id(), head.method(), target, fields);
        }
        x.moveTo(RelayState.AWAITING_RESPONSE);
        long total = config.exchangeTimeout().toMillis();
        if (total > 0) {
            totalTimeout = relay.deadlines().schedule(total, () -> abortTry(
                    new java.util.concurrent.TimeoutException("Total timeout " + total + " ms elapsed")));
        }
        leanTransport = true;
        if (peerTry) {
            PeerRouting peers = config.cachePeers();
            peers.fetched();
            long limit = peers.timeout().toMillis();
            peerDeadline = relay.deadlines().schedule(limit, () -> {
                if (!responseBegun) {
                    abortTry(new Failures.UpstreamHeadTimeout("cache peer " + target.host() + ":" + target.port()
                            + " did not answer within " + limit + "ms"));
                }
            });
        }
        boolean queued = transport.acquire(target.host(), target.port(), (connection, failure) -> {
            if (!waitOver.compareAndSet(false, true)) {
                if (connection != null) {
                    connection.giveBack(); // the try ended while it waited (a total timeout)
                }
                return;
            }
            if (failure != null) {
                complete(null, failure);
                return;
            }
            lean = connection;
            connection.send(request, this);
            Throwable late = pendingAbort;
            if (late != null) {
                connection.abort(this, late); // an abort that came while the connection was being handed over
            }
        });
        if (queued) {
            // Waiting for a connection is part of connecting: bounded by the connect timeout, never by the total one
            // alone (an hour by default). A connection handed over meanwhile makes this a no-op.
            long wait = config.connectTimeout().toMillis();
            relay.deadlines().schedule(wait, () -> {
                if (waitOver.compareAndSet(false, true)) {
                    complete(null, new java.net.SocketTimeoutException("no connection to the upstream became free within "
                            + wait + "ms"));
                }
            });
        }
    }

    private static String hostForClient(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private void copyRequestHeaders(HttpFields.Mutable h) {
        RequestHeadImpl head = exchange.requestImpl();
        HeaderViews.copyTo(head.headers(), h);
        if (http2) {
            // HTTP/2 carries the authority in :authority, which jetty-client makes from the member's host and port; a
            // Host field that differs from it is a malformed request (RFC 9113 §8.3.1), so none is sent
            h.remove(HttpHeader.HOST);
        } else if (hostHeader != null) {
            h.put(HttpHeader.HOST, hostHeader);
        }
        h.add(HttpHeader.VIA, relay.via(head.version()));
        h.remove(PeerRouting.HEADER); // a peer's mark (and its secret) never goes on, from a background exchange either
        if (peerTry) {
            h.put(PeerRouting.HEADER, relay.config().cachePeers().headerValue());
        }
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

    @Override
    public void requestSent() {
        startHeadTimeout(null);
    }

    private void startHeadTimeout(org.eclipse.jetty.client.Request upstreamRequest) {
        java.time.Duration timeout = tries != null
                ? tries.pool.retryPolicy().perTryTimeout().orElse(relay.config().upstreamTimeout())
                : relay.config().upstreamTimeout();
        if (x.state() != RelayState.AWAITING_RESPONSE || upstreamStatus != 0) {
            return;
        }
        headTimeout = relay.deadlines().schedule(timeout.toMillis(), () -> abortTry(
                new Failures.UpstreamHeadTimeout("upstream sent no response within " + timeout.toMillis() + "ms")));
    }

    private void cancelHeadTimeout() {
        Deadlines.Handle task = headTimeout;
        if (task != null) {
            task.cancel();
        }
    }

    /** Ends this try with {@code cause}, whichever transport carries it and however far it got. */
    private void abortTry(Throwable cause) {
        Http1Connection c = lean;
        if (c != null) {
            c.abort(this, cause);
            return;
        }
        if (leanTransport) {
            if (waitOver.compareAndSet(false, true)) {
                complete(null, cause); // still waiting for a connection
            } else {
                pendingAbort = cause;
                Http1Connection now = lean;
                if (now != null) {
                    now.abort(this, cause);
                }
            }
            return;
        }
        org.eclipse.jetty.client.Request r = jettyRequest;
        if (r != null) {
            r.abort(cause);
        }
    }

    @Override
    public void interim(int status, HttpFields fields) {
        onInterim(status, fields);
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
        responseBegun = true;
        headNanos = System.nanoTime() - sentNanos;
        exchange.upstreamHeadNanos(headNanos);
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response response) {
        cancelHeadTimeout();
        upstreamResponse = response;
        head(response.getStatus(), response.getVersion(), response.getHeaders());
    }

    @Override
    public void head(int status, HttpVersion version, HttpFields upstreamFields) {
        trace |= 1;
        if (!responseBegun) {
            cancelHeadTimeout();
            responseBegun = true;
            headNanos = System.nanoTime() - sentNanos;
            exchange.upstreamHeadNanos(headNanos);
        }
        upstreamStatus = status;
        cancelPeerDeadline();
        if (x.state() != RelayState.AWAITING_RESPONSE) {
            return;
        }
        if (peerTry && status >= 200) {
            String proxyStatus = upstreamFields.get("Proxy-Status");
            if (proxyStatus != null && proxyStatus.contains("error=")) {
                // the home answered by itself (it failed, refused, or saw a loop): not the origin's answer. Its short
                // body is drained, then the miss goes to the origin (complete -> fallBack)
                LOG.info("{} cache peer {} answered {} by itself ({}); fetching from the origin", exchange.id(),
                        exchange.upstream(), status, proxyStatus);
                x.moveTo(RelayState.DRAINING_FOR_RETRY);
                return;
            }
            if (isHit(upstreamFields.getValuesList("Cache-Status"))) {
                relay.config().cachePeers().peerHit();
            }
        }
        if (status < 200) {
            // 1xx other than 100/102/103 (which InterimResponses takes): a 101 was never asked for, since the relay
            // does not forward Upgrade; anything else is not HTTP/1.1.
            exchange.reason("upstream answered " + status + " without being asked to switch protocols");
            LOG.info("{} upstream {} answered {} to a request that asked for no upgrade", exchange.id(),
                    exchange.upstream(), status);
            relay.answers().answer(x, 502, "upstream answered " + status + " without being asked to switch protocols",
                    "http_protocol_error", null, true);
            abortTry(new CancellationException("unsolicited " + status));
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
            HttpHeaders fields = HeaderRules.upstreamResponseFields(upstreamFields);
            fields.add("Via", version == HttpVersion.HTTP_2 ? relay.via("HTTP/2.0") : relay.via(version == HttpVersion.HTTP_1_0));
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
                    abortTry(new CancellationException("upstream response replaced by a cached one"));
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
            abortTry(new CancellationException("response head failed"));
        }
    }

    // ---- phase 9: the response body, through the body relay ------------------------------------------------

    @Override
    public void onContent(org.eclipse.jetty.client.Response response, Content.Chunk chunk, Runnable demander) {
        this.demander = demander;
        content(chunk.getByteBuffer(), chunk);
    }

    @Override
    public void content(java.nio.ByteBuffer data) {
        content(data, null);
    }

    private void content(java.nio.ByteBuffer data, Content.Chunk chunk) {
        trace |= 2;
        RelayState state = x.state();
        if (state == RelayState.DRAINING_FOR_RETRY) {
            discarded += data.remaining();
            if (discarded > 64 * 1024) {
                abortTry(new CancellationException("error body too long to drain before retrying"));
            } else {
                demand();
            }
            return;
        }
        if (state != RelayState.STREAMING_UPSTREAM && state != RelayState.DETACHED) {
            // Handed off (served from cache, answered, blocked) or ended: the upstream is being aborted; aborted here
            // too (a no-op if it was), so that a body nobody reads never holds its connection until the idle timeout.
            CancellationException stop = new CancellationException("response body no longer wanted (" + state + ")");
            stoppedByRelay = stop;
            abortTry(stop);
            return;
        }
        body.onData(data, chunk);
    }

    @Override
    public void onSuccess(org.eclipse.jetty.client.Response response) {
        success(response.getTrailers());
    }

    @Override
    public void success(HttpFields trailers) {
        trace |= 4;
        RelayState state = x.state();
        if (state == RelayState.DETACHED) {
            body.onEnd();
            return;
        }
        if (state != RelayState.STREAMING_UPSTREAM) {
            return;
        }
        upstreamTrailers = trailers;
        // the member's outcome is in its statistics (and may eject it) before the client has the last byte, so
        // that the client's next request already meets the pool this one left
        accountMember(false, null, state);
        body.onEnd();
    }

    @Override
    public void demand() {
        trace |= 16;
        Http1Connection c = lean;
        if (c != null) {
            c.demand(this);
        } else {
            demander.run();
        }
    }

    @Override
    public void abort(Throwable cause) {
        Http1Connection c = lean;
        if (c != null || leanTransport) {
            // The body relay stops the source (the client went away, or a body filter blocked): the lean transport
            // completes this try at once, while the exchange is still STREAMING_UPSTREAM, so the completion must know
            // that this failure is the relay's own, not the upstream's (it neither counts against the member nor
            // becomes an "upstream failed" answer: the body relay ends the exchange).
            stoppedByRelay = cause;
            abortTry(cause);
            return;
        }
        org.eclipse.jetty.client.Response r = upstreamResponse;
        if (r != null) {
            r.abort(cause);
        }
    }

    @Override
    public void lastWritten() {
        trace |= 32;
        if (!x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.BODY_SENT) && x.state() == RelayState.UPSTREAM_DONE) {
            x.succeeded();
        }
    }

    // ---- the end of the try -------------------------------------------------------------------------------

    @Override
    public void onComplete(Result result) {
        complete(result.getRequestFailure(), result.getFailure());
    }

    @Override
    public void complete(Throwable requestFailure, Throwable failure) {
        trace |= 8;
        cancelHeadTimeout();
        cancelPeerDeadline();
        Deadlines.Handle total = totalTimeout;
        if (total != null) {
            total.cancel();
        }
        boolean isFailed = failure != null;
        RelayState state = x.state();
        if (isFailed && failure == stoppedByRelay) {
            accountMember(false, null, RelayState.FAILED); // the relay's own stop: not the upstream's fault
            return; // the body relay ends the exchange (client gone, or blocked)
        }
        accountMember(isFailed, requestFailure, state);
        switch (state) {
            case DRAINING_FOR_RETRY -> {
                if (peerTry) {
                    fallBack("answered " + upstreamStatus + " by itself", RelayState.DRAINING_FOR_RETRY);
                    return;
                }
                int status = upstreamStatus;
                x.moveTo(RelayState.RETRYING);
                if (!relay.driver().retry(x)) {
                    relay.answers().answer(x, status, "upstream " + exchange.upstream() + " answered " + status
                            + " and no other upstream could take the request", "http_response_status", null, false);
                }
            }
            case BODY_SENT -> x.succeeded();
            case DETACHED -> {
                if (isFailed) {
                    body.abortWriter(failure); // the upstream body broke: the entry must not become servable
                }
            }
            case STREAMING_UPSTREAM, AWAITING_RESPONSE -> {
                if (!isFailed && state == RelayState.STREAMING_UPSTREAM) {
                    if (!x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.UPSTREAM_DONE)
                            && x.state() == RelayState.BODY_SENT) {
                        x.succeeded();
                    }
                } else {
                    failed(requestFailure, failure, state);
                }
            }
            default -> {
                // handed off or ended: nothing of this try drives the client response any more
            }
        }
    }

    private void failed(Throwable requestFailure, Throwable failure, RelayState state) {
        if (failure == null) {
            failure = new IllegalStateException("upstream exchange ended without a response");
        }
        BodyRelay b = body;
        if (b != null) {
            b.abortWriter(failure);
        }
        if (peerTry && state == RelayState.AWAITING_RESPONSE && upstreamStatus == 0 && !clientResponse.isCommitted()) {
            fallBack(Failures.classify(failure).description(), RelayState.AWAITING_RESPONSE);
            return;
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
        for (Throwable t = requestFailure; t != null && bad == null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof org.eclipse.jetty.http.HttpException) {
                bad = (org.eclipse.jetty.http.HttpException) t;
            }
        }
        if (bad != null && bad.getCode() >= 400 && bad.getCode() < 500 && !responseBegun) {
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

    /**
     * The home instance failed this try before it began a response of the origin's: the miss goes to the origin, as
     * if there were no cache peers (phase 6 again, with the cache seeing an origin's answer).
     */
    private void fallBack(String why, RelayState from) {
        PeerRouting.Peer home = x.peer;
        if (home != null) {
            relay.config().cachePeers().fellBack(home);
        }
        LOG.info("{} cache peer {} {}; fetching from the origin", exchange.id(), exchange.upstream(), why);
        UpstreamSelector.dropHome(x);
        if (!x.moveFrom(from, RelayState.RETRYING)) {
            return; // the exchange ended meanwhile (the client went away)
        }
        if (!relay.driver().retry(x)) {
            relay.answers().answer(x, 503, "cache peer " + exchange.upstream() + " " + why
                    + " and no upstream could take the request", "destination_unavailable", null, false);
        }
    }

    private void cancelPeerDeadline() {
        Deadlines.Handle d = peerDeadline;
        if (d != null) {
            d.cancel();
        }
    }

    /** Whether a {@code Cache-Status} field of the home says one of its caches answered from storage. */
    static boolean isHit(java.util.List<String> cacheStatus) {
        for (String field : cacheStatus) {
            for (String member : field.split(",")) {
                String[] params = member.split(";");
                for (int i = 1; i < params.length; i++) {
                    if (params[i].trim().equals("hit")) {
                        return true;
                    }
                }
            }
        }
        return false;
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
    private void accountMember(boolean isFailed, Throwable requestFailure, RelayState state) {
        if (member == null || !accounted.compareAndSet(false, true)) {
            return;
        }
        boolean upstreamsFault = state == RelayState.AWAITING_RESPONSE || state == RelayState.STREAMING_UPSTREAM;
        boolean failed = upstreamStatus >= 500
                || (isFailed && upstreamsFault && !Failures.isClientBodyFault(requestFailure));
        if (member.end(failed, headNanos, tries.pool.outlierDetection(),
                () -> ApiAccess.pools().mayEject(tries.pool))) {
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
            if (!isIdempotent(method, key) || !tries.bodyReplayable(hasBody)) {
                return false;
            }
        }
        if (!ApiAccess.pools().spendRetryBudget(tries.pool)) {
            LOG.info("{} retry budget of {} exhausted; not retrying", exchange.id(), tries.route);
            return false;
        }
        return true;
    }

    /** Whether {@code method} (with or without an {@code Idempotency-Key}) may be replayed after it was sent. */
    private static boolean isIdempotent(String method, boolean hasIdempotencyKey) {
        switch (method) {
            case "GET":
            case "HEAD":
            case "OPTIONS":
            case "TRACE":
            case "PUT":
            case "DELETE":
                return true;
            default:
                return hasIdempotencyKey;
        }
    }
}
