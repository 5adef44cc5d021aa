package io.github.gatehouse.filter.internal;

import com.google.common.net.InetAddresses;
import java.net.IDN;
import java.net.InetAddress;
import java.util.Locale;

/**
 * Puts host names and IP literals in one canonical form, so that {@code EXAMPLE.com.}, {@code example.com} and
 * {@code xn--...} spellings compare equal: lower case, no trailing dot, no IPv6 brackets, IDN labels in punycode,
 * IPv4 in dotted quad (also from the one-to-three-part forms {@code 2130706433} and {@code 127.1}), IPv6 compressed.
 * Never touches DNS. Thread-safe (stateless).
 */
public final class HostNames {
    private HostNames() {
    }

    /**
     * Returns the canonical form of {@code host}.
     *
     * @throws IllegalArgumentException if {@code host} is empty or not a valid name
     */
    public static String normalize(String host) {
        String h = host.trim();
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (h.isEmpty()) {
            throw new IllegalArgumentException("host: '" + host + "' (expected: a host name or IP literal)");
        }
        if (h.indexOf(':') >= 0) {
            int zone = h.indexOf('%');
            String literal = zone >= 0 ? h.substring(0, zone) : h;
            if (!InetAddresses.isInetAddress(literal)) {
                throw new IllegalArgumentException("host: '" + host + "' (expected: a host name or IP literal)");
            }
            return InetAddresses.toAddrString(InetAddresses.forString(literal));
        }
        String ipv4 = numericIpv4(h);
        if (ipv4 != null) {
            return ipv4;
        }
        boolean ascii = true;
        for (int i = 0; i < h.length(); i++) {
            if (h.charAt(i) >= 0x80) {
                ascii = false;
                break;
            }
        }
        if (!ascii) {
            try {
                h = IDN.toASCII(h, IDN.ALLOW_UNASSIGNED);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("host: '" + host + "' (expected: a valid internationalised name)", e);
            }
        }
        return h.toLowerCase(Locale.ROOT);
    }

    /** Whether {@code normalizedHost} is an IP literal (after {@link #normalize}). */
    public static boolean isIpLiteral(String normalizedHost) {
        return normalizedHost.indexOf(':') >= 0 || numericIpv4(normalizedHost) != null;
    }

    /** Parses an IP literal that {@link #normalize} produced, without DNS; {@code null} for names. */
    public static InetAddress toAddress(String normalizedHost) {
        String h = normalizedHost;
        if (h.indexOf(':') < 0) {
            h = numericIpv4(h);
            if (h == null) {
                return null;
            }
        }
        return InetAddresses.isInetAddress(h) ? InetAddresses.forString(h) : null;
    }

    /** inet_aton's decimal forms: a, a.b, a.b.c, a.b.c.d, the last part filling the remaining bytes. */
    private static String numericIpv4(String h) {
        if (h.isEmpty() || h.length() > 15) {
            return null;
        }
        for (int i = 0; i < h.length(); i++) {
            char c = h.charAt(i);
            if (!(c >= '0' && c <= '9') && c != '.') {
                return null;
            }
        }
        String[] parts = h.split("\\.", -1);
        if (parts.length > 4) {
            return null;
        }
        long[] values = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (parts[i].isEmpty() || parts[i].length() > 10) {
                return null;
            }
            values[i] = Long.parseLong(parts[i]);
        }
        long address = 0;
        for (int i = 0; i < parts.length - 1; i++) {
            if (values[i] > 255) {
                return null;
            }
            address |= values[i] << (24 - 8 * i);
        }
        long lastMax = (1L << (8 * (5 - parts.length))) - 1;
        long last = values[parts.length - 1];
        if (last > lastMax) {
            return null;
        }
        address |= last;
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }
}
