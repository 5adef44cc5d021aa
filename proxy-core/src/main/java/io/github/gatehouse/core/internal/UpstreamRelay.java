package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CacheWriter;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.HttpHeaders;
import java.net.InetAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phases 7 to 9 of one exchange: sends the upstream request with the client's body streaming into it, and relays
 * the upstream response to the client chunk by chunk. The next upstream chunk is demanded only once the previous
 * one was written to the client, so the heap holds at most a chunk or two per exchange, whatever the body size.
 *
 * <p>Failure rules: before the client response is committed, an upstream failure becomes a 502/504 answer (or a
 * stale cached response); after it, the client response is aborted, never completed as if the body were whole. A
 * client that goes away aborts the upstream request, unless the cache writer asks to go on reading the body into
 * it ({@link CacheWriter#continueWithoutClient()}): then the exchange ends for the client and the relay is
 * "detached", feeding the upstream body to the writer alone until it ends or the writer says stop.
 */
final class UpstreamRelay implements org.eclipse.jetty.client.Response.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamRelay.class);

    private final RelayHandler relay;
    private final ExchangeImpl exchange;
    private final Request clientRequest;
    private final Response clientResponse;
    private final RelayHandler.ExchangeCallback done;
    private final CacheLookup lookup;
    private final MemberState member;
    private final Tries tries;
    private final AtomicBoolean accounted = new AtomicBoolean();
    private volatile long sentNanos;
    private volatile long headNanos = -1;
    private volatile int upstreamStatus;
    private volatile boolean abortedByUs;
    private volatile int retryAfterStatus;
    private final boolean clientAcceptsTrailers;
    private long discarded;
    /** Where to: scheme, host, port and the raw path with query, kept apart so nothing parses a URI per request. */
    private final Target upstreamUri;

    /** An upstream request target. */
    record Target(String scheme, String host, int port, String pathQuery) {
        static Target of(URI uri) {
            String scheme = uri.getScheme();
            int port = uri.getPort() > 0 ? uri.getPort() : ("https".equalsIgnoreCase(scheme) ? 443 : 80);
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            return new Target(scheme, uri.getHost(), port, uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery());
        }

        @Override
        public String toString() {
            return scheme + "://" + (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port + pathQuery;
        }
    }
    private final String hostHeader;
    private final AtomicBoolean finished = new AtomicBoolean();

    private volatile Deadlines.Handle headTimeout;
    private volatile CacheWriter cacheWriter;
    /** Set once the client went away and the cache writer asked for the rest of the body (no client any more). */
    private volatile boolean detached;
    private volatile BodyFilterChain bodyFilters;
    /** Set when this relay no longer drives the client response (served from cache, blocked, answered). */
    private volatile boolean handedOff;
    private volatile boolean lastWritten;
    private volatile Throwable clientFailure;
    private volatile Result result;
    private volatile HttpFields upstreamTrailers;
    /** The chain of interim responses written to the client, or null when there was none. */
    private volatile java.util.concurrent.CompletableFuture<Void> interimWrites;

    UpstreamRelay(RelayHandler relay, ExchangeImpl exchange, Request clientRequest, Response clientResponse,
            RelayHandler.ExchangeCallback done, CacheLookup lookup, Target upstreamUri, String hostHeader,
            MemberState member, Tries tries) {
        this.member = member;
        this.tries = tries;
        this.clientAcceptsTrailers = HeaderRules.acceptsTrailers(clientRequest.getHeaders());
        this.relay = relay;
        this.exchange = exchange;
        this.clientRequest = clientRequest;
        this.clientResponse = clientResponse;
        this.done = done;
        this.lookup = lookup;
        this.upstreamUri = upstreamUri;
        this.hostHeader = hostHeader;
    }

    // ---- phase 7: the upstream request --------------------------------------------------------------------

    void send() {
        ProxyConfig config = relay.config();
        RequestHeadImpl head = exchange.requestImpl();
        boolean hasBody = clientRequest.getLength() > 0
                || (clientRequest.getLength() < 0 && clientRequest.getHeaders().contains(HttpHeader.TRANSFER_ENCODING));
        org.eclipse.jetty.client.Request upstreamRequest = relay.client(exchange.mode()).newRequest(hostForClient(upstreamUri.host()), upstreamUri.port())
                .scheme(upstreamUri.scheme())
                .path(upstreamUri.pathQuery())
                .method(head.method())
                .version(HttpVersion.HTTP_1_1)
                .idleTimeout(config.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .timeout(config.exchangeTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .headers(h -> copyRequestHeaders(head, h));
        if (tries != null && tries.body != null) {
            upstreamRequest.body(new org.eclipse.jetty.client.BytesRequestContent(
                    clientRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), tries.body));
        } else if (hasBody) {
            upstreamRequest.body(new ClientRequestContent(clientRequest, exchange));
        } else if (clientRequest.getLength() == 0 && clientRequest.getHeaders().contains(HttpHeader.CONTENT_LENGTH)) {
            // an explicit empty body: keep "Content-Length: 0" without tying the upstream request to the client's
            upstreamRequest.body(new org.eclipse.jetty.client.BytesRequestContent(
                    clientRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), new byte[0]));
        }
        if (member != null) {
            member.begin();
        }
        sentNanos = System.nanoTime();
        upstreamRequest.attribute(InterimResponses.RELAY, this);
        upstreamRequest.onRequestSuccess(r -> startHeadTimeout(r));
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} upstreamRequest {} {} {}", exchange.id(), head.method(), upstreamUri, head.headers());
        }
        upstreamRequest.send(this);
    }

    private static String hostForClient(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private void copyRequestHeaders(RequestHeadImpl head, HttpFields.Mutable h) {
        head.headers().forEachField(h::add);
        if (hostHeader != null) {
            h.put(HttpHeader.HOST, hostHeader);
        }
        h.add(HttpHeader.VIA, relay.via("HTTP/1.0".equals(head.version())));
        if (clientAcceptsTrailers) {
            h.put(HttpHeader.TE, "trailers");
        }
        if (exchange.mode() == Mode.REVERSE) {
            addForwardedHeaders(head, h);
        }
        if (lookup.kind() == CacheLookup.Kind.REVALIDATE) {
            lookup.conditionalHeaders().forEachField(h::put);
        }
    }

    /** X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded; client-sent copies kept only from trusted proxies. */
    private void addForwardedHeaders(RequestHeadImpl head, HttpFields.Mutable h) {
        InetAddress client = exchange.clientAddress().getAddress();
        boolean trusted = client != null && relay.config().isTrusted(client);
        String clientIp = client == null ? "unknown" : client.getHostAddress();
        if (!trusted) {
            h.remove("X-Forwarded-For");
            h.remove("X-Forwarded-Proto");
            h.remove("X-Forwarded-Host");
            h.remove("X-Forwarded-Port");
            h.remove(HttpHeader.FORWARDED);
            h.remove("X-Real-IP");
        }
        String xff = h.get("X-Forwarded-For");
        h.put("X-Forwarded-For", xff == null || xff.isBlank() ? clientIp : xff + ", " + clientIp);
        String publicHost = clientRequest.getHeaders().get(HttpHeader.HOST);
        if (!h.contains("X-Forwarded-Proto")) {
            h.put("X-Forwarded-Proto", head.scheme());
        }
        if (!h.contains("X-Forwarded-Host") && publicHost != null) {
            h.put("X-Forwarded-Host", publicHost);
        }
        String forNode = client instanceof java.net.Inet6Address ? "\"[" + clientIp + "]\"" : clientIp;
        StringBuilder element = new StringBuilder("for=").append(forNode);
        if (publicHost != null) {
            element.append(";host=").append(forwardedValue(publicHost));
        }
        element.append(";proto=").append(head.scheme());
        String existing = h.get(HttpHeader.FORWARDED);
        h.put(HttpHeader.FORWARDED, existing == null || existing.isBlank() ? element.toString() : existing + ", " + element);
    }

    private static String forwardedValue(String v) {
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (!(Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '_')) {
                return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
            }
        }
        return v;
    }

    private void startHeadTimeout(org.eclipse.jetty.client.Request upstreamRequest) {
        java.time.Duration timeout = tries != null
                ? tries.pool.retryPolicy().perTryTimeout().orElse(relay.config().upstreamTimeout())
                : relay.config().upstreamTimeout();
        if (result != null) {
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
     * An interim response (100, 102, 103) from the upstream: relayed to an HTTP/1.1 client before the final response
     * (RFC 9110 §15.2: never to an HTTP/1.0 client), with its end-to-end fields only. It is never cached, and its
     * fields never join the final response. Writes are chained: the final response's first write waits for it.
     */
    void onInterim(int status, HttpFields fields) {
        if (handedOff || retryAfterStatus != 0 || clientResponse.isCommitted()
                || !HttpVersion.HTTP_1_1.is(clientRequest.getConnectionMetaData().getProtocol())) {
            LOG.debug("{} upstream interim {} not relayed", exchange.id(), status);
            return;
        }
        HttpHeaders end = HeaderRules.upstreamResponseFields(fields);
        HttpFields.Mutable out = HttpFields.build();
        end.forEachField(out::add);
        synchronized (this) {
            java.util.concurrent.CompletableFuture<Void> previous = interimWrites;
            interimWrites = (previous == null ? java.util.concurrent.CompletableFuture.<Void>completedFuture(null) : previous)
                    .handle((r, x) -> null)
                    .thenCompose(ignored -> clientResponse.writeInterim(status, out))
                    .exceptionally(x -> {
                        LOG.debug("{} interim {} could not be written: {}", exchange.id(), status, Failures.describe(x));
                        return null;
                    });
        }
    }

    /** Writes to the client once every interim response before it has been written. */
    private void writeToClient(boolean last, ByteBuffer data, Callback callback) {
        java.util.concurrent.CompletableFuture<Void> pending = interimWrites;
        if (pending == null || pending.isDone()) {
            clientResponse.write(last, data, callback);
        } else {
            pending.whenComplete((r, x) -> clientResponse.write(last, data, callback));
        }
    }

    // ---- phase 8: the response head -----------------------------------------------------------------------

    @Override
    public void onBegin(org.eclipse.jetty.client.Response upstreamResponse) {
        cancelHeadTimeout();
        headNanos = System.nanoTime() - sentNanos;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response upstreamResponse) {
        cancelHeadTimeout();
        upstreamStatus = upstreamResponse.getStatus();
        int status = upstreamStatus;
        if (status < 200) {
            // 1xx other than 100/102/103 (which InterimResponses takes): a 101 was never asked for, since the relay
            // does not forward Upgrade; anything else is not HTTP/1.1.
            exchange.reason("upstream answered " + status + " without being asked to switch protocols");
            LOG.info("{} upstream {} answered {} to a request that asked for no upgrade", exchange.id(), exchange.upstream(), status);
            takeOver(upstreamResponse, new CancellationException("unsolicited " + status));
            relay.answer(exchange, clientResponse, done, 502, "upstream answered " + status
                    + " without being asked to switch protocols", "http_protocol_error", null, true);
            return;
        }
        if (tries != null && tries.pool.retryPolicy().retryStatuses().contains(status) && anotherMemberAvailable()
                && mayRetry(false)) {
            // the retry starts once this attempt has completed (onComplete), never while it is being torn down
            handedOff = true;
            abortedByUs = true;
            retryAfterStatus = status;
            LOG.info("{} upstream {} answered {}; retrying on another member", exchange.id(), exchange.upstream(), status);
            // the short error body is read and dropped (onContent) so the connection stays reusable; aborting a
            // response here would leave jetty-client's pooled connection failing the next request sent on it
            return;
        }
        try {
            HttpHeaders fields = HeaderRules.upstreamResponseFields(upstreamResponse.getHeaders());
            fields.add("Via", relay.via(upstreamResponse.getVersion() == HttpVersion.HTTP_1_0));
            if (exchange.stickySetCookie() != null) {
                fields.add("Set-Cookie", exchange.stickySetCookie());
            }
            ResponseHeadImpl head = new ResponseHeadImpl(upstreamResponse.getStatus(), fields);
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} upstreamResponse {} {}", exchange.id(), head.status(), head.headers());
            }
            HttpCache cache = relay.config().cache();
            if (cache != null) {
                CacheDecision decision = cache.onUpstreamResponse(exchange, lookup, head);
                if (decision != null && decision.kind() == CacheDecision.Kind.SERVE) {
                    abortedByUs = true;
                    handedOff = true;
                    upstreamResponse.abort(new CancellationException("upstream response replaced by a cached one"));
                    new CachedResponseSender(relay, exchange, clientRequest, clientResponse, done)
                            .send(decision.response().orElseThrow());
                    return;
                }
                if (decision != null && decision.kind() == CacheDecision.Kind.STORE) {
                    cacheWriter = decision.writer().orElseThrow();
                }
            }
            boolean hasBody = !"HEAD".equals(exchange.request().method()) && head.status() != 204 && head.status() != 304;
            bodyFilters = relay.prepareResponse(exchange, clientResponse, head, hasBody);
            // Trailers force chunked framing: only when the body is chunked anyway and the client asked for them.
            if (hasBody && !clientResponse.getHeaders().contains(HttpHeader.CONTENT_LENGTH)
                    && clientAcceptsTrailers) {
                clientResponse.setTrailersSupplier(() -> upstreamTrailers);
            }
        } catch (Throwable t) {
            LOG.error("{} failed while preparing the response head", exchange.id(), t);
            takeOver(upstreamResponse, new CancellationException("response head failed"));
            relay.internalError(exchange, clientResponse, done, "response filter failed");
        }
    }

    // ---- phase 9: the response body -----------------------------------------------------------------------

    @Override
    public void onContent(org.eclipse.jetty.client.Response upstreamResponse, Content.Chunk chunk, Runnable demander) {
        if (retryAfterStatus != 0) {
            discarded += chunk.remaining();
            if (discarded > 64 * 1024) {
                upstreamResponse.abort(new CancellationException("error body too long to drain before retrying"));
            } else {
                demander.run();
            }
            return;
        }
        if (handedOff) {
            return;
        }
        if (detached) {
            feedDetached(upstreamResponse, chunk.getByteBuffer(), demander);
            return;
        }
        ByteBuffer data = chunk.getByteBuffer();
        CacheWriter writer = cacheWriter;
        if (writer != null) {
            try {
                writer.write(data.asReadOnlyBuffer());
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed; the response is no longer stored: {}", exchange.id(), Failures.describe(e));
                abortCacheWriter(e);
            }
        }
        ByteBuffer out = data;
        BodyFilterChain filters = bodyFilters;
        if (filters != null) {
            out = filters.apply(data, false);
            if (filters.isBlocked()) {
                blocked(upstreamResponse, filters);
                return;
            }
        }
        if (!out.hasRemaining()) {
            demander.run();
            return;
        }
        boolean retained = chunk.canRetain();
        if (retained) {
            chunk.retain();
        }
        writeToClient(false, out, Callback.from(Callback.InvocationType.NON_BLOCKING, () -> {
            if (retained) {
                chunk.release();
            }
            demander.run();
        }, failure -> {
            if (retained) {
                chunk.release();
            }
            clientGone(upstreamResponse, failure, demander);
        }));
    }

    @Override
    public void onSuccess(org.eclipse.jetty.client.Response upstreamResponse) {
        if (handedOff) {
            return;
        }
        if (detached) {
            CacheWriter writer = cacheWriter;
            cacheWriter = null;
            if (writer != null) {
                try {
                    writer.complete();
                } catch (RuntimeException e) {
                    LOG.warn("{} cache writer failed to complete: {}", exchange.id(), Failures.describe(e));
                }
            }
            return;
        }
        upstreamTrailers = upstreamResponse.getTrailers();
        ByteBuffer out = RelayHandler.empty();
        BodyFilterChain filters = bodyFilters;
        if (filters != null) {
            out = filters.apply(RelayHandler.empty(), true);
            if (filters.isBlocked()) {
                blocked(upstreamResponse, filters);
                return;
            }
        }
        // The upstream body is whole: the stored copy is complete before the client sees the last byte, so the
        // client's next request can already hit it.
        CacheWriter writer = cacheWriter;
        if (writer != null) {
            cacheWriter = null;
            try {
                writer.complete();
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed to complete: {}", exchange.id(), Failures.describe(e));
            }
        }
        writeToClient(true, out, Callback.from(Callback.InvocationType.NON_BLOCKING, () -> {
            lastWritten = true;
            finish();
        }, failure -> clientGone(upstreamResponse, failure, null)));
    }

    @Override
    public void onComplete(Result result) {
        cancelHeadTimeout();
        this.result = result;
        accountMember(result);
        if (detached) {
            if (result.isFailed()) {
                abortCacheWriter(result.getFailure()); // the upstream body broke: the entry must not become servable
            }
            return;
        }
        int status = retryAfterStatus;
        if (status != 0) {
            if (finished.compareAndSet(false, true) && !relay.sendToPool(exchange, clientRequest, clientResponse, done,
                    lookup, tries, new java.io.IOException("upstream answered " + status))) {
                relay.answer(exchange, clientResponse, done, status, "upstream " + exchange.upstream() + " answered " + status
                        + " and no other upstream could take the request", "http_response_status", null, false);
            }
            return;
        }
        finish();
    }

    /** Whether a member not tried yet could take a retry: else the upstream's own answer goes to the client. */
    private boolean anotherMemberAvailable() {
        for (io.github.gatehouse.core.UpstreamMember m : tries.pool.members()) {
            if (m.isAvailable() && !tries.tried.contains(m)) {
                return true;
            }
        }
        return false;
    }

    /** Tells the member how its request went, for outlier detection and statistics; once. */
    private void accountMember(Result result) {
        if (member == null || !accounted.compareAndSet(false, true)) {
            return;
        }
        boolean failed = upstreamStatus >= 500
                || (result.isFailed() && !abortedByUs && clientFailure == null && !lastWritten
                        && !Failures.isClientBodyFault(result.getRequestFailure()));
        if (member.end(failed, headNanos, tries.pool.outlierDetection(),
                () -> io.github.gatehouse.core.UpstreamPool.Internals.mayEject(tries.pool))) {
            LOG.warn("upstream {} ejected after {} consecutive failures ({} ejections so far)", member,
                    tries.pool.outlierDetection().consecutiveFailures(), member.stats().ejections());
        }
    }

    /**
     * Whether this exchange may be retried on another member: tries left, a replayable request (nothing sent for a
     * connect failure, else an idempotent method and a kept or absent body), the client still there, and budget.
     */
    private boolean mayRetry(boolean connectFailure) {
        if (tries == null || tries.count > tries.pool.retryPolicy().retries() || clientFailure != null) {
            return false;
        }
        boolean hasBody = clientRequest.getLength() > 0 || clientRequest.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
        if (connectFailure) {
            if (!(tries.bodyReplayable(hasBody) || exchange.bytesIn() == 0)) {
                return false;
            }
        } else {
            String method = exchange.request().method();
            boolean key = exchange.request().headers().contains("Idempotency-Key");
            if (!io.github.gatehouse.core.RetryPolicy.isIdempotent(method, key) || !tries.bodyReplayable(hasBody)) {
                return false;
            }
        }
        if (!io.github.gatehouse.core.UpstreamPool.Internals.spendRetryBudget(tries.pool)) {
            LOG.info("{} retry budget of {} exhausted; not retrying", exchange.id(), tries.route);
            return false;
        }
        return true;
    }

    private void finish() {
        Result r = result;
        if (handedOff || r == null) {
            return;
        }
        Throwable gone = clientFailure;
        if (gone != null) {
            if (finished.compareAndSet(false, true)) {
                abortCacheWriter(gone);
                LOG.info("{} client went away during the response: {}", exchange.id(), Failures.describe(gone));
                done.failed(gone);
            }
            return;
        }
        if (lastWritten) {
            if (finished.compareAndSet(false, true)) {
                done.succeeded();
            }
            return;
        }
        if (!r.isFailed()) {
            return; // the last write is still in flight; its callback finishes
        }
        if (!finished.compareAndSet(false, true)) {
            return;
        }
        Throwable failure = r.getFailure();
        abortCacheWriter(failure);
        if (!clientResponse.isCommitted() && tries != null && upstreamStatus == 0) {
            Failures.Classified kind = Failures.classify(failure);
            boolean connectFailure = kind.proxyStatusError().startsWith("connection_refused")
                    || kind.proxyStatusError().equals("connection_timeout") || kind.proxyStatusError().equals("dns_error")
                    || kind.proxyStatusError().equals("destination_unavailable");
            boolean timeout = kind.status() == 504;
            java.util.Set<io.github.gatehouse.core.RetryPolicy.Condition> on = tries.pool.retryPolicy().retryConditions();
            boolean wanted = connectFailure ? on.contains(io.github.gatehouse.core.RetryPolicy.Condition.CONNECT_FAILURE)
                    : timeout ? on.contains(io.github.gatehouse.core.RetryPolicy.Condition.TIMEOUT)
                    : kind.status() == 502 && on.contains(io.github.gatehouse.core.RetryPolicy.Condition.RESET);
            if (wanted && mayRetry(connectFailure)) {
                LOG.info("{} upstream {} failed ({}); retrying on another member", exchange.id(), exchange.upstream(),
                        kind.description());
                if (relay.sendToPool(exchange, clientRequest, clientResponse, done, lookup, tries, failure)) {
                    return;
                }
            }
        }
        if (clientResponse.isCommitted()) {
            exchange.reason("upstream failed mid-body: " + Failures.describe(failure));
            LOG.info("{} {} {} upstream {} failed after the response began; aborting the client response: {}",
                    exchange.id(), exchange.request().method(), exchange.request().uri(), exchange.upstream(),
                    Failures.describe(failure));
            done.failed(failure);
            return;
        }
        HttpCache cache = relay.config().cache();
        if (cache != null) {
            Optional<CachedResponse> stale = Optional.empty();
            try {
                stale = cache.onUpstreamFailure(exchange, lookup, failure);
            } catch (RuntimeException e) {
                LOG.error("{} cache onUpstreamFailure threw", exchange.id(), e);
            }
            if (stale != null && stale.isPresent()) {
                clientResponse.reset();
                new CachedResponseSender(relay, exchange, clientRequest, clientResponse, done).send(stale.get());
                return;
            }
        }
        Throwable requestFailure = r.getRequestFailure();
        org.eclipse.jetty.http.HttpException bad = null;
        for (Throwable t = requestFailure; t != null && bad == null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof org.eclipse.jetty.http.HttpException) {
                bad = (org.eclipse.jetty.http.HttpException) t;
            }
        }
        if (bad != null && bad.getCode() >= 400 && bad.getCode() < 500 && r.getResponse().getStatus() <= 0) {
            // the client's body was malformed (bad chunk framing) or too slow (408): its fault, not the upstream's
            boolean slow = bad.getCode() == 408;
            relay.answer(exchange, clientResponse, done, slow ? 408 : 400,
                    slow ? bad.getReason() : "malformed request body: " + bad.getReason(), "http_request_error", null, true);
            return;
        }
        Failures.Classified c = Failures.classify(failure);
        if (Failures.isDeniedDestination(failure)) {
            exchange.deny(); // the internal-destination check after DNS: a refusal, not an upstream failure
        }
        String what = exchange.mode() == Mode.FORWARD ? exchange.requestImpl().authority() : "upstream " + exchange.upstream();
        relay.answer(exchange, clientResponse, done, c.status(), what + ": " + c.description(), c.proxyStatusError(),
                null, false);
    }

    private void blocked(org.eclipse.jetty.client.Response upstreamResponse, BodyFilterChain filters) {
        takeOver(upstreamResponse, new CancellationException("response body blocked: " + filters.blockReason()));
        if (!clientResponse.isCommitted()) {
            clientResponse.reset();
            relay.answer(exchange, clientResponse, done, filters.blockStatus(), filters.blockReason(), null, null, false);
        } else {
            exchange.reason(filters.blockReason());
            LOG.info("{} response blocked after it began ({}); aborting the client response", exchange.id(),
                    filters.blockReason());
            done.failed(new CancellationException("response blocked: " + filters.blockReason()));
        }
    }

    /** Stops relaying: the upstream is aborted and whoever called this drives the client response from now on. */
    private void takeOver(org.eclipse.jetty.client.Response upstreamResponse, Throwable reason) {
        abortedByUs = true;
        handedOff = true;
        finished.set(true);
        abortCacheWriter(reason);
        upstreamResponse.abort(reason);
    }

    /**
     * The client went away. With a chunk pending ({@code demander} not null) and a cache writer that wants the rest
     * of the body, the client's exchange ends here and the upstream goes on into the writer alone; otherwise the
     * upstream is aborted.
     */
    private void clientGone(org.eclipse.jetty.client.Response upstreamResponse, Throwable failure, Runnable demander) {
        clientFailure = failure;
        if (demander != null && !detached && wantsMoreWithoutClient()) {
            detached = true;
            if (finished.compareAndSet(false, true)) {
                LOG.info("{} client went away during the response; the cache goes on reading the upstream body: {}",
                        exchange.id(), Failures.describe(failure));
                done.failed(failure);
            }
            demander.run();
            return;
        }
        upstreamResponse.abort(failure);
        finish();
    }

    /** Detached: the next upstream chunk goes to the cache writer only; the one after is read if it still wants it. */
    private void feedDetached(org.eclipse.jetty.client.Response upstreamResponse, ByteBuffer data, Runnable demander) {
        CacheWriter writer = cacheWriter;
        if (writer != null) {
            try {
                writer.write(data.asReadOnlyBuffer());
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed; the response is no longer stored: {}", exchange.id(), Failures.describe(e));
                abortCacheWriter(e);
            }
        }
        if (wantsMoreWithoutClient()) {
            demander.run();
            return;
        }
        CancellationException stop = new CancellationException("the cache needs no more of a body whose client went away");
        abortCacheWriter(stop);
        upstreamResponse.abort(stop);
    }

    /** Whether the cache writer asks for more of the body now that the client is gone (false when there is none). */
    private boolean wantsMoreWithoutClient() {
        CacheWriter writer = cacheWriter;
        if (writer == null) {
            return false;
        }
        try {
            return writer.continueWithoutClient();
        } catch (RuntimeException e) {
            LOG.warn("{} cache writer failed in continueWithoutClient: {}", exchange.id(), Failures.describe(e));
            return false;
        }
    }

    private void abortCacheWriter(Throwable cause) {
        CacheWriter writer = cacheWriter;
        if (writer != null) {
            cacheWriter = null;
            try {
                writer.abort(cause);
            } catch (RuntimeException e) {
                LOG.warn("{} cache writer failed to abort: {}", exchange.id(), Failures.describe(e));
            }
        }
    }
}
