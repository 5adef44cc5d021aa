package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AuthResult;
import io.github.gatehouse.core.Authenticator;
import io.github.gatehouse.core.Credentials;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SOCKS5 client connection during its handshake (RFC 1928 §3-§4, RFC 1929), read without blocking.
 *
 * <ol>
 *   <li>Method selection: username/password ({@code 0x02}) when an {@link Authenticator} is configured, no
 *   authentication ({@code 0x00}) only when none is; a client that offers neither gets {@code 0xFF} and the
 *   connection is closed.</li>
 *   <li>Username/password: checked by the {@link Authenticator} as Basic credentials; status {@code 0x00} or
 *   {@code 0x01} (then close).</li>
 *   <li>The request: {@code CONNECT} to a domain name, IPv4 or IPv6 address. {@code BIND} and
 *   {@code UDP ASSOCIATE} get reply {@code 0x07} (command not supported), an unknown address type {@code 0x08}.</li>
 * </ol>
 *
 * Then the connection becomes an HTTP/1.1 connection that has read {@code CONNECT host:port} (with the
 * credentials as {@code Proxy-Authorization}): the relay judges and opens the tunnel, and {@link Socks5Replies}
 * answers in SOCKS terms. A handshake must finish within the handshake timeout, each message fits in 1 KiB, and a
 * client may not send bytes after its request before the reply (RFC 1928: it waits for it); otherwise the
 * connection is closed with a log line.
 *
 * <p>Threading: Jetty calls {@link #onFillable} from one thread at a time; the authenticator's completion may run on
 * another thread, while no read is pending.
 */
final class Socks5Connection extends AbstractConnection implements Connection.UpgradeFrom {
    private static final Logger LOG = LoggerFactory.getLogger(Socks5Connection.class);
    static final int MAX_MESSAGE = 1024;

    private enum State { GREETING, AUTH, AUTH_CHECKING, REQUEST, DONE }

    private final Connector connector;
    private final ConnectionFactory http;
    private final Authenticator authenticator;
    private final long handshakeTimeoutMs;
    private final RelayHandler relay;
    private final ByteBuffer buffer = BufferUtil.allocate(MAX_MESSAGE);
    private volatile State state = State.GREETING;
    private volatile Scheduler.Task timeout;
    private String credentials;
    private ByteBuffer upgradeBytes;
    private final String id;

    Socks5Connection(EndPoint endPoint, Connector connector, ConnectionFactory http, Authenticator authenticator,
            long handshakeTimeoutMs, RelayHandler relay) {
        super(endPoint, connector.getExecutor());
        this.connector = connector;
        this.http = http;
        this.authenticator = authenticator;
        this.handshakeTimeoutMs = handshakeTimeoutMs;
        this.relay = relay;
        this.id = relay.nextId();
    }

    @Override
    public void onOpen() {
        super.onOpen();
        timeout = connector.getScheduler().schedule(() -> {
            if (state != State.DONE && getEndPoint().isOpen()) {
                LOG.info("{} SOCKS5 client {} did not finish its handshake within {} ms; closing", id, client(),
                        handshakeTimeoutMs);
                getEndPoint().close();
            }
        }, handshakeTimeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
        fillInterested();
    }

    @Override
    public void onClose(Throwable cause) {
        cancelTimeout();
        super.onClose(cause);
    }

    private void cancelTimeout() {
        Scheduler.Task t = timeout;
        if (t != null) {
            t.cancel();
        }
    }

    @Override
    public void onFillable() {
        try {
            while (true) {
                if (parse()) {
                    return; // a reply is being written, a check runs, or the connection was handed on or closed
                }
                if (BufferUtil.space(buffer) == 0) {
                    BufferUtil.compact(buffer);
                    if (BufferUtil.space(buffer) == 0) {
                        refuse("handshake message larger than " + MAX_MESSAGE + " bytes");
                        return;
                    }
                }
                int filled = getEndPoint().fill(buffer);
                if (filled < 0) {
                    LOG.debug("{} SOCKS5 client {} closed during the handshake", id, client());
                    getEndPoint().close();
                    return;
                }
                if (filled == 0) {
                    fillInterested();
                    return;
                }
            }
        } catch (Throwable t) {
            LOG.info("{} SOCKS5 handshake with {} failed: {}", id, client(), Failures.describe(t));
            getEndPoint().close(t);
        }
    }

    /** Parses what the buffer holds for the current state; true when no more bytes are to be read now. */
    private boolean parse() {
        switch (state) {
            case GREETING:
                return greeting();
            case AUTH:
                return auth();
            case REQUEST:
                return request();
            default:
                if (buffer.hasRemaining()) {
                    refuse("bytes sent before the server's answer");
                }
                return true;
        }
    }

    private boolean greeting() {
        if (buffer.remaining() < 2) {
            return false;
        }
        int p = buffer.position();
        int version = buffer.get(p) & 0xff;
        if (version != 5) {
            refuse("not SOCKS5 (version byte " + version + ")");
            return true;
        }
        int n = buffer.get(p + 1) & 0xff;
        if (buffer.remaining() < 2 + n) {
            return false;
        }
        boolean noAuth = false;
        boolean userPass = false;
        for (int i = 0; i < n; i++) {
            int m = buffer.get(p + 2 + i) & 0xff;
            noAuth |= m == 0x00;
            userPass |= m == 0x02;
        }
        buffer.position(p + 2 + n);
        if (authenticator != null ? !userPass : !noAuth) {
            LOG.info("{} SOCKS5 client {} offered no acceptable method (expected: {}); closing", id, client(),
                    authenticator != null ? "username/password" : "no authentication");
            replyAndClose(new byte[] {5, (byte) 0xff});
            return true;
        }
        state = authenticator != null ? State.AUTH : State.REQUEST;
        replyAndContinue(new byte[] {5, authenticator != null ? (byte) 0x02 : 0x00});
        return true;
    }

    private boolean auth() {
        if (buffer.remaining() < 2) {
            return false;
        }
        int p = buffer.position();
        int version = buffer.get(p) & 0xff;
        if (version != 1) {
            refuse("username/password sub-negotiation version " + version + " (expected: 1)");
            return true;
        }
        int ulen = buffer.get(p + 1) & 0xff;
        if (buffer.remaining() < 3 + ulen) {
            return false;
        }
        int plen = buffer.get(p + 2 + ulen) & 0xff;
        if (buffer.remaining() < 3 + ulen + plen) {
            return false;
        }
        String user = string(p + 2, ulen);
        String password = string(p + 3 + ulen, plen);
        buffer.position(p + 3 + ulen + plen);
        if (user.isEmpty() || user.indexOf(':') >= 0) {
            LOG.info("{} SOCKS5 client {}: unusable user name (empty or with ':'); authentication failed", id, client());
            replyAndClose(new byte[] {1, 1});
            return true;
        }
        String basic = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        state = State.AUTH_CHECKING;
        ExchangeImpl exchange = new ExchangeImpl(id, "CONNECT", client(), local(), "socks5");
        exchange.mode(Mode.TUNNEL);
        exchange.request(new RequestHeadImpl("CONNECT", "HTTP/1.1", "https", "socks5.invalid", 0, "", null,
                new HttpHeaders(), false));
        CompletionStage<AuthResult> stage;
        try {
            stage = authenticator.authenticate(Optional.of(new Credentials("Basic", basic)), exchange);
        } catch (RuntimeException e) {
            authChecked(user, basic, null, e);
            return true;
        }
        if (stage == null) {
            authChecked(user, basic, null, new IllegalStateException("authenticator returned null"));
            return true;
        }
        stage.whenComplete((result, failure) -> authChecked(user, basic, result, failure));
        return true;
    }

    private void authChecked(String user, String basic, AuthResult result, Throwable failure) {
        if (failure != null || result == null) {
            LOG.warn("{} SOCKS5 client {}: authenticator failed for user {}: {}; authentication failed", id, client(),
                    user, failure == null ? "no result" : Failures.describe(failure));
            replyAndClose(new byte[] {1, 1});
        } else if (result.kind() != AuthResult.Kind.AUTHENTICATED) {
            LOG.info("{} SOCKS5 client {}: user {} not authenticated ({}); authentication failed", id, client(), user,
                    result.reason());
            replyAndClose(new byte[] {1, 1});
        } else {
            credentials = "Basic " + basic;
            state = State.REQUEST;
            replyAndContinue(new byte[] {1, 0});
        }
    }

    private boolean request() {
        if (buffer.remaining() < 5) {
            return false;
        }
        int p = buffer.position();
        int version = buffer.get(p) & 0xff;
        int command = buffer.get(p + 1) & 0xff;
        int type = buffer.get(p + 3) & 0xff;
        if (version != 5) {
            refuse("request version " + version + " (expected: 5)");
            return true;
        }
        int addressLength;
        switch (type) {
            case 1 -> addressLength = 4;
            case 3 -> addressLength = 1 + (buffer.get(p + 4) & 0xff);
            case 4 -> addressLength = 16;
            default -> {
                LOG.info("{} SOCKS5 client {}: address type {} not supported; reply 0x08", id, client(), type);
                replyAndClose(Socks5Replies.reply(0x08, null));
                return true;
            }
        }
        if (buffer.remaining() < 4 + addressLength + 2) {
            return false;
        }
        String host;
        try {
            host = switch (type) {
                case 1 -> InetAddress.getByAddress(bytes(p + 4, 4)).getHostAddress();
                case 4 -> "[" + com.google.common.net.InetAddresses.toAddrString(InetAddress.getByAddress(bytes(p + 4, 16))) + "]";
                default -> string(p + 5, addressLength - 1);
            };
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // 4 and 16 bytes are always addresses
        }
        int port = ((buffer.get(p + 4 + addressLength) & 0xff) << 8) | (buffer.get(p + 5 + addressLength) & 0xff);
        buffer.position(p + 4 + addressLength + 2);
        if (command != 1) {
            LOG.info("{} SOCKS5 client {}: command {} ({}) to {}:{} not supported; reply 0x07", id, client(), command,
                    command == 2 ? "BIND" : command == 3 ? "UDP ASSOCIATE" : "unknown", host, port);
            replyAndClose(Socks5Replies.reply(0x07, null));
            return true;
        }
        if (type == 3 && !validName(host)) {
            LOG.info("{} SOCKS5 client {}: invalid destination name {}; reply 0x01", id, client(),
                    host.replaceAll("[^\\x21-\\x7e]", "?"));
            replyAndClose(Socks5Replies.reply(0x01, null));
            return true;
        }
        if (port == 0) {
            LOG.info("{} SOCKS5 client {}: destination {} has port 0; reply 0x02", id, client(), host);
            replyAndClose(Socks5Replies.reply(0x02, null));
            return true;
        }
        if (buffer.hasRemaining()) {
            refuse("bytes sent before the server's answer");
            return true;
        }
        handOn(host + ":" + port);
        return true;
    }

    /** The request becomes {@code CONNECT authority} on an HTTP/1.1 connection over the same endpoint. */
    private void handOn(String authority) {
        state = State.DONE;
        cancelTimeout();
        StringBuilder head = new StringBuilder(128).append("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ")
                .append(authority).append("\r\n");
        if (credentials != null) {
            head.append("Proxy-Authorization: ").append(credentials).append("\r\n");
        }
        upgradeBytes = ByteBuffer.wrap(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        credentials = null;
        LOG.debug("{} SOCKS5 client {} asks for CONNECT {}", id, client(), authority);
        EndPoint endPoint = getEndPoint();
        endPoint.upgrade(http.newConnection(connector, endPoint));
    }

    @Override
    public ByteBuffer onUpgradeFrom() {
        ByteBuffer b = upgradeBytes;
        upgradeBytes = null;
        return b;
    }

    private void replyAndContinue(byte[] reply) {
        getEndPoint().write(Callback.from(() -> {
            if (buffer.hasRemaining()) {
                getExecutor().execute(this::onFillable);
            } else {
                fillInterested();
            }
        }, failure -> {
            LOG.debug("{} SOCKS5 reply to {} failed: {}", id, client(), Failures.describe(failure));
            getEndPoint().close(failure);
        }), ByteBuffer.wrap(reply));
    }

    private void replyAndClose(byte[] reply) {
        state = State.DONE;
        cancelTimeout();
        getEndPoint().write(Callback.from(() -> getEndPoint().close(), getEndPoint()::close), ByteBuffer.wrap(reply));
    }

    private void refuse(String why) {
        LOG.info("{} SOCKS5 client {}: {}; closing", id, client(), why);
        state = State.DONE;
        cancelTimeout();
        getEndPoint().close();
    }

    /** A destination name that makes a valid authority: letters, digits, '.', '-', '_' (1..255). */
    static boolean validName(String name) {
        if (name.isEmpty()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'
                    || c == '_')) {
                return false;
            }
        }
        return true;
    }

    private String string(int at, int length) {
        return new String(bytes(at, length), StandardCharsets.UTF_8);
    }

    private byte[] bytes(int at, int length) {
        byte[] b = new byte[length];
        buffer.get(at, b);
        return b;
    }

    private InetSocketAddress client() {
        return RelayHandler.address(getEndPoint().getRemoteSocketAddress());
    }

    private InetSocketAddress local() {
        return RelayHandler.address(getEndPoint().getLocalSocketAddress());
    }
}
