package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.UnixOperatingSystemMXBean;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.ConnectionEvents;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * 5,000 idle client connections and 1,000 idle CONNECT tunnels held at once: the proxy still answers a new request
 * promptly, and once they close, every file descriptor they took is released (counted for this JVM, which holds
 * the clients, the proxy and the origins alike).
 *
 * <p>Nothing is polled: the test waits for the connection events themselves (the proxy's and the origin's Jetty
 * connectors, the proxy's access-log line for each closed tunnel, the echo server's own count), then for each
 * selector to have run a {@code select()}, which releases the descriptors of channels closed before it, and reads
 * the descriptor count once.
 */
class IdleConnectionsAtScaleTest {
    private static final int IDLE = 5_000;
    private static final int TUNNELS = 1_000;
    /** Client and proxy side of each idle connection; client, proxy-client, proxy-upstream, echo side of a tunnel. */
    private static final int FDS_HELD = 2 * IDLE + 4 * TUNNELS;
    /**
     * Descriptors the rest of the JVM may close meanwhile (a jar the class loader let go, the warm-up's pooled upstream
     * connection at its idle timeout): a CI run once counted 13,999 of the 14,000 held ones, with every connection open.
     */
    private static final int JVM_SLACK = 16;

    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("scale")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin scale " + req.path()));

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void thousandsOfIdleConnectionsAndTunnelsLeaveTheProxyResponsiveAndAreFreedOnClose() throws Exception {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        Assumptions.assumeTrue(os instanceof UnixOperatingSystemMXBean, "needs a Unix JVM to count file descriptors");
        UnixOperatingSystemMXBean unix = (UnixOperatingSystemMXBean) os;
        long headroom = unix.getMaxFileDescriptorCount() - unix.getOpenFileDescriptorCount();
        Assumptions.assumeTrue(headroom >= FDS_HELD + 1_000, "needs " + (FDS_HELD + 1_000)
                + " free file descriptors (ulimit -n); this JVM has " + headroom);

        List<Socket> clients = new ArrayList<>(IDLE + TUNNELS + 1);
        try (EchoServer echo = new EchoServer()) {
            // The first proxy of a JVM opens JDK singletons for good (SecureRandom's /dev/random and /dev/urandom):
            // one started and closed first keeps them out of the count.
            try (ProxyServer warmUp = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(echo.port())
                    .accessLog(AccessLog.off()).build().start()) {
                assertThat(forwardGet(warmUp).status()).isEqualTo(200);
                closeAll(openTunnels(warmUp.port(), echo.port(), 1));
            }
            // A stopped proxy has closed its descriptors; its peers close theirs once they see it: the origin its side
            // of the pooled upstream connection, the echo server its side of the tunnel.
            origin.awaitAllConnectionsClosed();
            echo.awaitAllClosed();
            long beforeProxy = unix.getOpenFileDescriptorCount();
            java.util.Set<String> beforeProxyFds = fds();
            TunnelLog tunnelLog = new TunnelLog();
            ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(echo.port())
                    .accessLog(tunnelLog).build().start();
            ConnectionEvents proxyConnections = ConnectionEvents.on(proxy.connector(), "proxy");
            try {
                assertThat(forwardGet(proxy).bodyText()).isEqualTo("hello");   // warms the upstream pool up
                proxyConnections.awaitAllReleased();   // the proxy's side of that client connection closed too
                long baseline = unix.getOpenFileDescriptorCount();
                java.util.Set<String> baselineFds = fds();

                long t0 = System.nanoTime();
                int openedBefore = proxyConnections.opened();
                for (int i = 0; i < IDLE; i++) {
                    clients.add(new Socket("127.0.0.1", proxy.port()));       // connected, then silent
                }
                List<Socket> tunnels = openTunnels(proxy.port(), echo.port());
                clients.addAll(tunnels);
                // each tunnel answered its echo, so its upstream and echo sockets are open; each idle connection is
                // open on the proxy's side once the proxy accepted it
                proxyConnections.awaitOpened(openedBefore + IDLE + TUNNELS);
                long opened = System.nanoTime() - t0;
                long held = unix.getOpenFileDescriptorCount();
                assertThat(held).as(() -> String.format("open file descriptors with every idle connection and tunnel held"
                        + " (baseline %d); opened since: %s", baseline, newFds(baselineFds)))
                        .isGreaterThanOrEqualTo(baseline + FDS_HELD - JVM_SLACK);

                // the proxy still serves a new request, and a new tunnel, while all of them are held
                long t1 = System.nanoTime();
                RawHttp.Reply reply = CompletableFuture.supplyAsync(() -> {
                    try {
                        return forwardGet(proxy);
                    } catch (IOException e) {
                        throw new CompletionException(e);
                    }
                }).get(5, TimeUnit.SECONDS);
                long answered = System.nanoTime() - t1;
                assertThat(reply.status()).isEqualTo(200);
                assertThat(reply.bodyText()).isEqualTo("hello");
                try (Socket fresh = openTunnels(proxy.port(), echo.port(), 1).get(0)) {
                    assertThat(fresh.isConnected()).isTrue();
                }
                // the first idle connection is still open and usable after all that
                Socket first = clients.get(0);
                first.setSoTimeout(10_000);
                first.getOutputStream().write(("GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(first.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1))
                        .startsWith("HTTP/1.1 200 ").endsWith("\r\n\r\nhello");

                long peak = unix.getOpenFileDescriptorCount();
                closeAll(clients);
                // The proxy closes each client connection (an event of its connector; a tunnel's was replaced by the
                // tunnel at its upgrade), both sides of each tunnel (then logs it), and the echo server its side.
                proxyConnections.awaitAllClosed();
                tunnelLog.awaitTunnels(TUNNELS + 1);
                echo.awaitAllClosed();
                ConnectionEvents.awaitSelectorsCycled(proxy.connector().getServer());
                long closed = unix.getOpenFileDescriptorCount();
                assertThat(closed).as(() -> String.format("open file descriptors after closing every client connection"
                        + " (baseline %d, peak %d); opened since: %s", baseline, peak, newFds(baselineFds)))
                        .isLessThanOrEqualTo(baseline);
                System.out.printf("idle-at-scale: %d idle connections + %d tunnels opened in %d ms; a new request"
                        + " answered in %d ms while held; fds %d -> %d -> %d%n", IDLE, TUNNELS,
                        TimeUnit.NANOSECONDS.toMillis(opened), TimeUnit.NANOSECONDS.toMillis(answered), baseline, peak,
                        closed);
            } finally {
                proxy.close();
            }
            origin.awaitAllConnectionsClosed();   // the origin's side of the proxy's pooled upstream connection
            echo.awaitAllClosed();
            assertThat(unix.getOpenFileDescriptorCount()).as(() -> "open file descriptors after the proxy closed; opened since: "
                    + newFds(beforeProxyFds)).isLessThanOrEqualTo(beforeProxy);
        } finally {
            closeAll(clients);
        }
    }

    private static RawHttp.Reply forwardGet(ProxyServer proxy) throws IOException {
        return RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                + "\r\nConnection: close\r\n\r\n");
    }

    private static List<Socket> openTunnels(int proxyPort, int echoPort) throws IOException {
        return openTunnels(proxyPort, echoPort, TUNNELS);
    }

    /** CONNECTs {@code count} tunnels (all requests first, then each answer), each checked with an echo, left idle. */
    private static List<Socket> openTunnels(int proxyPort, int echoPort, int count) throws IOException {
        List<Socket> tunnels = new ArrayList<>(count);
        byte[] connect = ("CONNECT 127.0.0.1:" + echoPort + " HTTP/1.1\r\nHost: 127.0.0.1:" + echoPort + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        try {
            for (int i = 0; i < count; i++) {
                Socket s = new Socket("127.0.0.1", proxyPort);
                tunnels.add(s);
                s.setSoTimeout(10_000);
                s.getOutputStream().write(connect);
            }
            for (int i = 0; i < count; i++) {
                Socket s = tunnels.get(i);
                String head = readHead(s.getInputStream());
                assertThat(head).as("tunnel %d", i).startsWith("HTTP/1.1 200 ");
                byte[] ping = ("ping " + i + "\n").getBytes(StandardCharsets.US_ASCII);
                s.getOutputStream().write(ping);
                assertThat(s.getInputStream().readNBytes(ping.length)).as("echo through tunnel %d", i).isEqualTo(ping);
            }
        } catch (IOException | RuntimeException | AssertionError e) {
            closeAll(tunnels);
            throw e;
        }
        return tunnels;
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed in the response head: " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    private static void closeAll(List<Socket> sockets) {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        sockets.clear();
    }

    /** What this JVM's descriptors point at (Linux: /proc/self/fd), as {@code fd->target}. */
    private static java.util.Set<String> fds() {
        java.nio.file.Path dir = java.nio.file.Path.of("/proc/self/fd");
        java.util.Set<String> out = new java.util.TreeSet<>();
        try (var list = java.nio.file.Files.list(dir)) {
            list.forEach(fd -> {
                try {
                    out.add(fd.getFileName() + "->" + java.nio.file.Files.readSymbolicLink(fd));
                } catch (IOException e) {
                    // closed meanwhile
                }
            });
        } catch (IOException | RuntimeException e) {
            out.add("(unreadable: " + e + ")");
        }
        return out;
    }

    private static String newFds(java.util.Set<String> reference) {
        java.util.List<String> added = fds().stream().filter(f -> !reference.contains(f)).limit(20).toList();
        return added.toString();
    }

    /** Counts the tunnels the proxy logged: a tunnel's line is written once both of its sides have closed. */
    private static final class TunnelLog implements AccessLog {
        private int tunnels; // guarded by this

        @Override
        public synchronized void log(AccessLogEntry entry) {
            if (entry.method().equals("CONNECT")) {
                tunnels++;
                notifyAll();
            }
        }

        /** Waits (at most 20 s) until {@code count} tunnels in all were logged. */
        synchronized void awaitTunnels(int count) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (tunnels < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("not within 20 s: " + count + " tunnels closed and logged (" + tunnels + ")");
                }
                TimeUnit.NANOSECONDS.timedWait(this, left); // woken by log
            }
        }
    }

    /**
     * A loopback echo server on one selector thread; closes each connection when the peer does. It counts the
     * connections it accepted and those it closed and whose descriptor is released (after the {@code selectNow()}
     * that deregisters a closed channel: until then the descriptor stays open).
     */
    private static final class EchoServer implements AutoCloseable {
        private final ServerSocketChannel server;
        private final Selector selector;
        private final Thread thread;
        private volatile boolean running = true;
        private int accepted; // guarded by this
        private int released; // guarded by this

        EchoServer() throws IOException {
            server = ServerSocketChannel.open();
            server.bind(new InetSocketAddress("127.0.0.1", 0), 4096);
            server.configureBlocking(false);
            selector = Selector.open();
            server.register(selector, SelectionKey.OP_ACCEPT);
            thread = new Thread(this::run, "origin-echo");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return server.socket().getLocalPort();
        }

        /** Waits (at most 20 s) until every connection accepted so far was closed and its descriptor released. */
        synchronized void awaitAllClosed() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (released < accepted) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("echo server: not within 20 s: every connection closed (accepted " + accepted
                            + ", released " + released + ")");
                }
                TimeUnit.NANOSECONDS.timedWait(this, left); // woken by the selector thread
            }
        }

        private synchronized void count(int newlyAccepted, int newlyReleased) {
            accepted += newlyAccepted;
            released += newlyReleased;
            notifyAll();
        }

        private void run() {
            ByteBuffer buffer = ByteBuffer.allocate(8192);
            int closedSinceSelect = 0;
            try {
                while (running) {
                    if (closedSinceSelect == 0) {
                        selector.select(); // close() wakes it up
                    } else {
                        selector.selectNow(); // deregisters the channels closed below: their descriptors are released
                        count(0, closedSinceSelect);
                        closedSinceSelect = 0;
                    }
                    for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext();) {
                        SelectionKey key = it.next();
                        it.remove();
                        if (!key.isValid()) {
                            continue;
                        }
                        if (key.isAcceptable()) {
                            SocketChannel c;
                            while ((c = server.accept()) != null) {
                                c.configureBlocking(false);
                                c.register(selector, SelectionKey.OP_READ);
                                count(1, 0);
                            }
                        } else if (key.isReadable()) {
                            SocketChannel c = (SocketChannel) key.channel();
                            buffer.clear();
                            int n;
                            try {
                                n = c.read(buffer);
                            } catch (IOException e) {
                                n = -1;
                            }
                            if (n < 0) {
                                key.cancel();
                                c.close();
                                closedSinceSelect++;
                            } else {
                                buffer.flip();
                                c.write(buffer);   // tiny pings: the socket buffer takes them whole
                            }
                        }
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } finally {
                for (SelectionKey key : selector.keys()) {
                    try {
                        key.channel().close();
                    } catch (IOException e) {
                        // closing anyway
                    }
                }
                try {
                    selector.close();
                    server.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            selector.wakeup();
            thread.join(5_000);
        }
    }
}
