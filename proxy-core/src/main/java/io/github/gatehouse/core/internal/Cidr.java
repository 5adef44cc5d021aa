package io.github.gatehouse.core.internal;

import static java.util.Objects.requireNonNull;

import com.google.common.net.InetAddresses;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * An IPv4 or IPv6 address block ({@code 10.0.0.0/8}, {@code ::1}, {@code fd00::/8}). IPv4-mapped IPv6 addresses
 * match IPv4 blocks. Immutable and thread-safe.
 */
public final class Cidr {
    private final byte[] network;
    private final int prefix;
    private final String text;

    private Cidr(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    /**
     * Parses an address or {@code address/prefix}; IP literals only, never a DNS lookup.
     *
     * @throws IllegalArgumentException if {@code text} is not such a block
     */
    public static Cidr parse(String text) {
        requireNonNull(text, "cidr");
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        if (addr.startsWith("[") && addr.endsWith("]")) {
            addr = addr.substring(1, addr.length() - 1);
        }
        if (!InetAddresses.isInetAddress(addr)) {
            throw new IllegalArgumentException("address block: " + text + " (expected: an IP address or CIDR such as 10.0.0.0/8)");
        }
        byte[] bytes = InetAddresses.forString(addr).getAddress();
        int prefix;
        try {
            prefix = slash < 0 ? bytes.length * 8 : Integer.parseInt(t.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("address block: " + text + " (expected: a prefix length after /)", e);
        }
        if (prefix < 0 || prefix > bytes.length * 8) {
            throw new IllegalArgumentException("address block: " + text + " (expected: prefix 0.." + bytes.length * 8 + ")");
        }
        return new Cidr(bytes, prefix, t);
    }

    /** Whether {@code address} is in this block. */
    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (address instanceof Inet6Address && network.length == 4) {
            InetAddress v4 = mappedV4(a);
            if (v4 == null) {
                return false;
            }
            a = v4.getAddress();
        } else if (address instanceof Inet4Address && network.length == 16) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (a[full] & mask) == (network[full] & mask);
    }

    private static InetAddress mappedV4(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return null;
            }
        }
        if ((a[10] & 0xff) != 0xff || (a[11] & 0xff) != 0xff) {
            return null;
        }
        try {
            return InetAddress.getByAddress(new byte[] {a[12], a[13], a[14], a[15]});
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
