package io.github.gatehouse.filter.internal;

import com.google.common.net.InetAddresses;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * An IPv4 or IPv6 address block such as {@code 10.0.0.0/8} or {@code 2001:db8::/32}; a bare address is a /32 or
 * /128. IPv4-mapped IPv6 addresses ({@code ::ffff:10.1.2.3}) are compared as IPv4. Immutable, thread-safe.
 */
public final class CidrBlock {
    private final byte[] network;
    private final int prefix;
    private final String text;

    private CidrBlock(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    /**
     * Parses {@code address[/prefix]}, without DNS.
     *
     * @throws IllegalArgumentException naming {@code text} if it is not such a block
     */
    public static CidrBlock parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash >= 0 ? t.substring(0, slash) : t;
        if (addr.startsWith("[") && addr.endsWith("]")) {
            addr = addr.substring(1, addr.length() - 1);
        }
        if (!InetAddresses.isInetAddress(addr)) {
            throw new IllegalArgumentException("cidr: '" + text + "' (expected: an IP address or block such as 10.0.0.0/8)");
        }
        byte[] bytes = canonicalBytes(InetAddresses.forString(addr));
        int max = bytes.length * 8;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("cidr: '" + text + "' (expected: prefix length 0.." + max + ")");
            }
        }
        byte[] network = bytes.clone();
        for (int i = 0; i < network.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            network[i] &= (byte) (0xff << (8 - keep));
        }
        return new CidrBlock(network, prefix, t);
    }

    /** Whether {@code address} lies in this block. */
    public boolean contains(InetAddress address) {
        if (address == null) {
            return false;
        }
        byte[] a = canonicalBytes(address);
        if (a.length != network.length) {
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
        int mask = 0xff << (8 - rest);
        return (a[full] & mask) == (network[full] & mask);
    }

    private static byte[] canonicalBytes(InetAddress address) {
        if (address instanceof Inet6Address) {
            byte[] b = address.getAddress();
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
                return new byte[] {b[12], b[13], b[14], b[15]};
            }
            return b;
        }
        if (address instanceof Inet4Address) {
            return address.getAddress();
        }
        return address.getAddress();
    }

    @Override
    public String toString() {
        return text;
    }
}
