package io.github.gatehouse.core.testsupport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * An origin on a raw socket that answers each request head with the exact bytes a script returns, so tests can
 * check what a proxy does with framing, codings, interim responses and field spellings that a real server would
 * normalise. Request heads are recorded as received (raw text). Connections stay open for the next request unless
 * the reply says to close; request bodies are not read (use it for requests without one).
 *
 * <p>Thread-safe: one thread accepts, one thread serves each connection.
 */
public final class RawOrigin implements AutoCloseable {
    /** What to send back for one request: the bytes, and what to do with the connection afterwards. */
    public record Reply(byte[] bytes, Ending ending) {
        /** Sends {@code text} (ISO-8859-1) and keeps the connection. */
        public static Reply of(String text) {
            return new Reply(text.getBytes(StandardCharsets.ISO_8859_1), Ending.KEEP);
        }

        /** A head followed by a body, and keeps the connection. */
        public static Reply of(String head, byte[] body) {
            byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
            byte[] all = java.util.Arrays.copyOf(h, h.length + body.length);
            System.arraycopy(body, 0, all, h.length, body.length);
            return new Reply(all, Ending.KEEP);
        }

        /** The same bytes, then {@code how}. */
        public Reply then(Ending how) {
            return new Reply(bytes, how);
        }
    }

    /** How a reply ends the connection. */
    public enum Ending {
        /** Keep it open for the next request. */
        KEEP,
        /** A clean close (FIN). */
        CLOSE,
        /** A reset (RST, by closing with SO_LINGER 0). */
        RESET
    }

    private final ServerSocket server;
    private final Function<String, Reply> script;
    private final BlockingQueue<String> heads = new LinkedBlockingQueue<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final BlockingQueue<Boolean> peerCloses = new LinkedBlockingQueue<>();
    private final Thread acceptor;

    private RawOrigin(Function<String, Reply> script) throws IOException {
        this.script = script;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "raw-origin-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts an origin on an ephemeral loopback port; {@code script} maps each raw request head to its reply. */
    public static RawOrigin start(Function<String, Reply> script) {
        try {
            return new RawOrigin(script);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The port it listens on. */
    public int port() {
        return server.getLocalPort();
    }

    /** {@code http://127.0.0.1:PORT}. */
    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    /** The next request head received (raw, up to the blank line), waiting up to 10 s. */
    public String takeHead() throws InterruptedException {
        String head = heads.poll(10, TimeUnit.SECONDS);
        if (head == null) {
            throw new AssertionError("the origin received no request within 10 s");
        }
        return head;
    }

    /** How many connections it has accepted so far. */
    public int connectionsAccepted() {
        return sockets.size();
    }

    /** Waits up to 10 s for a client (the proxy) to close one of its connections here; false if none did. */
    public boolean awaitPeerClose() throws InterruptedException {
        return peerCloses.poll(10, TimeUnit.SECONDS) != null;
    }

    /** How many request heads are waiting to be taken. */
    public int pendingHeads() {
        return heads.size();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                sockets.add(socket);
                Thread t = new Thread(() -> serve(socket), "raw-origin-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    peerCloses.add(Boolean.TRUE);
                    return;
                }
                heads.add(head);
                Reply reply = script.apply(head);
                out.write(reply.bytes());
                out.flush();
                if (reply.ending() == Ending.RESET) {
                    socket.setSoLinger(true, 0);
                    return;
                }
                if (reply.ending() == Ending.CLOSE) {
                    socket.shutdownOutput();
                    return;
                }
            }
        } catch (SocketException e) {
            // the peer went away
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (true) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            state = (b == '\r' && (state == 0 || state == 2)) ? state + 1 : (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }
}
