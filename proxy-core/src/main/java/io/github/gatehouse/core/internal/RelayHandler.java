package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AuthResult;
import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Credentials;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.Verdict;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life of an exchange, phase by phase (DESIGN.md "The life of an exchange"):
 * <ol>
 *   <li>{@link #handle}: request head checks (header count, forwarding loop) -> 400/431/508</li>
 *   <li>{@link #resolveTarget}: absolute-form or CONNECT authority (forward), route match (reverse) -> 400/404</li>
 *   <li>{@link #authenticate} -> 407 / 401 / 403</li>
 *   <li>{@link #runRequestFilters}, in builder order -> the filter's answer</li>
 *   <li>{@link #lookupCache}: hit -> {@link CachedResponseSender}</li>
 *   <li>{@link #pickUpstream} from the route's pool</li>
 *   <li>{@link UpstreamRelay}: the upstream request with the streamed body -> 502 / 504</li>
 *   <li>response head filters and the cache's store decision ({@link #prepareResponse})</li>
 *   <li>the response body, streamed through body filters and into the cache</li>
 *   <li>{@link ExchangeCallback}: access log line, per-exchange state released</li>
 * </ol>
 * {@code CONNECT} goes through phases 1 to 4, then to Jetty's {@code ConnectHandler} (the wrapped handler).
 */
final class RelayHandler extends Handler.Wrapper {
    private static final Logger LOG = LoggerFactory.getLogger(RelayHandler.class);
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0).asReadOnlyBuffer();

    private final ProxyConfig config;
    private final String via10;
    private final String via11;
    private final HttpClient forwardClient;
    private final HttpClient reverseClient;
    private final String idPrefix = String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    private final AtomicLong ids = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private volatile Scheduler scheduler;
    private volatile Deadlines deadlines;

    RelayHandler(ProxyConfig config, HttpClient forwardClient, HttpClient reverseClient, Scheduler scheduler,
            Handler connectHandler) {
        super(connectHandler);
        this.config = config;
        this.via10 = "1.0 " + config.viaName();
        this.via11 = "1.1 " + config.viaName();
        this.forwardClient = forwardClient;
        this.reverseClient = reverseClient;
        this.scheduler = scheduler;
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        deadlines = new Deadlines(scheduler);
        deadlines.start();
    }

    @Override
    protected void doStop() throws Exception {
        Deadlines d = deadlines;
        if (d != null) {
            d.stop();
        }
        super.doStop();
    }

    /** A new exchange id: this server's random prefix and a counter. */
    String nextId() {
        return idPrefix + "-" + ids.incrementAndGet();
    }

    /** Exchanges started and not yet completed (CONNECT tunnels count until established). */
    int inFlight() {
        return inFlight.get();
    }

    Deadlines deadlines() {
        return deadlines;
    }

    ProxyConfig config() {
        return config;
    }

    /** This proxy's {@code Via} element for a message of HTTP/1.0 or HTTP/1.1, built once. */
    String via(boolean http10) {
        return http10 ? via10 : via11;
    }

    /** The upstream client for a mode: forward requests go through the destination policy, reverse ones do not. */
    HttpClient client(Mode mode) {
        return mode == Mode.REVERSE ? reverseClient : forwardClient;
    }


    // ---- phase 1: the request head ------------------------------------------------------------------------

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        TargetFormConnectionFactory.headReceived(request);
        String rawTarget = TargetFormConnectionFactory.rawTarget(request);
        ExchangeImpl exchange = new ExchangeImpl(nextId(), request.getMethod(),
                address(request.getConnectionMetaData().getRemoteSocketAddress()),
                address(request.getConnectionMetaData().getLocalSocketAddress()),
                rawTarget != null ? rawTarget : request.getHttpURI().asString());
        inFlight.incrementAndGet();
        ExchangeCallback done = new ExchangeCallback(exchange, request, response, callback);
        try {
            checkHead(exchange, request, response, done, rawTarget);
        } catch (Throwable t) {
            LOG.error("{} failed unexpectedly in the relay", exchange.id(), t);
            internalError(exchange, response, done, "proxy internal error");
        }
        return true;
    }

    private void checkHead(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done,
            String rawTarget) {
        HttpFields fields = request.getHeaders();
        if (fields.size() > config.maxRequestHeaders()) {
            answer(exchange, response, done, 431, "too many header fields (" + fields.size() + ", limit "
                    + config.maxRequestHeaders() + ")", null, null, true);
            return;
        }
        if (HttpVersion.HTTP_1_0.is(request.getConnectionMetaData().getProtocol()) && fields.contains(HttpHeader.TRANSFER_ENCODING)) {
            // RFC 9112 §6.1: framing of an HTTP/1.0 message with Transfer-Encoding is faulty
            answer(exchange, response, done, 400, "Transfer-Encoding in an HTTP/1.0 request", "http_request_error", null, true);
            return;
        }
        for (HttpField via : fields.contains(HttpHeader.VIA) ? fields.getFields(HttpHeader.VIA) : List.<HttpField>of()) {
            if (containsViaToken(via.getValue(), config.viaName())) {
                answer(exchange, response, done, 508, "forwarding loop detected: the request already passed through "
                        + config.viaName(), "proxy_loop_detected", null, true);
                return;
            }
        }
        resolveTarget(exchange, request, response, done, rawTarget);
    }

    static boolean containsViaToken(String via, String name) {
        if (via == null) {
            return false;
        }
        for (String element : via.split(",")) {
            String[] parts = element.trim().split("\\s+");
            if (parts.length >= 2 && parts[1].equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    // ---- phase 2: the target ------------------------------------------------------------------------------

    private void resolveTarget(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done,
            String rawTarget) {
        String method = request.getMethod();
        HttpURI uri = request.getHttpURI();
        String version = request.getConnectionMetaData().getProtocol();

        if ("CONNECT".equals(method)) {
            resolveConnect(exchange, request, response, done, uri, version);
            return;
        }
        if ("*".equals(rawTarget)) {
            if ("OPTIONS".equals(method)) {
                HttpHeaders allow = new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT");
                answer(exchange, response, done, 200, "OK", null, allow, false);
            } else {
                answer(exchange, response, done, 400, "request target * is only valid for OPTIONS", "http_request_error", null, true);
            }
            return;
        }
        boolean absoluteForm = rawTarget != null && !rawTarget.startsWith("/");
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            answer(exchange, response, done, 400, "request has no target host (expected: a Host header or an absolute URI)",
                    "http_request_error", null, true);
            return;
        }
        String rawPath = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        if (hasDotSegment(rawPath)) {
            answer(exchange, response, done, 400, "path has dot segments (expected: a normalised path)",
                    "http_request_error", null, true);
            return;
        }
        String query = uri.getQuery();

        // An absolute-form target wins over Host (RFC 9112 §3.2.2): the relay routes by the target alone and
        // regenerates Host from it, so a differing Host never reaches the origin beside it.

        Mode mode;
        Route route = null;
        URI target;
        if (absoluteForm && config.forward()) {
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https")) {
                answer(exchange, response, done, 400, "unsupported scheme '" + scheme + "' (expected: http or https)",
                        "http_request_error", null, true);
                return;
            }
            mode = Mode.FORWARD;
            target = tryBuildUri(exchange, response, done, scheme, uri.getHost(), uri.getPort(), rawPath, query);
            if (target == null) {
                return;
            }
        } else {
            String host = RequestHeadImpl.normalizeHost(uri.getHost());
            for (Route r : config.routes()) {
                if (r.matches(host, rawPath)) {
                    route = r;
                    break;
                }
            }
            if (route == null) {
                if (config.forward() && !absoluteForm) {
                    answer(exchange, response, done, 400, "not a proxy request: origin-form target " + rawPath
                            + " (expected: absolute-form such as GET http://host/path)", "http_request_error", null, true);
                } else {
                    answer(exchange, response, done, 404, "no route for " + host + rawPath, "destination_not_found",
                            null, false);
                }
                return;
            }
            mode = Mode.REVERSE;
            String scheme = request.isSecure() ? "https" : "http";
            target = tryBuildUri(exchange, response, done, scheme, uri.getHost(), uri.getPort(), rawPath, query);
            if (target == null) {
                return;
            }
        }
        exchange.mode(mode);
        exchange.route(route);
        String credentialHeader = config.authenticator() == null ? null
                : (mode == Mode.REVERSE ? "Authorization" : "Proxy-Authorization");
        RequestHeadImpl head;
        try {
            head = new RequestHeadImpl(method, version, target,
                    HeaderRules.clientRequestFields(request.getHeaders(), credentialHeader), HeaderRules.hasBody(request));
        } catch (IllegalArgumentException e) {
            answer(exchange, response, done, 400, "invalid target host '" + uri.getHost() + "'", "http_request_error", null, true);
            return;
        }
        exchange.request(head);
        String https = HttpsRedirect.location(request, route, uri.getHost(), rawPath, query);
        if (https != null) { // Route.redirectToHttps(), on the plain listener: before credentials are asked for
            answer(exchange, response, done, 308, "use " + https, null, new HttpHeaders().add("Location", https), false);
            return;
        }

        if ("TRACE".equals(method) || "OPTIONS".equals(method)) {
            if (!applyMaxForwards(exchange, request, response, done)) {
                return;
            }
        }
        authenticate(exchange, request, response, done);
    }

    private void resolveConnect(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done,
            HttpURI uri, String version) {
        if (!config.forward()) {
            answer(exchange, response, done, 405, "CONNECT is not accepted by this reverse proxy", null,
                    new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"), true);
            return;
        }
        String host = uri.getHost();
        int port = uri.getPort();
        if (host == null || host.isEmpty() || port <= 0) {
            answer(exchange, response, done, 400, "CONNECT target must be host:port", "http_request_error", null, true);
            return;
        }
        if (!config.connectPorts().contains(port)) {
            exchange.deny();
            answer(exchange, response, done, 403, "CONNECT to port " + port + " is not allowed (allowed: "
                    + config.connectPorts() + ")", "destination_ip_prohibited", null, true);
            return;
        }
        exchange.mode(Mode.TUNNEL);
        URI target = tryBuildUri(exchange, response, done, "https", host, port, "", null);
        if (target == null) {
            return;
        }
        try {
            exchange.request(new RequestHeadImpl("CONNECT", version, target, HeaderRules.clientRequestFields(request.getHeaders(), null)));
        } catch (IllegalArgumentException e) {
            answer(exchange, response, done, 400, "invalid CONNECT host '" + host + "'", "http_request_error", null, true);
            return;
        }
        authenticate(exchange, request, response, done);
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

    private static boolean hasDotSegment(String rawPath) {
        if (rawPath.indexOf('.') < 0 && rawPath.indexOf('%') < 0) {
            return false; // the common case, without allocating
        }
        String p = rawPath.toLowerCase(Locale.ROOT).replace("%2e", ".");
        for (String segment : p.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /** Builds the target URI, or answers 400 and returns null when the URI syntax refuses the host or path. */
    private URI tryBuildUri(ExchangeImpl exchange, Response response, ExchangeCallback done, String scheme, String host,
            int port, String rawPath, String query) {
        try {
            return buildUri(scheme, host, port, rawPath, query);
        } catch (IllegalArgumentException e) {
            answer(exchange, response, done, 400, "invalid request target", "http_request_error", null, true);
            return null;
        }
    }

    /** Builds an absolute URI; a host or path the URI syntax refuses gives an {@link IllegalArgumentException}. */
    private static URI buildUri(String scheme, String host, int port, String rawPath, String query) {
        String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        StringBuilder sb = new StringBuilder(scheme).append("://").append(h);
        if (port > 0) {
            sb.append(':').append(port);
        }
        sb.append(rawPath);
        if (query != null) {
            sb.append('?').append(query);
        }
        return URI.create(sb.toString());
    }

    /** Max-Forwards (RFC 9110 §7.6.2) for TRACE and OPTIONS: answer here at 0, else decrement. */
    private boolean applyMaxForwards(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        HttpHeaders headers = exchange.requestImpl().headers();
        String value = headers.get("Max-Forwards");
        if (value == null) {
            return true;
        }
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0) {
            answer(exchange, response, done, 400, "invalid Max-Forwards: " + value, "http_request_error", null, true);
            return false;
        }
        if (n > 0) {
            headers.set("Max-Forwards", Long.toString(Math.min(n - 1, Integer.MAX_VALUE)));
            return true;
        }
        if ("OPTIONS".equals(exchange.request().method())) {
            answer(exchange, response, done, 200, "OK", null,
                    new HttpHeaders().add("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE"), false);
        } else {
            traceEcho(exchange, request, response, done);
        }
        return false;
    }

    /** Answers TRACE with the request as received, minus credentials and cookies (RFC 9110 §9.3.8). */
    private void traceEcho(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        StringBuilder sb = new StringBuilder();
        sb.append("TRACE ").append(exchange.originalTarget()).append(' ').append(exchange.request().version()).append("\r\n");
        for (HttpField f : request.getHeaders()) {
            String n = f.getLowerCaseName();
            if (n.equals("authorization") || n.equals("proxy-authorization") || n.equals("cookie")) {
                continue;
            }
            sb.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
        }
        sb.append("\r\n");
        byte[] body = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "message/http");
        response.getHeaders().put(HttpHeader.VIA, via11);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), done);
    }

    // ---- phase 3: authentication --------------------------------------------------------------------------

    private void authenticate(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        if (config.authenticator() == null) {
            runRequestFilters(exchange, request, response, done);
            return;
        }
        boolean reverse = exchange.mode() == Mode.REVERSE;
        String header = reverse ? "Authorization" : "Proxy-Authorization";
        Optional<Credentials> credentials = Credentials.parse(request.getHeaders().get(header));
        CompletionStage<AuthResult> stage;
        try {
            stage = config.authenticator().authenticate(credentials, exchange);
        } catch (RuntimeException e) {
            if (isOverload(e)) {
                authenticationOverloaded(exchange, response, done, e);
                return;
            }
            LOG.error("{} authenticator {} threw", exchange.id(), config.authenticator(), e);
            internalError(exchange, response, done, "authentication failed");
            return;
        }
        if (stage == null) {
            LOG.error("{} authenticator {} returned null (expected: a CompletionStage)", exchange.id(), config.authenticator());
            internalError(exchange, response, done, "authentication failed");
            return;
        }
        stage.whenComplete((result, failure) -> {
            try {
                if (failure != null && isOverload(failure)) {
                    authenticationOverloaded(exchange, response, done, failure);
                    return;
                }
                if (failure != null || result == null) {
                    LOG.error("{} authenticator {} failed", exchange.id(), config.authenticator(), failure);
                    internalError(exchange, response, done, "authentication failed");
                    return;
                }
                switch (result.kind()) {
                    case AUTHENTICATED:
                        exchange.user(result.user().orElseThrow());
                        runRequestFilters(exchange, request, response, done);
                        break;
                    case CHALLENGE:
                        exchange.deny();
                        HttpHeaders h = new HttpHeaders().add(reverse ? "WWW-Authenticate" : "Proxy-Authenticate",
                                result.challenge().orElseThrow());
                        answerUnread(exchange, request, response, done, reverse ? 401 : 407, result.reason(), h);
                        break;
                    default:
                        exchange.deny();
                        answerUnread(exchange, request, response, done, 403, result.reason(), null);
                }
            } catch (Throwable t) {
                LOG.error("{} failed after authentication", exchange.id(), t);
                internalError(exchange, response, done, "proxy internal error");
            }
        });
    }

    /** An authenticator out of capacity (its pool full) says so with a {@code RejectedExecutionException}. */
    private static boolean isOverload(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.util.concurrent.RejectedExecutionException) {
                return true;
            }
        }
        return false;
    }

    private void authenticationOverloaded(ExchangeImpl exchange, Response response, ExchangeCallback done, Throwable failure) {
        LOG.warn("{} authenticator {} is overloaded ({}); answering 503", exchange.id(), config.authenticator(),
                Failures.describe(failure));
        answer(exchange, response, done, 503, "authentication is overloaded; retry shortly", "proxy_internal_error",
                new HttpHeaders().add("Retry-After", "1"), false);
    }

    // ---- phase 4: request filters -------------------------------------------------------------------------

    private void runRequestFilters(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        List<ProxyFilter> filters = config.filters();
        for (int i = 0; i < filters.size(); i++) {
            ProxyFilter filter = filters.get(i);
            Verdict verdict;
            try {
                verdict = filter.onRequest(exchange);
            } catch (RuntimeException e) {
                LOG.error("{} filter {} threw from onRequest", exchange.id(), filter, e);
                internalError(exchange, response, done, "request filter failed");
                return;
            }
            if (verdict == null) {
                LOG.error("{} filter {} returned null from onRequest (expected: a Verdict)", exchange.id(), filter);
                internalError(exchange, response, done, "request filter failed");
                return;
            }
            if (!verdict.proceeds()) {
                if (verdict.status() >= 400) {
                    exchange.deny(); // a filter's 2xx/3xx answer (a redirect, a canned page) is not a refusal
                }
                answerUnread(exchange, request, response, done, verdict.status(), verdict.reason(), verdict.headers());
                return;
            }
            exchange.filtersPassed(i + 1);
        }
        if (exchange.mode() == Mode.TUNNEL) {
            openTunnel(exchange, request, response, done);
        } else {
            lookupCache(exchange, request, response, done);
        }
    }

    private void openTunnel(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        exchange.upstream(exchange.requestImpl().authority());
        try {
            if (!super.handle(request, response, done)) {
                answer(exchange, response, done, 400, "CONNECT could not be handled", "http_request_error", null, true);
            }
        } catch (Exception e) {
            LOG.info("{} CONNECT {} failed: {}", exchange.id(), exchange.requestImpl().authority(), Failures.describe(e));
            if (!response.isCommitted()) {
                answer(exchange, response, done, 502, "tunnel failed", "proxy_internal_error", null, true);
            } else {
                done.failed(e);
            }
        }
    }

    // ---- phase 5: cache -----------------------------------------------------------------------------------

    private void lookupCache(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done) {
        if (config.cache() == null) {
            pickUpstream(exchange, request, response, done, CacheLookup.miss());
            return;
        }
        CompletionStage<CacheLookup> stage;
        try {
            stage = config.cache().lookup(exchange);
        } catch (RuntimeException e) {
            LOG.error("{} cache lookup threw; going upstream", exchange.id(), e);
            stage = null;
        }
        if (stage == null) {
            pickUpstream(exchange, request, response, done, CacheLookup.miss());
            return;
        }
        stage.whenComplete((lookup, failure) -> {
            try {
                if (failure != null || lookup == null) {
                    LOG.warn("{} cache lookup failed; going upstream: {}", exchange.id(),
                            failure == null ? "null lookup" : Failures.describe(failure));
                    pickUpstream(exchange, request, response, done, CacheLookup.miss());
                } else if (lookup.kind() == CacheLookup.Kind.HIT) {
                    new CachedResponseSender(this, exchange, request, response, done)
                            .send(lookup.response().orElseThrow());
                } else {
                    pickUpstream(exchange, request, response, done, lookup);
                }
            } catch (Throwable t) {
                LOG.error("{} failed after cache lookup", exchange.id(), t);
                internalError(exchange, response, done, "proxy internal error");
            }
        });
    }

    // ---- phase 6: upstream choice -------------------------------------------------------------------------

    private void pickUpstream(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done,
            CacheLookup lookup) {
        RequestHeadImpl head = exchange.requestImpl();
        if (exchange.mode() != Mode.REVERSE) {
            exchange.upstream(head.authority());
            exchange.tries(1);
            new UpstreamRelay(this, exchange, request, response, done, lookup, UpstreamRelay.Target.of(head.uri()), null,
                    null, null).send();
            return;
        }
        Route route = exchange.route().orElseThrow();
        UpstreamPool pool = route.pool().orElseThrow();
        UpstreamPool.Internals.earnRetryBudget(pool);
        long length = request.getLength();
        long replayable = pool.retryPolicy().retries() > 0 ? pool.retryPolicy().replayableBodySize().toBytes() : 0;
        if (length > 0 && length <= replayable) {
            BodyBuffer.read(request, exchange, (int) length,
                    body -> sendToPool(exchange, request, response, done, lookup, new Tries(route, pool, body), null),
                    failure -> answer(exchange, response, done, failure instanceof BodyRateHandler.SlowBodyException ? 408 : 400,
                            failure instanceof BodyRateHandler.SlowBodyException ? ((BodyRateHandler.SlowBodyException) failure).getReason()
                                    : "request body could not be read: " + Failures.describe(failure),
                            "http_request_error", null, true));
            return;
        }
        sendToPool(exchange, request, response, done, lookup, new Tries(route, pool, null), null);
    }

    /**
     * Phase 6 for reverse routes: picks a member not tried yet and sends to it. Returns false (having answered
     * nothing) when {@code previousFailure} is set and no other member may take the retry; answers 503 itself when
     * no member is available for a first try.
     */
    boolean sendToPool(ExchangeImpl exchange, Request request, Response response, ExchangeCallback done,
            CacheLookup lookup, Tries tries, Throwable previousFailure) {
        Optional<UpstreamMember> picked = Optional.empty();
        String sticky = tries.route.stickyCookie().orElse(null);
        String stickyValue = sticky == null ? null : cookieValue(exchange.requestImpl().headers(), sticky);
        if (stickyValue != null) {
            for (UpstreamMember m : tries.pool.members()) {
                if (m instanceof MemberState && ((MemberState) m).id().equals(stickyValue) && m.isAvailable()
                        && !tries.tried.contains(m)) {
                    picked = Optional.of(m);
                }
            }
        }
        try {
            if (picked.isEmpty()) {
                picked = tries.pool.select(exchange, tries.tried);
            }
        } catch (RuntimeException e) {
            LOG.error("{} load balancer {} threw", exchange.id(), tries.pool.balancer(), e);
            picked = Optional.empty();
        }
        if (picked.isEmpty() || !(picked.get() instanceof MemberState)) {
            if (previousFailure != null) {
                return false;
            }
            Optional<CachedResponse> stale = Optional.empty();
            if (config.cache() != null) {
                try {
                    stale = config.cache().onUpstreamFailure(exchange, lookup,
                            new java.net.ConnectException("no upstream available"));
                } catch (RuntimeException e) {
                    LOG.error("{} cache onUpstreamFailure threw", exchange.id(), e);
                }
            }
            if (stale != null && stale.isPresent()) {
                new CachedResponseSender(this, exchange, request, response, done).send(stale.get());
            } else {
                boolean overloaded = tries.pool.members().stream().anyMatch(m -> m.isAvailable());
                answer(exchange, response, done, 503, overloaded
                        ? "every upstream of " + tries.route + " is at its request limit"
                        : "no healthy upstream for " + tries.route, "destination_unavailable",
                        new HttpHeaders().add("Retry-After", "1"), false);
            }
            return true;
        }
        MemberState member = (MemberState) picked.get();
        if (sticky != null && !member.id().equals(stickyValue)) {
            exchange.stickySetCookie(sticky + "=" + member.id() + "; Path=/; HttpOnly");
        } else {
            exchange.stickySetCookie(null);
        }
        tries.tried.add(member);
        tries.count++;
        exchange.tries(tries.count);
        RequestHeadImpl head = exchange.requestImpl();
        Upstream upstream = member.upstream();
        String path = tries.route.rewritePath(head.path());
        String q = head.query();
        UpstreamRelay.Target upstreamUri = new UpstreamRelay.Target(upstream.uri().getScheme(), upstream.host(),
                upstream.port(), upstream.basePath() + path + (q == null ? "" : "?" + q));
        exchange.upstream(upstream.authority());
        String hostHeader;
        switch (tries.route.hostHeaderPolicy()) {
            case UPSTREAM:
                hostHeader = upstream.authority();
                break;
            case FIXED:
                hostHeader = tries.route.fixedHost().orElseThrow();
                break;
            default:
                String h = head.host().indexOf(':') >= 0 ? "[" + head.host() + "]" : head.host();
                int defaultPort = head.scheme().equals("https") ? 443 : 80;
                hostHeader = head.port() == defaultPort ? h : h + ":" + head.port();
        }
        new UpstreamRelay(this, exchange, request, response, done, lookup, upstreamUri, hostHeader, member, tries).send();
        return true;
    }

    // ---- phase 8: response head (shared by upstream and cached responses) ---------------------------------

    /**
     * Runs response filters in reverse order over {@code head}, applies it to the client response and returns the
     * body filter chain the filters asked for (or null). Returns {@link Optional#empty()} wrapped in a failure
     * signal when a filter failed: the caller then answers 500.
     */
    BodyFilterChain prepareResponse(ExchangeImpl exchange, Response response, ResponseHeadImpl head, boolean hasBody) {
        List<ProxyFilter> filters = config.filters();
        List<BodyFilter> bodyFilters = null;
        for (int i = exchange.filtersPassed() - 1; i >= 0; i--) {
            ProxyFilter filter = filters.get(i);
            filter.onResponse(exchange, head);
        }
        if (hasBody) {
            for (int i = exchange.filtersPassed() - 1; i >= 0; i--) {
                ProxyFilter filter = filters.get(i);
                Optional<BodyFilter> bf = filter.responseBody(exchange, head);
                if (bf != null && bf.isPresent()) {
                    if (bodyFilters == null) {
                        bodyFilters = new ArrayList<>(2);
                    }
                    bodyFilters.add(bf.get());
                }
            }
        }
        response.setStatus(head.status());
        HttpFields.Mutable out = response.getHeaders();
        head.headers().forEachField(out::add);
        int status = head.status();
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

    // ---- answers ------------------------------------------------------------------------------------------

    void answer(ExchangeImpl exchange, Response response, Callback done, int status, String reason,
            String proxyStatusError, HttpHeaders extra, boolean close) {
        exchange.reason(reason);
        if (LOG.isInfoEnabled()) {
            LOG.info("{} {} {} -> {} {}", exchange.id(), exchange.method(),
                    exchange.originalTarget(), status, reason);
        }
        if (response.isCommitted()) {
            done.failed(new IllegalStateException("cannot answer " + status + ": response already committed"));
            return;
        }
        // A refused CONNECT closes the connection: the client may already be sending tunnel bytes.
        boolean closeAfter = close || "CONNECT".equals(exchange.method());
        PlainTextResponses.write(response, done, config.viaName(), status, reason, proxyStatusError, extra, closeAfter);
    }

    /**
     * {@link #answer} from a phase before the request body is read (authentication, request filters): a short
     * unread body is drained so the connection survives for the client's retry, a long one closes it (see
     * {@link UnreadRequestBody}).
     */
    private void answerUnread(ExchangeImpl exchange, Request request, Response response, Callback done, int status,
            String reason, HttpHeaders extra) {
        if ("CONNECT".equals(exchange.method()) || !UnreadRequestBody.isPending(request)) {
            answer(exchange, response, done, status, reason, null, extra, false);
        } else if (UnreadRequestBody.isDrainable(request)) {
            answer(exchange, response, UnreadRequestBody.drainThen(request, exchange, done), status, reason, null, extra, false);
        } else {
            answer(exchange, response, done, status, reason, null, extra, true);
        }
    }

    void internalError(ExchangeImpl exchange, Response response, Callback done, String reason) {
        answer(exchange, response, done, 500, reason, "proxy_internal_error", null, false);
    }

    static InetSocketAddress address(SocketAddress address) {
        return address instanceof InetSocketAddress ? (InetSocketAddress) address
                : InetSocketAddress.createUnresolved("0.0.0.0", 0);
    }

    static ByteBuffer empty() {
        return EMPTY;
    }

    // ---- phase 10: the end of an exchange ------------------------------------------------------------------

    /**
     * Completes the exchange exactly once: writes the access-log line, then completes Jetty's callback. For an
     * established {@code CONNECT} tunnel the line waits until the tunnel closes ({@link #tunnelEstablished},
     * {@link #tunnelClosed}); the exchange stops counting as in flight when the tunnel is established.
     */
    final class ExchangeCallback implements Callback {
        private final ExchangeImpl exchange;
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final AtomicBoolean completed = new AtomicBoolean();
        private volatile Head tunnelHead;
        private final AtomicBoolean tunnelLogged = new AtomicBoolean();

        ExchangeCallback(ExchangeImpl exchange, Request request, Response response, Callback callback) {
            this.exchange = exchange;
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        ExchangeImpl exchange() {
            return exchange;
        }

        /**
         * The tunnel is set up and its {@code 200} is about to go: this callback's success then writes no line;
         * {@link #tunnelClosed} writes it. What the line needs from the request is read now, while it is valid.
         */
        void tunnelEstablished(int status) {
            tunnelHead = head(true, status);
        }

        /** Both sides of the tunnel have closed: writes its one line with the bytes each way and the whole duration. */
        void tunnelClosed(long bytesToOrigin, long bytesToClient, Throwable cause) {
            Head head = tunnelHead;
            if (head == null || !tunnelLogged.compareAndSet(false, true)) {
                return;
            }
            exchange.addBytesIn(bytesToOrigin);
            if (cause != null && exchange.reason() == null) {
                exchange.reason("tunnel closed: " + Failures.describe(cause));
            }
            write(head, bytesToOrigin, bytesToClient, cause == null);
        }

        @Override
        public void succeeded() {
            if (completed.compareAndSet(false, true)) {
                inFlight.decrementAndGet();
                if (tunnelHead == null) {
                    log(true, null);
                }
                if (!"CONNECT".equals(exchange.method())) {
                    TargetFormConnectionFactory.exchangeEnded(request);
                }
                callback.succeeded();
            }
        }

        @Override
        public void failed(Throwable failure) {
            if (completed.compareAndSet(false, true)) {
                inFlight.decrementAndGet();
                if (exchange.reason() == null) {
                    exchange.reason(Failures.describe(failure));
                }
                tunnelHead = null; // a tunnel whose set-up failed is logged now, as the failure it is
                log(false, failure);
                callback.failed(failure);
            }
        }

        @Override
        public InvocationType getInvocationType() {
            return InvocationType.NON_BLOCKING;
        }

        private void log(boolean ok, Throwable failure) {
            if (config.accessLog() == NoAccessLog.INSTANCE) {
                return;
            }
            try {
                write(head(ok, response.isCommitted() || ok ? response.getStatus() : 0), exchange.bytesIn(),
                        Response.getContentBytesWritten(response), ok);
            } catch (RuntimeException e) {
                LOG.error("{} access log failed", exchange.id(), e);
            }
        }

        /** What the line needs from Jetty's request, read while it is valid (it is recycled after the exchange). */
        private Head head(boolean ok, int status) {
            HttpFields h = request.getHeaders();
            String method = request.getMethod();
            String target = "CONNECT".equals(method) ? exchange.originalTarget()
                    : exchange.request() != null ? exchange.request().uri().toString() : exchange.originalTarget();
            return new Head(method, target, request.getConnectionMetaData().getProtocol(), status,
                    h.get(HttpHeader.REFERER), h.get(HttpHeader.USER_AGENT));
        }

        private void write(Head head, long bytesIn, long bytesOut, boolean ok) {
            if (config.accessLog() == NoAccessLog.INSTANCE) {
                return;
            }
            try {
                InetSocketAddress client = exchange.clientAddress();
                String clientIp = client.getAddress() != null ? client.getAddress().getHostAddress() : client.getHostString();
                config.accessLog().log(new AccessLogEntry(exchange.id(), exchange.startTime(),
                        Duration.ofNanos(System.nanoTime() - exchange.startNanos()), clientIp,
                        exchange.user().orElse(null), head.method(), head.target(), head.protocol(), head.status(),
                        bytesIn, bytesOut, exchange.upstream(), exchange.cacheStatus().orElse(null), head.referer(),
                        head.userAgent(), exchange.reason(), ok, exchange.tries(), exchange.denied()));
            } catch (RuntimeException e) {
                LOG.error("{} access log failed", exchange.id(), e);
            }
        }
    }

    /** The request-side facts of an access-log line. */
    private record Head(String method, String target, String protocol, int status, String referer, String userAgent) {
    }
}
