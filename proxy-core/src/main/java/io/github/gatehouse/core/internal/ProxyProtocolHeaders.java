package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.ProxyProtocolVersion;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.client.ProxyProtocolClientConnectionFactory.V1;
import org.eclipse.jetty.client.ProxyProtocolClientConnectionFactory.V2;

/**
 * The PROXY protocol header a pool sends to its members ({@link io.github.gatehouse.core.UpstreamPool#proxyProtocol}):
 * as a jetty-client request tag ({@link #tag}: jetty-client writes it on each new connection of the tag's destination,
 * so connections are never shared between client addresses), and as bytes ({@link #header}) for the connections the
 * relay opens itself (upgrades). Both name the exchange's client address as the source and the address it reached
 * Gatehouse on as the destination; a pair of different families keeps the source and names the source family's
 * wildcard address as the destination (v1 and v2 carry one family); an unknown source is v1 {@code UNKNOWN} or v2
 * {@code LOCAL}.
 *
 * <p>Stateless and thread-safe.
 */
final class ProxyProtocolHeaders {
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private ProxyProtocolHeaders() {
    }

    /** What a header carries: both addresses of one family, or nothing (unknown). */
    private record Addresses(InetAddress source, int sourcePort, InetAddress destination, int destinationPort) {
        boolean ipv4() {
            return source instanceof Inet4Address;
        }
    }

    private static Addresses addresses(InetSocketAddress source, InetSocketAddress destination) {
        if (source == null || source.isUnresolved() || source.getAddress() == null
                || source.getAddress().isAnyLocalAddress() && source.getPort() == 0) {
            return null;
        }
        InetAddress src = source.getAddress();
        InetAddress dst = destination == null || destination.isUnresolved() ? null : destination.getAddress();
        int dstPort = destination == null ? 0 : destination.getPort();
        if (dst == null || (dst instanceof Inet4Address) != (src instanceof Inet4Address)) {
            dst = wildcard(src instanceof Inet4Address);
        }
        return new Addresses(src, source.getPort(), dst, dstPort);
    }

    private static InetAddress wildcard(boolean ipv4) {
        try {
            return InetAddress.getByAddress(new byte[ipv4 ? 4 : 16]);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e); // a literal of the right length
        }
    }

    /** The address as text, without an IPv6 scope ({@code %eth0}), which the header has no room for. */
    private static String text(InetAddress address) {
        String s = address.getHostAddress();
        int scope = s.indexOf('%');
        return scope < 0 ? s : s.substring(0, scope);
    }

    /** The jetty-client request tag that makes its connections start with the header. */
    static Object tag(ProxyProtocolVersion version, InetSocketAddress source, InetSocketAddress destination) {
        Addresses a = addresses(source, destination);
        if (version == ProxyProtocolVersion.V1) {
            return a == null ? V1.Tag.UNKNOWN : new V1.Tag(a.ipv4() ? "TCP4" : "TCP6", text(a.source()),
                    a.sourcePort(), text(a.destination()), a.destinationPort());
        }
        return a == null ? V2.Tag.LOCAL : new V2.Tag(V2.Tag.Command.PROXY, a.ipv4() ? V2.Tag.Family.INET4 : V2.Tag.Family.INET6,
                V2.Tag.Protocol.STREAM, text(a.source()), a.sourcePort(), text(a.destination()),
                a.destinationPort(), null);
    }

    /** The tag for a connection that carries no client's traffic (health checks): v1 {@code UNKNOWN}, v2 {@code LOCAL}. */
    static Object localTag(ProxyProtocolVersion version) {
        return version == ProxyProtocolVersion.V1 ? V1.Tag.UNKNOWN : V2.Tag.LOCAL;
    }

    /** The header's bytes, as the tag of the same arguments makes jetty-client write them. */
    static ByteBuffer header(ProxyProtocolVersion version, InetSocketAddress source, InetSocketAddress destination) {
        Addresses a = addresses(source, destination);
        if (version == ProxyProtocolVersion.V1) {
            String line = a == null ? "PROXY UNKNOWN\r\n"
                    : "PROXY " + (a.ipv4() ? "TCP4 " : "TCP6 ") + text(a.source()) + " "
                            + text(a.destination()) + " " + a.sourcePort() + " " + a.destinationPort() + "\r\n";
            return ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII));
        }
        int length = a == null ? 0 : a.ipv4() ? 12 : 36;
        ByteBuffer b = ByteBuffer.allocate(V2_SIGNATURE.length + 4 + length);
        b.put(V2_SIGNATURE);
        b.put((byte) (a == null ? 0x20 : 0x21)); // version 2, LOCAL or PROXY
        b.put((byte) (a == null ? 0x00 : a.ipv4() ? 0x11 : 0x21)); // UNSPEC, or TCP over IPv4 / IPv6
        b.putShort((short) length);
        if (a != null) {
            b.put(a.source().getAddress()).put(a.destination().getAddress());
            b.putShort((short) a.sourcePort()).putShort((short) a.destinationPort());
        }
        return b.flip();
    }
}
