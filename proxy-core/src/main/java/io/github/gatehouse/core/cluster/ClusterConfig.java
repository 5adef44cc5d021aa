package io.github.gatehouse.core.cluster;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How one Gatehouse instance joins the others: its member port and interface, the other members' addresses, and the
 * cluster name. Members find each other by TCP-IP join on the listed addresses only (no multicast, no discovery).
 *
 * <p><b>Security.</b> The engine (Hazelcast, open-source edition) neither authenticates members nor encrypts their
 * traffic: anyone who reaches the cluster port can join and read or change the shared cache and limits. The port is
 * bound to {@link #bindHost} only (loopback by default); put it on a private network.
 *
 * <p><b>Threading.</b> Immutable.
 *
 * <pre>{@code
 * ClusterConfig config = ClusterConfig.builder()
 *     .name("edge")
 *     .bind("10.0.0.1", 5701)
 *     .member("10.0.0.2:5701").member("10.0.0.3:5701")
 *     .build();
 * }</pre>
 */
public final class ClusterConfig {
    /** The default member port (Hazelcast's). */
    public static final int DEFAULT_PORT = 5701;

    private final String name;
    private final String bindHost;
    private final int port;
    private final boolean portAutoIncrement;
    private final List<String> members;
    private final Duration operationTimeout;

    private ClusterConfig(Builder b) {
        this.name = b.name;
        this.bindHost = b.bindHost;
        this.port = b.port;
        this.portAutoIncrement = b.portAutoIncrement;
        this.members = List.copyOf(b.members);
        this.operationTimeout = b.operationTimeout;
    }

    /** A builder: cluster {@code gatehouse}, loopback, port 5701, no other member yet. */
    public static Builder builder() {
        return new Builder();
    }

    /** The cluster name: members with another name do not join. */
    public String name() {
        return name;
    }

    /** The interface the member port is bound to. */
    public String bindHost() {
        return bindHost;
    }

    /** The member port. */
    public int port() {
        return port;
    }

    /** Whether the next free port is taken when {@link #port} is busy (tests with several members in one JVM). */
    public boolean portAutoIncrement() {
        return portAutoIncrement;
    }

    /** The other members, {@code host:port} (or {@code host}, port 5701), in the order given. */
    public List<String> members() {
        return members;
    }

    /**
     * The longest a request waits on the cluster (a shared-cache read or write, a fill lock): after it, the request
     * goes on as if the shared tier had nothing (a miss, an unshared store) rather than wait.
     */
    public Duration operationTimeout() {
        return operationTimeout;
    }

    @Override
    public String toString() {
        return "ClusterConfig{name=" + name + ", bind=" + bindHost + ":" + port + ", members=" + members + "}";
    }

    /** Builds a {@link ClusterConfig}; checks each value when given. Not thread-safe. */
    public static final class Builder {
        private String name = "gatehouse";
        private String bindHost = "127.0.0.1";
        private int port = DEFAULT_PORT;
        private boolean portAutoIncrement;
        private final List<String> members = new ArrayList<>();
        private Duration operationTimeout = Duration.ofMillis(500);

        private Builder() {
        }

        /** The cluster name ({@code gatehouse} by default). */
        public Builder name(String name) {
            requireNonNull(name, "name");
            checkArgument(!name.isBlank(), "cluster name: '%s' (expected: not blank)", name);
            this.name = name;
            return this;
        }

        /** Binds the member port to {@code host}:{@code port} (127.0.0.1:5701 by default). */
        public Builder bind(String host, int port) {
            requireNonNull(host, "host");
            checkArgument(!host.isBlank(), "bind host: '%s' (expected: an address)", host);
            checkArgument(port > 0 && port < 65536, "cluster port: %s (expected: 1..65535)", port);
            this.bindHost = host;
            this.port = port;
            return this;
        }

        /** The member port on the current bind host. */
        public Builder port(int port) {
            return bind(bindHost, port);
        }

        /** Takes the next free port when the configured one is busy (off by default). */
        public Builder portAutoIncrement(boolean enabled) {
            this.portAutoIncrement = enabled;
            return this;
        }

        /** Adds another member, {@code host:port} or {@code host} (port 5701). */
        public Builder member(String hostPort) {
            requireNonNull(hostPort, "hostPort");
            String s = hostPort.trim();
            int colon = s.lastIndexOf(':');
            checkArgument(!s.isEmpty() && colon != 0, "cluster member: '%s' (expected: host:port)", hostPort);
            if (colon > 0) {
                String p = s.substring(colon + 1);
                int n;
                try {
                    n = Integer.parseInt(p);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("cluster member: '" + hostPort + "' (expected: host:port)", e);
                }
                checkArgument(n > 0 && n < 65536, "cluster member: '%s' (expected: a port in 1..65535)", hostPort);
            }
            members.add(s);
            return this;
        }

        /** Adds each of {@code hostPorts}. */
        public Builder members(List<String> hostPorts) {
            hostPorts.forEach(this::member);
            return this;
        }

        /** The longest a request waits on the cluster (500 ms by default); see {@link ClusterConfig#operationTimeout}. */
        public Builder operationTimeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            checkArgument(timeout.compareTo(Duration.ZERO) > 0, "operationTimeout: %s (expected: > 0)", timeout);
            this.operationTimeout = timeout;
            return this;
        }

        /** The configuration. */
        public ClusterConfig build() {
            return new ClusterConfig(this);
        }
    }
}
