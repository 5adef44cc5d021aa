package io.github.gatehouse.core.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ConnectHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jetty's {@code CONNECT} tunnel, reached only after the relay checked the port, authenticated the client and ran
 * the request filters. Connect failures become 502/504 answers with {@code Proxy-Status}; an internal destination
 * found after DNS resolution is a 403 refusal.
 *
 * <p>Two things differ from Jetty's own handler:
 * <ul>
 *   <li>The {@code 2xx} answer carries neither {@code Content-Length} nor {@code Transfer-Encoding} (RFC 9110
 *   §9.3.6). Jetty's handler puts {@code Content-Length: 0} on it, and Jetty's HTTP/1.1 generator adds
 *   {@code Content-Length: 0} to any complete persistent response without a length (chunking when it is not
 *   complete), so the answer's head is written here, through a wrapper of the exchange's {@code HttpStream}, and
 *   the generator never sees it. Origin bytes that arrive before that head is written wait for it.</li>
 *   <li>Each tunnel counts the bytes it moves each way ({@link #write}) and writes its access-log line once both
 *   of its connections have closed, with the tunnel's whole duration (Squid's {@code TCP_TUNNEL/200} line).</li>
 * </ul>
 *
 * <p>The same pump carries upgraded connections: an {@link UpgradeCall} connects on this handler's selector
 * ({@link #connectUpgrade}), and an origin's {@code 101} pairs the two connections through {@link #switchProtocols}
 * and {@link #onConnectSuccess}, with the {@code 101} head (and the origin's first bytes) written like the {@code 200}.
 * For an HTTP/2 client's {@code CONNECT} (RFC 9113 §8.5) the {@code 200} is Jetty's HEADERS frame instead.
 *
 * <p>Threading: one instance serves all tunnels; per-tunnel state lives in a {@link Tunnel} kept in Jetty's
 * per-tunnel context map, touched from the I/O threads of its two connections.
 */
final class GatehouseConnectHandler extends ConnectHandler {
    private static final Logger LOG = LoggerFactory.getLogger(GatehouseConnectHandler.class);
    private static final String TUNNEL = Tunnel.class.getName();
    private static final String SWITCH = Switch.class.getName();
    private final String viaName;
    private final DestinationPolicy policy;
    private final AtomicInteger openTunnels = new AtomicInteger();

    GatehouseConnectHandler(String viaName, DestinationPolicy policy) {
        this.viaName = viaName;
        this.policy = policy;
    }

    /** Tunnels whose upstream connection is open. */
    int openTunnels() {
        return openTunnels.get();
    }

    /** Jetty's tunnel selector, which also connects upgrade requests ({@link UpgradeCall}) to their upstream. */
    private volatile SelectorManager selector;

    @Override
    protected SelectorManager newSelectorManager() {
        SelectorManager manager = new Manager(getExecutor(), getScheduler());
        selector = manager;
        return manager;
    }

    /**
     * Connects an upgrade request to {@code address} (already resolved and, forward, checked by the destination
     * policy) on the tunnel selector; the connection becomes {@link UpgradeCall#handshake}, or the call hears the
     * failure.
     */
    void connectUpgrade(UpgradeCall call, InetSocketAddress address) {
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open();
            channel.socket().setTcpNoDelay(true);
            channel.configureBlocking(false);
            if (channel.connect(address)) {
                selector.accept(channel, call);
            } else {
                selector.connect(channel, call);
            }
        } catch (Throwable t) {
            closeQuietly(channel);
            call.connectFailed(t);
        }
    }

    /**
     * The origin answered an upgrade request {@code 101}: its connection ({@code upstream}) and the client's become
     * one tunnel, through the same path as a {@code CONNECT} ({@link #onConnectSuccess}). The client gets
     * {@code fields} in a {@code 101} head, followed by {@code early} (bytes the origin sent right behind its head).
     */
    void switchProtocols(ExchangeContext x, EndPoint upstream, HttpFields fields, ByteBuffer early) {
        ConnectContext context = new ConnectContext(x.request, x.response, x, x.request.getTunnelSupport().getEndPoint());
        context.getContext().put(SWITCH, new Switch(fields, early));
        UpstreamConnection upstreamConnection = newUpstreamConnection(upstream, context);
        upstreamConnection.setInputBufferSize(getBufferSize());
        upstream.upgrade(upstreamConnection); // its onOpen runs onConnectSuccess
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (java.io.IOException e) {
                LOG.trace("ignored", e);
            }
        }
    }

    /** What a {@code 101} carries to the client: the head's fields and the origin's first bytes. */
    private record Switch(HttpFields fields, ByteBuffer early) {
    }

    /** Jetty's connect manager, which also hands connected upgrade requests to their {@link UpgradeCall}. */
    private final class Manager extends ConnectManager {
        Manager(java.util.concurrent.Executor executor, org.eclipse.jetty.util.thread.Scheduler scheduler) {
            super(executor, scheduler, 1);
        }

        @Override
        public Connection newConnection(SelectableChannel channel, EndPoint endpoint, Object attachment)
                throws java.io.IOException {
            if (attachment instanceof UpgradeCall) {
                return ((UpgradeCall) attachment).handshake(endpoint);
            }
            return super.newConnection(channel, endpoint, attachment);
        }

        @Override
        protected void connectionFailed(SelectableChannel channel, Throwable failure, Object attachment) {
            if (attachment instanceof UpgradeCall) {
                closeQuietly((SocketChannel) channel);
                ((UpgradeCall) attachment).connectFailed(failure);
                return;
            }
            super.connectionFailed(channel, failure, attachment);
        }
    }

    /** Resolves the tunnel target and refuses internal destinations (checked after DNS resolution). */
    @Override
    protected InetSocketAddress newConnectAddress(String host, int port) {
        InetSocketAddress address = super.newConnectAddress(host, port);
        if (address.getAddress() != null && !policy.allows(address)) {
            throw new java.io.UncheckedIOException(
                    new DestinationPolicy.DeniedDestinationException(host, port, address.getAddress()));
        }
        return address;
    }

    /** The relay has already judged the destination (port, filters); Jetty's string lists are not used. */
    @Override
    public boolean validateDestination(String host, int port) {
        return true;
    }

    @Override
    protected void onConnectFailure(Request request, Response response, Callback callback, Throwable failure) {
        Failures.Classified c = failure instanceof TimeoutException
                ? new Failures.Classified(504, "connection_timeout", "connection timed out")
                : Failures.classify(failure);
        if (Failures.isDeniedDestination(failure) && callback instanceof ExchangeContext) {
            ((ExchangeContext) callback).exchange.deny();
        }
        String target = request.getHttpURI().getHost() + ":" + request.getHttpURI().getPort();
        LOG.info("CONNECT {} failed: {} -> {}", target, Failures.describe(failure), c.status());
        if (response.isCommitted()) {
            callback.failed(failure);
            return;
        }
        String reason = c.status() == 403 ? c.description() : target + ": " + c.description();
        if (callback instanceof ExchangeContext) {
            ((ExchangeContext) callback).exchange.reason(reason);
            ((ExchangeContext) callback).exchange.answered(c.proxyStatusError());
        }
        PlainTextResponses.write(response, callback, viaName, c.status(), reason,
                c.proxyStatusError(), null, true);
    }

    @Override
    protected UpstreamConnection newUpstreamConnection(EndPoint endPoint, ConnectContext connectContext) {
        Tunnel tunnel = new Tunnel(connectContext.getEndPoint(), connectContext.getCallback());
        connectContext.getContext().put(TUNNEL, tunnel);
        openTunnels.incrementAndGet();
        return new UpstreamConnection(endPoint, getExecutor(), getByteBufferPool(), connectContext) {
            @Override
            public void onClose(Throwable cause) {
                super.onClose(cause);
                openTunnels.decrementAndGet();
                tunnel.sideClosed(cause);
            }
        };
    }

    @Override
    protected DownstreamConnection newDownstreamConnection(EndPoint endPoint, ConcurrentMap<String, Object> context) {
        Tunnel tunnel = (Tunnel) context.get(TUNNEL);
        return new DownstreamConnection(endPoint, getExecutor(), getByteBufferPool(), context) {
            @Override
            public void onOpen() {
                if (tunnel != null) {
                    tunnel.downstreamOpened();
                }
                super.onOpen();
            }

            @Override
            public void onClose(Throwable cause) {
                super.onClose(cause);
                if (tunnel != null) {
                    tunnel.sideClosed(cause);
                }
            }
        };
    }

    /**
     * What Jetty's {@code onConnectSuccess} does (pair the two connections, ask for the upgrade of the client's
     * connection), but the {@code 200} goes out through {@link TunnelAnswer}, without a body length.
     */
    @Override
    protected void onConnectSuccess(ConnectContext connectContext, UpstreamConnection upstreamConnection) {
        ConcurrentMap<String, Object> context = connectContext.getContext();
        Request request = connectContext.getRequest();
        Tunnel tunnel = (Tunnel) context.get(TUNNEL);
        if (tunnel != null) {
            tunnel.upstream(upstreamConnection.getEndPoint());
        }
        prepareContext(request, context);
        DownstreamConnection downstreamConnection = newDownstreamConnection(connectContext.getEndPoint(), context);
        downstreamConnection.setInputBufferSize(getBufferSize());
        upstreamConnection.setConnection(downstreamConnection);
        downstreamConnection.setConnection(upstreamConnection);
        // Jetty's HTTP/1.1 connection upgrades to the tunnel when the exchange completes with this attribute set.
        request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, downstreamConnection);
        Switch upgrade = (Switch) context.get(SWITCH);
        if (tunnel != null) {
            boolean socks = request.getAttribute(Socks5Replies.ATTRIBUTE) != null; // a SOCKS5 client: its reply
            tunnel.early = upgrade == null ? null : upgrade.early();
            // HTTP/2 (RFC 9113 §8.5): the 200 is a HEADERS frame Jetty writes, and the stream stays open for DATA
            boolean raw = !HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol());
            request.addHttpStreamWrapper(stream -> new TunnelAnswer(stream, tunnel, socks, raw));
        }
        Response response = connectContext.getResponse();
        // an HTTP/2 stream (CONNECT, or an extended CONNECT's upgrade, RFC 8441 §5) is answered 200, never 101
        int status = upgrade == null || HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())
                ? HttpStatus.OK_200 : HttpStatus.SWITCHING_PROTOCOLS_101;
        if (upgrade != null) {
            response.getHeaders().add(upgrade.fields());
        }
        response.setStatus(status);
        Callback callback = connectContext.getCallback();
        if (callback instanceof ExchangeContext) {
            ((ExchangeContext) callback).tunnelEstablished(status);
        }
        LOG.debug("tunnel set up: {} <-> {}", downstreamConnection, upstreamConnection);
        callback.succeeded();
    }

    /** Counts the bytes written to each side; origin bytes wait until the tunnel's answer has been written. */
    @Override
    protected void write(EndPoint endPoint, ByteBuffer buffer, Callback callback, ConcurrentMap<String, Object> context) {
        Tunnel tunnel = (Tunnel) context.get(TUNNEL);
        if (tunnel == null) {
            super.write(endPoint, buffer, callback, context);
            return;
        }
        boolean toClient = endPoint == tunnel.clientEndPoint;
        Callback counting = new CountingCallback(callback, toClient ? tunnel.toClient : tunnel.toOrigin, buffer.remaining());
        if (toClient && !tunnel.answered
                && !tunnel.writeAfterAnswer(() -> super.write(endPoint, buffer, counting, context), counting::failed)) {
            return; // queued until the answer is out (or failed with it)
        }
        super.write(endPoint, buffer, counting, context);
    }

    /** The state of one tunnel: its byte counts, which sides are open, and the answer's progress. */
    static final class Tunnel {
        final EndPoint clientEndPoint;
        final AtomicLong toClient = new AtomicLong();
        final AtomicLong toOrigin = new AtomicLong();
        private final Callback exchangeCallback;
        /** Sides still to close: the upstream, and the downstream unless it can no longer open. */
        private final AtomicInteger openSides = new AtomicInteger(2);
        private final java.util.concurrent.atomic.AtomicBoolean downstreamDecided = new java.util.concurrent.atomic.AtomicBoolean();
        private volatile EndPoint upstreamEndPoint;
        private volatile Throwable firstCause;
        private volatile boolean answered;
        /** Upgrades: the origin's bytes that came right behind its 101, written with the 101 head. */
        volatile ByteBuffer early;
        private Throwable answerFailure;
        private Runnable pendingWrite;
        private Consumer<Throwable> pendingFailure;

        Tunnel(EndPoint clientEndPoint, Callback exchangeCallback) {
            this.clientEndPoint = clientEndPoint;
            this.exchangeCallback = exchangeCallback;
        }

        void upstream(EndPoint endPoint) {
            upstreamEndPoint = endPoint;
        }

        /** The client's connection became the tunnel's downstream side: its close will be counted. */
        void downstreamOpened() {
            downstreamDecided.set(true);
        }

        /** Whether {@code write} may run now; otherwise it (or {@code failure}) runs once the answer is settled. */
        boolean writeAfterAnswer(Runnable write, Consumer<Throwable> failure) {
            Throwable failed;
            synchronized (this) {
                if (!answered) {
                    pendingWrite = write;
                    pendingFailure = failure;
                    return false;
                }
                failed = answerFailure;
            }
            if (failed != null) {
                failure.accept(failed);
                return false;
            }
            return true;
        }

        /** The answer's head was written ({@code failure} null) or could not be. */
        void answerSettled(Throwable failure) {
            Runnable write;
            Consumer<Throwable> fail;
            synchronized (this) {
                if (answered) {
                    return;
                }
                answered = true;
                answerFailure = failure;
                write = pendingWrite;
                fail = pendingFailure;
                pendingWrite = null;
                pendingFailure = null;
            }
            if (failure != null && fail != null) {
                fail.accept(failure);
            } else if (write != null) {
                write.run();
            }
        }

        /**
         * The client's connection was not handed to the tunnel (the answer could not be written, or Jetty did not
         * upgrade): the downstream side will never open, so it counts as closed.
         */
        void downstreamWillNotOpen(Throwable cause) {
            if (downstreamDecided.compareAndSet(false, true)) {
                Throwable why = cause != null ? cause : new java.io.IOException("client connection not upgraded to the tunnel");
                EndPoint upstream = upstreamEndPoint;
                if (upstream != null) {
                    upstream.close(why); // nothing will read what the origin sends
                }
                sideClosed(why);
            }
        }

        void sideClosed(Throwable cause) {
            if (cause != null && firstCause == null) {
                firstCause = cause;
            }
            if (openSides.decrementAndGet() == 0 && exchangeCallback instanceof ExchangeContext) {
                ((ExchangeContext) exchangeCallback).tunnelClosed(toOrigin.get(), toClient.get(), firstCause);
            }
        }
    }

    /**
     * Writes the tunnel's {@code 2xx} or {@code 101} head itself, straight to the client's endpoint, instead of handing
     * it to Jetty's generator: {@code HTTP/1.1 200 Connection established} (or {@code 101 Switching Protocols}, followed
     * by the origin's first bytes), the response's other fields, and no body length. For HTTP/2 ({@code raw} false)
     * Jetty writes the answer; origin bytes still wait for it.
     */
    private static final class TunnelAnswer extends HttpStream.Wrapper {
        private final Tunnel tunnel;
        private final boolean socks;
        private final boolean raw;

        TunnelAnswer(HttpStream wrapped, Tunnel tunnel, boolean socks, boolean raw) {
            super(wrapped);
            this.tunnel = tunnel;
            this.socks = socks;
            this.raw = raw;
        }

        @Override
        public void send(MetaData.Request request, MetaData.Response response, boolean last, ByteBuffer content,
                Callback callback) {
            if (response == null || !(HttpStatus.isSuccess(response.getStatus())
                    || response.getStatus() == HttpStatus.SWITCHING_PROTOCOLS_101)) {
                super.send(request, response, last, content, callback);
                return;
            }
            if (!raw) {
                super.send(request, response, last, content, Callback.from(callback.getInvocationType(), () -> {
                    ByteBuffer early = tunnel.early; // an upgrade's first origin bytes: DATA right after the HEADERS
                    tunnel.early = null;
                    if (early != null && early.hasRemaining()) {
                        int earlyBytes = early.remaining();
                        tunnel.clientEndPoint.write(Callback.from(() -> {
                            tunnel.toClient.addAndGet(earlyBytes);
                            tunnel.answerSettled(null);
                            callback.succeeded();
                        }, failure -> {
                            tunnel.answerSettled(failure);
                            callback.failed(failure);
                        }), early);
                        return;
                    }
                    tunnel.answerSettled(null);
                    callback.succeeded();
                }, failure -> {
                    tunnel.answerSettled(failure);
                    callback.failed(failure);
                }));
                return;
            }
            EndPoint upstream = tunnel.upstreamEndPoint;
            ByteBuffer head = socks ? Socks5Replies.success(upstream == null ? null : upstream.getLocalSocketAddress())
                    : head(response);
            ByteBuffer early = tunnel.early;
            tunnel.early = null;
            int earlyBytes = early == null ? 0 : early.remaining();
            Callback written = Callback.from(callback.getInvocationType(), () -> {
                tunnel.toClient.addAndGet(earlyBytes);
                tunnel.answerSettled(null);
                callback.succeeded();
            }, failure -> {
                tunnel.answerSettled(failure);
                callback.failed(failure);
            });
            if (earlyBytes > 0) {
                tunnel.clientEndPoint.write(written, head, early);
            } else {
                tunnel.clientEndPoint.write(written, head);
            }
        }

        @Override
        public void succeeded() {
            // Jetty upgrades the client's connection to the tunnel once the exchange completes: at once, or, when the
            // connection is still in its handling loop, as that loop unwinds. Only a client endpoint that is already
            // closed can no longer become the tunnel; deciding more eagerly raced with a deferred upgrade and cut
            // a tunnel that had just been answered 200 (seen under load in IdleConnectionsAtScaleTest).
            super.succeeded();
            if (!tunnel.clientEndPoint.isOpen()) {
                tunnel.downstreamWillNotOpen(null);
            }
        }

        @Override
        public void failed(Throwable failure) {
            super.failed(failure);
            tunnel.answerSettled(failure);
            tunnel.downstreamWillNotOpen(failure);
        }

        static ByteBuffer head(MetaData.Response response) {
            HttpVersion version = response.getHttpVersion() == HttpVersion.HTTP_1_0 ? HttpVersion.HTTP_1_0 : HttpVersion.HTTP_1_1;
            StringBuilder sb = new StringBuilder(64).append(version.asString()).append(' ').append(response.getStatus())
                    .append(response.getStatus() == HttpStatus.OK_200 ? " Connection established"
                            : response.getStatus() == HttpStatus.SWITCHING_PROTOCOLS_101 ? " Switching Protocols" : " OK")
                    .append("\r\n");
            if (response.getHttpFields() != null) {
                for (HttpField f : response.getHttpFields()) {
                    if (f.getHeader() == HttpHeader.CONTENT_LENGTH || f.getHeader() == HttpHeader.TRANSFER_ENCODING) {
                        continue; // RFC 9110 §9.3.6: a 2xx answer to CONNECT has neither
                    }
                    sb.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
                }
            }
            return ByteBuffer.wrap(sb.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        }
    }

    /** Adds the written byte count when a tunnel write completes. */
    private static final class CountingCallback implements Callback {
        private final Callback delegate;
        private final AtomicLong counter;
        private final int bytes;

        CountingCallback(Callback delegate, AtomicLong counter, int bytes) {
            this.delegate = delegate;
            this.counter = counter;
            this.bytes = bytes;
        }

        @Override
        public void succeeded() {
            counter.addAndGet(bytes);
            delegate.succeeded();
        }

        @Override
        public void failed(Throwable x) {
            delegate.failed(x);
        }

        @Override
        public InvocationType getInvocationType() {
            return delegate.getInvocationType();
        }
    }
}
