package io.github.gatehouse.core.internal;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which resolved addresses a forward proxy may reach. Internal destinations are denied unless allowed: the proxy
 * host itself (loopback, the wildcard address, every address of a local interface), link-local addresses
 * (169.254.0.0/16 with the cloud metadata service, fe80::/10) and multicast. Checks compare resolved
 * {@link InetAddress}es, never strings, so {@code 127.1}, {@code 2130706433}, {@code [::ffff:127.0.0.1]} and
 * {@code localhost} are all loopback. Immutable after construction; thread-safe.
 */
public final class DestinationPolicy {
    private static final Logger LOG = LoggerFactory.getLogger(DestinationPolicy.class);

    private final boolean allowAll;
    private final Set<InetSocketAddress> allowed;
    private final Set<InetAddress> localAddresses;

    private DestinationPolicy(boolean allowAll, Set<InetSocketAddress> allowed, Set<InetAddress> localAddresses) {
        this.allowAll = allowAll;
        this.allowed = allowed;
        this.localAddresses = localAddresses;
    }

    /** Builds the policy; resolves the allowed {@code host:port} entries and lists local interface addresses. */
    public static DestinationPolicy create(boolean allowAll, List<String> allowedHostPorts) throws UnknownHostException {
        Set<InetSocketAddress> allowed = new HashSet<>();
        for (String hp : allowedHostPorts) {
            HostPort parsed = HostPort.parse(hp);
            for (InetAddress a : InetAddress.getAllByName(parsed.host())) {
                allowed.add(new InetSocketAddress(normalize(a), parsed.port()));
            }
        }
        Set<InetAddress> local = new HashSet<>();
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(ni.getInetAddresses())) {
                    local.add(normalize(a));
                }
            }
        } catch (SocketException e) {
            LOG.warn("cannot list local interface addresses; only loopback counts as this host: {}", e.toString());
        }
        return new DestinationPolicy(allowAll, Set.copyOf(allowed), Set.copyOf(local));
    }

    /**
     * Checks that {@code hostPort} is {@code host:port} ({@code [v6]:port} for IPv6).
     *
     * @throws IllegalArgumentException if it is not
     */
    public static void checkHostPort(String hostPort) {
        HostPort.parse(hostPort);
    }

    /** Whether the proxy may connect to {@code address}. */
    public boolean allows(InetSocketAddress address) {
        if (allowAll || address.getAddress() == null) {
            return true;
        }
        InetAddress a = normalize(address.getAddress());
        if (!isInternal(a)) {
            return true;
        }
        return allowed.contains(new InetSocketAddress(a, address.getPort()));
    }

    /** Whether {@code a} is this host, link-local or multicast. */
    public boolean isInternal(InetAddress address) {
        InetAddress a = normalize(address);
        return a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || a.isMulticastAddress()
                || localAddresses.contains(a);
    }

    /** IPv4-mapped IPv6 addresses become their IPv4 address; scope ids are dropped. */
    static InetAddress normalize(InetAddress a) {
        if (a instanceof Inet6Address) {
            byte[] b = a.getAddress();
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            mapped &= (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
            try {
                if (mapped) {
                    return InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
                }
                return InetAddress.getByAddress(b);
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
        return a;
    }

    /** A {@code host:port} pair ({@code [v6]:port} for IPv6). */
    record HostPort(String host, int port) {
        static HostPort parse(String text) {
            String t = text.trim();
            int colon = t.lastIndexOf(':');
            if (colon <= 0 || colon == t.length() - 1) {
                throw new IllegalArgumentException("destination: " + text + " (expected: host:port)");
            }
            String host = t.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            } else if (host.indexOf(':') >= 0) {
                throw new IllegalArgumentException("destination: " + text + " (expected: [v6-address]:port for IPv6)");
            }
            int port;
            try {
                port = Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("destination: " + text + " (expected: host:port)", e);
            }
            if (port < 1 || port > 65535 || host.isEmpty()) {
                throw new IllegalArgumentException("destination: " + text + " (expected: host:port with port 1..65535)");
            }
            return new HostPort(host, port);
        }
    }

    /** Thrown when every address of a destination is denied. */
    public static final class DeniedDestinationException extends java.io.IOException {
        private static final long serialVersionUID = 1L;

        DeniedDestinationException(String host, int port, InetAddress address) {
            super(host + ":" + port + " is an internal destination (" + address.getHostAddress()
                    + ") that this proxy does not reach");
        }
    }
}
