package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.UpstreamPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.io.ssl.SslClientConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phase 7 and 8 of an upgrade request ({@link UpgradePhase}), on a connection of its own to the upstream (TLS for an
 * {@code https://} upstream, after a PROXY protocol header when the pool sends one): writes the
 * request head (the client's end-to-end fields, {@code Upgrade} and {@code Connection: upgrade}, {@code Via} and, on
 * reverse routes, the forwarding fields), then reads the response head with Jetty's parser.
 * <ul>
 *   <li>{@code 101}: the head (its end-to-end fields, the origin's {@code Upgrade}, {@code Connection: upgrade},
 *   {@code Via}) goes to the client, together with any bytes the origin sent right behind it, and both connections
 *   become the tunnel of {@link GatehouseConnectHandler} (backpressure both ways, idle timeout, half-close, one
 *   access-log line with status 101, the bytes each way and the duration when both sides have closed).</li>
 *   <li>Anything else: an ordinary response (response filters, body filters, {@link BodyRelay}), never stored; the
 *   connection closes after it.</li>
 * </ul>
 * Connect failures, an upstream that closes or times out before its head, and an invalid head are 502/504 answers.
 * Upgrades are not retried.
 *
 * <p><b>Threading.</b> The resolver, the selector and the client's write callbacks call in on different threads; the
 * response is read by one pump at a time ({@link #pump}), and the exchange's state settles races with the client.
 */
final class UpgradeCall implements BodyRelay.Source, HttpParser.ResponseHandler {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeCall.class);
    private static final int BUFFER_SIZE = 16 * 1024;

    private final RelayHandler relay;
    private final GatehouseConnectHandler tunnels;
    private final ExchangeContext x;
    private final ExchangeImpl exchange;
    private final MemberState member;
    private final HttpParser parser;
    private final HttpFields.Mutable upstreamFields = HttpFields.build();
    private final ByteBuffer buffer = BufferUtil.allocate(BUFFER_SIZE);
    private final AtomicInteger pumps = new AtomicInteger();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final AtomicBoolean accounted = new AtomicBoolean();

    private volatile Handshake connection;
    private volatile Deadlines.Handle headTimeout;
    private volatile BodyRelay body;
    private volatile boolean writing;
    private volatile long sentNanos;
    private volatile long headNanos = -1;
    // parser events, read by the pump right after parseNext returns (same thread)
    private int status;
    private HttpVersion version;
    private boolean headComplete;
    private boolean messageComplete;
    private ByteBuffer content;
    private Throwable parseFailure;
    private boolean emptyParsed;

    /** TLS to the upstream, or null for cleartext. */
    private final SslContextFactory.Client tls;
    private final String host;
    private final int port;
    /** A PROXY protocol header written before anything else (before TLS too), or null. */
    private final ByteBuffer preface;

    /**
     * @param tls the TLS settings for an {@code https://} upstream, null for cleartext
     * @param host the upstream's host (no brackets): the TLS peer name (SNI and endpoint identification)
     * @param preface the PROXY protocol header to write first, or null
     */
    UpgradeCall(RelayHandler relay, GatehouseConnectHandler tunnels, ExchangeContext x, SslContextFactory.Client tls,
            String host, int port, ByteBuffer preface) {
        this.tls = tls;
        this.host = host;
        this.port = port;
        this.preface = preface;
        this.relay = relay;
        this.tunnels = tunnels;
        this.x = x;
        this.exchange = x.exchange;
        this.member = x.member;
        this.parser = new HttpParser(this, relay.config().maxResponseHeaderSize());
    }

    /** The try starts (member accounting, timing). */
    void begin() {
        if (member != null) {
            member.begin();
        }
        sentNanos = System.nanoTime();
    }

    /**
     * The connection to the upstream, once the selector has connected it: the {@link Handshake}, behind TLS for an
     * {@code https://} upstream, behind the PROXY header's write when the pool sends one.
     */
    Connection handshake(EndPoint endPoint) throws IOException {
        java.util.concurrent.Executor executor = tunnels.getExecutor();
        Connection first;
        if (tls == null) {
            Handshake h = new Handshake(endPoint, executor);
            connection = h;
            first = h;
        } else {
            Map<String, Object> context = new HashMap<>();
            // the name, not the resolved address: SNI and the certificate check use it (Jetty reads its host string)
            context.put(ClientConnector.REMOTE_SOCKET_ADDRESS_CONTEXT_KEY, InetSocketAddress.createUnresolved(host, port));
            SslClientConnectionFactory factory = new SslClientConnectionFactory(tls, tunnels.getByteBufferPool(), executor,
                    (appEndPoint, ctx) -> {
                        Handshake h = new Handshake(appEndPoint, executor);
                        connection = h;
                        return h;
                    });
            first = factory.newConnection(endPoint, context);
            // the handshake's own failure (certificate checks), which the connection's close alone would not name
            ((org.eclipse.jetty.io.ssl.SslConnection) first).addHandshakeListener(new org.eclipse.jetty.io.ssl.SslHandshakeListener() {
                @Override
                public void handshakeFailed(Event event, Throwable failure) {
                    upstreamFailed(failure);
                }
            });
        }
        return preface == null ? first : new Preface(endPoint, executor, first);
    }

    /** Resolution or connection failed: nothing was sent. */
    void connectFailed(Throwable failure) {
        upstreamFailed(failure);
    }

    // ---- the request head ---------------------------------------------------------------------------------

    private ByteBuffer requestHead() {
        RequestHeadImpl head = exchange.requestImpl();
        UpstreamCall.Target target = x.upstreamTarget;
        HttpFields.Mutable h = HttpFields.build();
        HeaderViews.copyTo(head.headers(), h);
        String host = x.hostHeader;
        if (host == null) {
            String name = target.host().indexOf(':') >= 0 && !target.host().startsWith("[") ? "[" + target.host() + "]"
                    : target.host();
            host = target.port() == 80 ? name : name + ":" + target.port();
        }
        h.put(HttpHeader.HOST, host);
        h.add(HttpHeader.VIA, relay.via(head.version()));
        if (exchange.mode() == Mode.REVERSE) {
            ForwardedFields.add(relay.config(), exchange, x.request, head, h);
        }
        boolean extended = UpgradePhase.isExtendedConnect(x.request);
        if (extended) {
            // RFC 8441 §5: HTTP/2 has no Sec-WebSocket-Key/Accept; the HTTP/1.1 upstream needs a key of its own
            h.remove(HttpHeader.SEC_WEBSOCKET_KEY);
            if ("websocket".equalsIgnoreCase(x.upgrade)) {
                byte[] key = new byte[16];
                java.util.concurrent.ThreadLocalRandom.current().nextBytes(key);
                h.put(HttpHeader.SEC_WEBSOCKET_KEY, java.util.Base64.getEncoder().encodeToString(key));
            }
        }
        StringBuilder sb = new StringBuilder(512).append(extended ? "GET" : head.method()).append(' ').append(target.pathQuery())
                .append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
        for (HttpField f : h) {
            if (f.getHeader() == HttpHeader.HOST || f.getValue() == null
                    || f.getValue().indexOf('\r') >= 0 || f.getValue().indexOf('\n') >= 0) {
                continue;
            }
            sb.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
        }
        sb.append("Upgrade: ").append(x.upgrade).append("\r\nConnection: Upgrade\r\n\r\n");
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} upstreamRequest (upgrade) {} {} {}", exchange.id(), head.method(), target, head.headers());
        }
        return ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    private void startHeadTimeout() {
        long ms = relay.config().upstreamTimeout().toMillis();
        headTimeout = relay.deadlines().schedule(ms, () -> {
            Handshake h = connection;
            if (h != null && !headComplete) {
                h.getEndPoint().close(new Failures.UpstreamHeadTimeout("upstream sent no response within " + ms + "ms"));
            }
        });
    }

    private void cancelHeadTimeout() {
        Deadlines.Handle t = headTimeout;
        if (t != null) {
            t.cancel();
        }
    }

    // ---- reading the response -----------------------------------------------------------------------------

    /** Runs {@link #step} until it waits; a call while another runs makes that one go round once more. */
    private void pump() {
        if (pumps.getAndIncrement() != 0) {
            return;
        }
        do {
            try {
                step();
            } catch (IOException e) {
                upstreamFailed(e); // a read failed (over TLS: an alert, such as bad_certificate), not a relay bug
            } catch (Throwable t) {
                LOG.error("{} upgrade relay failed", exchange.id(), t);
                upstreamFailed(t);
            }
        } while (pumps.decrementAndGet() != 0);
    }

    private void step() throws IOException {
        Handshake h = connection;
        while (!ended.get() && !writing && h != null) {
            if (buffer.hasRemaining()) {
                parser.parseNext(buffer);
            } else if (headComplete && !messageComplete && !emptyParsed) {
                // the parser stops after handing over content; it ends a message whose last byte is in only on its
                // next call, which must not wait for bytes an origin that keeps its connection open will never send
                emptyParsed = true;
                parser.parseNext(buffer);
            } else {
                BufferUtil.clear(buffer);
                int n = h.getEndPoint().fill(buffer);
                emptyParsed = false;
                if (n == 0) {
                    h.readMore();
                    return;
                }
                if (n < 0) {
                    parser.atEOF();
                    parser.parseNext(BufferUtil.EMPTY_BUFFER);
                    if (!messageComplete && parseFailure == null && !headComplete) {
                        parseFailure = new EofException("upstream closed the connection before its response head");
                    } else if (!messageComplete && parseFailure == null) {
                        parseFailure = new EofException("upstream closed the connection mid-body");
                    }
                }
            }
            if (parseFailure != null) {
                upstreamFailed(parseFailure);
                return;
            }
            if (headComplete && body == null && !onHead(h)) {
                return;
            }
            if (content != null) {
                ByteBuffer c = content;
                content = null;
                writing = true;
                body.onData(c, null);
                continue;
            }
            if (messageComplete && body != null) {
                end(false);
                h.getEndPoint().close();
                body.onEnd();
                return;
            }
        }
    }

    /** The response head is in. Returns whether to go on reading (an ordinary response), false once handed off. */
    private boolean onHead(Handshake h) {
        if (status < 200 && status != 101) {
            // 100 Continue, 102, 103: not relayed for an upgrade; the final response follows
            parser.reset();
            upstreamFields.clear();
            headComplete = false;
            messageComplete = false;
            return true;
        }
        cancelHeadTimeout();
        headNanos = System.nanoTime() - sentNanos;
        HttpHeaders end = HeaderRules.upstreamResponseFields(upstreamFields);
        end.add("Via", relay.via(version == HttpVersion.HTTP_1_0));
        if (status == 101) {
            String protocol = upstreamFields.get(HttpHeader.UPGRADE);
            if (protocol == null || protocol.isBlank()) {
                upstreamFailed(new HttpException.RuntimeException(502, "101 without Upgrade"));
                return false;
            }
            ended.set(true);
            // the member serves this tunnel until it closes: least-requests and maxRequestsPerMember count it as active
            x.whenTunnelClosed(() -> accountMember(false));
            HttpFields.Mutable out = HttpFields.build();
            HeaderViews.copyTo(end, out);
            if (UpgradePhase.isExtendedConnect(x.request)) {
                out.remove(HttpHeader.SEC_WEBSOCKET_ACCEPT); // the 200 on the stream (RFC 8441 §5) has neither
            } else {
                out.put(HttpHeader.UPGRADE, protocol);
                out.put(HttpHeader.CONNECTION, "Upgrade");
            }
            ByteBuffer early = null;
            if (buffer.hasRemaining()) {
                early = ByteBuffer.allocate(buffer.remaining());
                early.put(buffer).flip();
            }
            LOG.debug("{} upstream {} switched protocols to {}", exchange.id(), exchange.upstream(), protocol);
            x.moveTo(RelayState.TUNNEL);
            tunnels.switchProtocols(x, h.getEndPoint(), out, early);
            return false;
        }
        if (exchange.stickySetCookie() != null) {
            end.add("Set-Cookie", exchange.stickySetCookie());
        }
        LOG.info("{} upstream {} refused Upgrade: {} with {}", exchange.id(), exchange.upstream(), x.upgrade, status);
        boolean hasBody = status != 204 && status != 304;
        BodyFilterChain filters;
        try {
            filters = relay.filters().respond(x, new ResponseHeadImpl(status, end), hasBody);
        } catch (RuntimeException e) {
            LOG.error("{} failed while preparing the response head", exchange.id(), e);
            ended.set(true);
            h.getEndPoint().close();
            relay.answers().internalError(x, "response filter failed");
            return false;
        }
        body = new BodyRelay(x, this, filters, null, relay.answers());
        x.moveTo(RelayState.STREAMING_UPSTREAM);
        return true;
    }

    // ---- HttpParser.ResponseHandler -----------------------------------------------------------------------

    @Override
    public void startResponse(HttpVersion version, int status, String reason) {
        this.version = version;
        this.status = status;
    }

    @Override
    public void parsedHeader(HttpField field) {
        upstreamFields.add(field);
    }

    @Override
    public boolean headerComplete() {
        headComplete = true;
        return true; // stop: a 101 is followed by the new protocol's bytes, which the parser must not see
    }

    @Override
    public boolean content(ByteBuffer item) {
        if (!item.hasRemaining()) {
            return false;
        }
        content = item;
        return true;
    }

    @Override
    public boolean contentComplete() {
        return false;
    }

    @Override
    public boolean messageComplete() {
        messageComplete = true;
        return true;
    }

    @Override
    public void earlyEOF() {
        parseFailure = new EofException(headComplete ? "upstream closed the connection mid-body"
                : "upstream closed the connection before its response head");
    }

    @Override
    public void badMessage(HttpException failure) {
        parseFailure = new IOException("invalid upstream response: " + failure.getReason(), (Throwable) failure);
    }

    // ---- BodyRelay.Source ---------------------------------------------------------------------------------

    @Override
    public void demand() {
        writing = false;
        pump();
    }

    @Override
    public void abort(Throwable cause) {
        ended.set(true);
        Handshake h = connection;
        if (h != null) {
            h.getEndPoint().close(cause);
        }
    }

    @Override
    public void lastWritten() {
        if (x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.BODY_SENT)) {
            x.succeeded();
        }
    }

    // ---- the end ------------------------------------------------------------------------------------------

    private boolean end(boolean failed) {
        boolean first = ended.compareAndSet(false, true);
        cancelHeadTimeout();
        accountMember(failed);
        return first;
    }

    private void accountMember(boolean failed) {
        if (member != null && accounted.compareAndSet(false, true)) {
            UpstreamPool pool = x.tries == null ? null : x.tries.pool;
            if (pool != null && member.end(failed, headNanos, pool.outlierDetection(),
                    () -> ApiAccess.pools().mayEject(pool))) {
                LOG.warn("upstream {} ejected after {} consecutive failures", member,
                        pool.outlierDetection().consecutiveFailures());
            }
        }
    }

    private void upstreamFailed(Throwable failure) {
        if (!end(true)) {
            return;
        }
        Handshake h = connection;
        if (h != null) {
            h.getEndPoint().close(failure);
        }
        if (x.state().isTerminal()) {
            return;
        }
        if (x.response.isCommitted()) {
            exchange.reason("upstream failed mid-body: " + Failures.describe(failure));
            LOG.info("{} upstream {} failed after the response began; aborting the client response: {}", exchange.id(),
                    exchange.upstream(), Failures.describe(failure));
            x.failed(failure);
            return;
        }
        Failures.Classified c = Failures.classify(failure);
        if (Failures.isDeniedDestination(failure)) {
            exchange.deny();
        }
        String what = exchange.mode() == Mode.FORWARD ? exchange.requestImpl().authority() : "upstream " + exchange.upstream();
        String description = failure instanceof IOException && failure.getMessage() != null
                && c.proxyStatusError().equals("http_protocol_error") ? failure.getMessage() : c.description();
        relay.answers().answer(x, c.status(), what + ": " + description, c.proxyStatusError(), null, false);
    }

    /** Writes the PROXY protocol header, then hands the connection to {@code next} (TLS, or the handshake). */
    private final class Preface extends AbstractConnection {
        private final Connection next;

        Preface(EndPoint endPoint, java.util.concurrent.Executor executor, Connection next) {
            super(endPoint, executor);
            this.next = next;
        }

        @Override
        public void onOpen() {
            super.onOpen();
            getEndPoint().write(Callback.from(() -> getEndPoint().upgrade(next), failure -> {
                getEndPoint().close(failure);
                upstreamFailed(failure);
            }), preface.slice());
        }

        @Override
        public void onFillable() {
            // nothing is read before the header is out
        }
    }

    /** The upstream connection until the response head is in. */
    private final class Handshake extends AbstractConnection {
        Handshake(EndPoint endPoint, java.util.concurrent.Executor executor) {
            super(endPoint, executor);
        }

        @Override
        public void onOpen() {
            super.onOpen();
            getEndPoint().write(Callback.from(() -> {
                startHeadTimeout();
                readMore();
            }, UpgradeCall.this::upstreamFailed), requestHead());
        }

        /**
         * Asks for {@link #onFillable} once bytes arrive, unless that is asked already: over TLS the request head's
         * write callback can come after the pump has read (and asked) on its own.
         */
        synchronized void readMore() {
            if (!isFillInterested()) {
                fillInterested();
            }
        }

        @Override
        public void onFillable() {
            pump();
        }

        @Override
        public boolean onIdleExpired(TimeoutException timeout) {
            upstreamFailed(timeout);
            return true;
        }

        @Override
        public void onClose(Throwable cause) {
            super.onClose(cause);
            if (!ended.get()) {
                upstreamFailed(cause != null ? cause : new EofException("upstream connection closed"));
            }
        }
    }
}
