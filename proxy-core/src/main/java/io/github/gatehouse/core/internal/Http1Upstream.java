package io.github.gatehouse.core.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import org.eclipse.jetty.io.ClientConnectionFactory;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lean upstream transport for cleartext HTTP/1.1: a pool of {@link Http1Connection}s per destination (host and
 * port), on one Jetty {@link ClientConnector}. It replaces jetty-client's request, conversation and destination
 * machinery on the relay's hottest path; TLS and HTTP/2 upstreams keep jetty-client.
 *
 * <p>Per destination: at most {@code maxConnections} connections; idle ones are reused most recent first (warm
 * connections stay warm, cold ones reach their idle timeout and close); a connection carries at most
 * {@value #MAX_REQUESTS_PER_CONNECTION} exchanges; exchanges beyond the limit wait in a bounded queue, in order.
 * Host names are resolved by the given resolver for each new connection (the forward proxy's resolver refuses
 * internal addresses after DNS), and the addresses are tried in order.
 *
 * <p><b>Threading.</b> Thread-safe: each pool's lists are guarded by the pool's lock, never held while calling out.
 */
final class Http1Upstream extends ContainerLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(Http1Upstream.class);
    /** Exchanges per connection before it is closed and replaced (nginx's keepalive_requests is 1000). */
    static final int MAX_REQUESTS_PER_CONNECTION = 10_000;
    /**
     * A busy connection's input buffer. 64 KiB, direct: against 16 KiB heap buffers, 100 KiB bodies went from 10.5-12.1k
     * to 14.8-16.4k rps on this 2-core machine (interleaved A/B), CPU per request from 92-102 to 73-80 us.
     */
    static final int BUFFER_SIZE = 64 * 1024;
    /** Input buffers kept for reuse, per transport: 16 MiB of direct memory at most. */
    private static final int BUFFERS_KEPT = 256;

    private final String name;
    private final ClientConnector connector;
    private final SocketAddressResolver resolver;
    private final Executor executor;
    private final int maxConnections;
    private final int maxQueued;
    private final int maxResponseHeaderSize;
    private final Duration idleTimeout;
    private final Map<String, Pool> pools = new ConcurrentHashMap<>();
    private final InputBuffers inputBuffers = new InputBuffers(BUFFER_SIZE, BUFFERS_KEPT,
            "guarded".equals(System.getProperty(JettyProxy.SERVER_BUFFERS_PROPERTY)));

    Http1Upstream(String name, Executor executor, Scheduler scheduler, SocketAddressResolver resolver,
            Duration connectTimeout, Duration idleTimeout, int maxConnections, int maxResponseHeaderSize) {
        this.name = name;
        this.executor = executor;
        this.resolver = resolver;
        this.maxConnections = maxConnections;
        this.maxQueued = Math.max(4096, maxConnections * 4);
        this.maxResponseHeaderSize = maxResponseHeaderSize;
        this.idleTimeout = idleTimeout;
        this.connector = new ResetAwareClientConnector();
        connector.setExecutor(executor);
        connector.setScheduler(scheduler);
        connector.setSelectors(1);
        connector.setConnectTimeout(connectTimeout);
        connector.setIdleTimeout(idleTimeout);
        connector.setByteBufferPool(org.eclipse.jetty.io.ByteBufferPool.NON_POOLING);
        addBean(connector);
    }

    /**
     * Hands {@code onConnection} a connection to {@code host:port} that is reserved for one exchange, or a failure.
     * {@code host} may be an IPv6 literal in brackets.
     *
     * @return true if the request was queued (no connection free, none may be opened): the caller bounds its wait
     */
    boolean acquire(String host, int port, BiConsumer<Http1Connection, Throwable> onConnection) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        Pool pool = pools.computeIfAbsent(h + ":" + port, k -> new Pool(h, port));
        return pool.acquire(onConnection);
    }

    @Override
    protected void doStop() throws Exception {
        for (Pool p : pools.values()) {
            p.close();
        }
        pools.clear();
        super.doStop();
    }

    @Override
    public String toString() {
        return "Http1Upstream[" + name + "]";
    }

    /** Jetty's component dump (the server's {@code dump()}, JMX): each pool's counts and connections. */
    @Override
    public void dump(Appendable out, String indent) throws IOException {
        dumpObjects(out, indent, pools.values().toArray());
    }

    /** The connections to one destination. */
    final class Pool implements ClientConnectionFactory, org.eclipse.jetty.util.component.Dumpable {
        private final String host;
        private final int port;
        private final ArrayDeque<Http1Connection> idle = new ArrayDeque<>();
        private final ArrayDeque<BiConsumer<Http1Connection, Throwable>> waiters = new ArrayDeque<>();
        private final java.util.Set<Http1Connection> all = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        /** Connections open or being opened. */
        private int total;
        /** Busy connections that are about to come back (their response's last bytes are being written). */
        private int completing;

        Pool(String host, int port) {
            this.host = host;
            this.port = port;
        }

        int maxRequestsPerConnection() {
            return MAX_REQUESTS_PER_CONNECTION;
        }

        boolean acquire(BiConsumer<Http1Connection, Throwable> onConnection) {
            Http1Connection reuse = null;
            boolean open = false;
            synchronized (this) {
                while (!idle.isEmpty()) {
                    Http1Connection c = idle.pollFirst();
                    if (c.isIdleAndOpen() && c.activate()) {
                        reuse = c;
                        break;
                    }
                }
                if (reuse == null) {
                    if (completing > waiters.size()) {
                        waiters.addLast(onConnection); // one is about to come back: cheaper than a new connection
                        return true;
                    }
                    if (total < maxConnections) {
                        total++;
                        open = true;
                    } else if (waiters.size() < maxQueued) {
                        waiters.addLast(onConnection);
                        return true;
                    }
                }
            }
            if (reuse != null) {
                onConnection.accept(reuse, null);
            } else if (open) {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} opening a connection ({} open or opening, {} about to come back)", this, total, completing);
                }
                connect(onConnection);
            } else {
                onConnection.accept(null, new RejectedExecutionException("too many requests queued for " + this));
            }
            return false;
        }

        /** Back from an exchange, idle: to the next waiter, else to the front of the idle list. */
        void release(Http1Connection c) {
            BiConsumer<Http1Connection, Throwable> waiter;
            synchronized (this) {
                waiter = waiters.pollFirst();
                if (waiter == null) {
                    idle.addFirst(c);
                    return;
                }
            }
            if (!c.activate()) { // closed meanwhile: the waiter gets a new one
                acquire(waiter);
                return;
            }
            dispatch(waiter, c, null);
        }

        /** A busy connection is about to come back: a request that finds none idle waits for it. */
        synchronized void expect() {
            completing++;
        }

        /** It came back (or closed): see {@link #release} and {@link #remove}. */
        synchronized void unexpect() {
            completing--;
        }

        void opened(Http1Connection c) {
            synchronized (this) {
                all.add(c);
            }
        }

        /** A connection closed: its place goes to a waiter, if any. */
        void remove(Http1Connection c) {
            BiConsumer<Http1Connection, Throwable> waiter = null;
            synchronized (this) {
                if (!all.remove(c)) {
                    return;
                }
                idle.remove(c);
                total--;
                if (!waiters.isEmpty() && total < maxConnections) {
                    waiter = waiters.pollFirst();
                    total++;
                }
            }
            if (waiter != null) {
                BiConsumer<Http1Connection, Throwable> w = waiter;
                try {
                    executor.execute(() -> connect(w));
                } catch (RejectedExecutionException e) {
                    connectFailed(w, e);
                }
            }
        }

        private void dispatch(BiConsumer<Http1Connection, Throwable> waiter, Http1Connection c, Throwable failure) {
            try {
                executor.execute(() -> waiter.accept(c, failure));
            } catch (RejectedExecutionException e) {
                waiter.accept(c, failure);
            }
        }

        /** Resolves (each time: DNS may move) and connects, trying each address in turn. */
        private void connect(BiConsumer<Http1Connection, Throwable> onConnection) {
            resolver.resolve(host, port, new HashMap<>(), new Promise<>() {
                @Override
                public void succeeded(List<InetSocketAddress> addresses) {
                    connect(addresses, 0, onConnection, null);
                }

                @Override
                public void failed(Throwable failure) {
                    connectFailed(onConnection, failure);
                }
            });
        }

        private void connect(List<InetSocketAddress> addresses, int index, BiConsumer<Http1Connection, Throwable> onConnection,
                Throwable previous) {
            if (index >= addresses.size()) {
                connectFailed(onConnection, previous != null ? previous
                        : new java.net.UnknownHostException(host + ": no address"));
                return;
            }
            Map<String, Object> context = new HashMap<>();
            context.put(org.eclipse.jetty.io.Transport.CONTEXT_KEY, org.eclipse.jetty.io.Transport.TCP_IP);
            context.put(ClientConnectionFactory.CONTEXT_KEY, this);
            context.put(ClientConnector.CONNECTION_PROMISE_CONTEXT_KEY, new Promise<Connection>() {
                @Override
                public void succeeded(Connection connection) {
                    Http1Connection c = (Http1Connection) connection;
                    c.activate();
                    onConnection.accept(c, null);
                }

                @Override
                public void failed(Throwable failure) {
                    if (index + 1 < addresses.size()) {
                        connect(addresses, index + 1, onConnection, failure);
                    } else {
                        connectFailed(onConnection, failure);
                    }
                }
            });
            connector.connect(addresses.get(index), context);
        }

        private void connectFailed(BiConsumer<Http1Connection, Throwable> onConnection, Throwable failure) {
            synchronized (this) {
                total--;
            }
            onConnection.accept(null, failure);
        }

        @Override
        public Connection newConnection(EndPoint endPoint, Map<String, Object> context) throws IOException {
            endPoint.setIdleTimeout(idleTimeout.toMillis());
            return new Http1Connection(endPoint, executor, this, maxResponseHeaderSize, inputBuffers);
        }

        void close() {
            List<Http1Connection> open;
            List<BiConsumer<Http1Connection, Throwable>> waiting;
            synchronized (this) {
                open = List.copyOf(all);
                waiting = List.copyOf(waiters);
                waiters.clear();
            }
            for (Http1Connection c : open) {
                c.getEndPoint().close();
            }
            for (BiConsumer<Http1Connection, Throwable> w : waiting) {
                w.accept(null, new java.nio.channels.ClosedChannelException());
            }
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public void dump(Appendable out, String indent) throws IOException {
            List<Http1Connection> open;
            String counts;
            synchronized (this) {
                open = List.copyOf(all);
                counts = this + " total=" + total + " open=" + all.size() + " idle=" + idle.size() + " completing="
                        + completing + " waiters=" + waiters.size();
            }
            org.eclipse.jetty.util.component.Dumpable.dumpObjects(out, indent, counts,
                    open.stream().map(Http1Connection::toConnectionString).toArray());
        }
    }

    /**
     * The direct input buffers of busy connections (see {@link Http1Connection}): taken when an exchange starts, given
     * back when it ended cleanly. Up to {@code kept} free buffers wait for reuse; beyond that a given-back buffer is
     * left to the garbage collector, so idle connections pin no memory. Guarded ({@code
     * -Dgatehouse.server.buffers=guarded}, the diagnostic mode of the server's buffers too), a given-back buffer is
     * overwritten with {@code '~'} and never reused: a view that outlived its exchange then relays tildes, which a
     * body check sees at once. Thread-safe: a lock-free queue and counter.
     */
    static final class InputBuffers {
        private final int capacity;
        private final int kept;
        private final java.util.concurrent.ConcurrentLinkedQueue<java.nio.ByteBuffer> free =
                new java.util.concurrent.ConcurrentLinkedQueue<>();
        private final java.util.concurrent.atomic.AtomicInteger freeCount = new java.util.concurrent.atomic.AtomicInteger();

        private final boolean guarded;

        InputBuffers(int capacity, int kept, boolean guarded) {
            this.capacity = capacity;
            this.kept = kept;
            this.guarded = guarded;
        }

        /** An empty buffer (flush mode: nothing to read yet), reused or new. */
        java.nio.ByteBuffer take() {
            java.nio.ByteBuffer b = free.poll();
            if (b == null) {
                return org.eclipse.jetty.util.BufferUtil.allocateDirect(capacity);
            }
            freeCount.decrementAndGet();
            org.eclipse.jetty.util.BufferUtil.clear(b);
            return b;
        }

        /** Gives back a buffer that nobody reads any more. */
        void give(java.nio.ByteBuffer b) {
            if (guarded) {
                java.nio.ByteBuffer all = b.duplicate(); // the whole capacity; b's own position and limit stay
                all.clear();
                while (all.hasRemaining()) {
                    all.put((byte) '~');
                }
                return;
            }
            if (freeCount.incrementAndGet() <= kept) {
                free.offer(b);
            } else {
                freeCount.decrementAndGet();
            }
        }

        /** Free buffers waiting for reuse (tests). */
        int free() {
            return freeCount.get();
        }
    }
}
