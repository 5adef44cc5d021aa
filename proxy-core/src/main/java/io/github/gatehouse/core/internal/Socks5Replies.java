package io.github.gatehouse.core.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the relay's HTTP answer to a SOCKS5 client's {@code CONNECT} into the SOCKS5 reply (RFC 1928 §6). It is the
 * {@link HttpConfiguration.Customizer} of the SOCKS listener's HTTP/1.1 factory, so it sees only requests that a
 * {@link Socks5Connection} made.
 *
 * <ul>
 *   <li>{@code 200}: reply {@code 0x00} with the address the proxy connected from (written by the tunnel, see
 *   {@link #success}), then the tunnel.</li>
 *   <li>{@code 403} (filters, host rules, internal destination, port rules), {@code 407}, {@code 429}: {@code 0x02}
 *   (not allowed by ruleset).</li>
 *   <li>{@code 502}/{@code 504} by their {@code Proxy-Status} error: {@code connection_refused} {@code 0x05},
 *   {@code dns_error}, {@code destination_unavailable} and timeouts {@code 0x04} (host unreachable), others
 *   {@code 0x01}.</li>
 *   <li>anything else: {@code 0x01} (general failure).</li>
 * </ul>
 * The HTTP answer's body is not sent; the connection closes after the reply. The relay has already written the log
 * line and the access-log line for the refusal.
 *
 * <p>Stateless and thread-safe.
 */
final class Socks5Replies implements HttpConfiguration.Customizer {
    private static final Logger LOG = LoggerFactory.getLogger(Socks5Replies.class);
    /** Request attribute set on SOCKS5 requests: the tunnel answers with {@link #success} instead of HTTP. */
    static final String ATTRIBUTE = Socks5Replies.class.getName();

    @Override
    public Request customize(Request request, HttpFields.Mutable responseHeaders) {
        request.setAttribute(ATTRIBUTE, Boolean.TRUE);
        EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
        request.addHttpStreamWrapper(stream -> new Answer(stream, endPoint));
        return request;
    }

    /** The SOCKS5 success reply, with the proxy's address of the connection to the destination. */
    static ByteBuffer success(SocketAddress bound) {
        return ByteBuffer.wrap(reply(0x00, bound instanceof InetSocketAddress ? (InetSocketAddress) bound : null));
    }

    /** A SOCKS5 reply: {@code VER REP RSV ATYP BND.ADDR BND.PORT}; {@code 0.0.0.0:0} when {@code bound} is null. */
    static byte[] reply(int code, InetSocketAddress bound) {
        InetAddress a = bound == null ? null : bound.getAddress();
        byte[] address = a == null ? new byte[4] : a.getAddress();
        int port = bound == null ? 0 : bound.getPort();
        byte[] r = new byte[6 + address.length];
        r[0] = 5;
        r[1] = (byte) code;
        r[3] = (byte) (a == null || a instanceof Inet4Address ? 1 : 4);
        System.arraycopy(address, 0, r, 4, address.length);
        r[4 + address.length] = (byte) (port >> 8);
        r[5 + address.length] = (byte) port;
        return r;
    }

    /** The SOCKS5 reply code for the relay's refusal. */
    static int code(int status, String proxyStatus) {
        String error = proxyStatus == null ? "" : proxyStatus;
        return switch (status) {
            case 403, 407, 429 -> 0x02;
            case 502, 504 -> error.contains("error=connection_refused") ? 0x05
                    : error.contains("error=dns_error") || error.contains("error=destination_unavailable")
                            || error.contains("timeout") ? 0x04 : 0x01;
            default -> 0x01;
        };
    }

    /** Writes the SOCKS reply in place of a refusal's HTTP head, drops its body, and closes after it. */
    private static final class Answer extends HttpStream.Wrapper {
        private final EndPoint endPoint;
        private boolean replied;

        Answer(HttpStream wrapped, EndPoint endPoint) {
            super(wrapped);
            this.endPoint = endPoint;
        }

        @Override
        public void send(MetaData.Request request, MetaData.Response response, boolean last, ByteBuffer content,
                Callback callback) {
            if (replied || response == null) {
                callback.succeeded(); // the body of the refusal: not for a SOCKS client
                return;
            }
            replied = true;
            int code = code(response.getStatus(), response.getHttpFields().get("Proxy-Status"));
            LOG.debug("SOCKS5 reply 0x{} for HTTP {}", Integer.toHexString(code), response.getStatus());
            endPoint.write(Callback.from(callback::succeeded, callback::failed), ByteBuffer.wrap(reply(code, null)));
        }

        @Override
        public void succeeded() {
            super.succeeded();
            if (replied) {
                endPoint.close(); // RFC 1928 §6: the server closes the connection after a failure reply
            }
        }
    }
}
