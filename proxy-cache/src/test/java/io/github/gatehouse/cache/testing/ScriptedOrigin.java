package io.github.gatehouse.cache.testing;

import io.github.gatehouse.cache.internal.HttpDates;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty origin whose answers each test scripts per path: status, headers, body (optionally in two parts with a
 * gate between, or held until released). Adds {@code Date} from the test clock unless the script sets one. Counts
 * and records requests.
 */
public final class ScriptedOrigin implements AutoCloseable {
    /** One scripted answer. */
    public static final class Answer {
        int status = 200;
        final List<String[]> headers = new ArrayList<>();
        byte[] body = new byte[0];
        byte[] rest;
        CountDownLatch beforeHead;
        CountDownLatch beforeRest;
        boolean noDate;
        boolean dieAfterFirstPart;

        public static Answer status(int status) {
            Answer a = new Answer();
            a.status = status;
            return a;
        }

        public static Answer ok(String body) {
            return status(200).body(body);
        }

        public Answer header(String name, String value) {
            headers.add(new String[] {name, value});
            return this;
        }

        public Answer body(String text) {
            this.body = text.getBytes(StandardCharsets.UTF_8);
            return this;
        }

        public Answer body(byte[] bytes) {
            this.body = bytes;
            return this;
        }

        /** Sends {@code first} at once, then {@code second} after {@code gate} opens (chunked, no Content-Length). */
        public Answer inTwoParts(String first, CountDownLatch gate, String second) {
            this.body = first.getBytes(StandardCharsets.UTF_8);
            this.rest = second.getBytes(StandardCharsets.UTF_8);
            this.beforeRest = gate;
            return this;
        }

        /** Sends the first part, waits for the gate, then kills the connection instead of finishing. */
        public Answer dieAfter(String first, CountDownLatch gate) {
            inTwoParts(first, gate, "");
            dieAfterFirstPart = true;
            return this;
        }

        /** Holds the whole response until {@code gate} opens. */
        public Answer heldUntil(CountDownLatch gate) {
            this.beforeHead = gate;
            return this;
        }

        public Answer withoutDate() {
            this.noDate = true;
            return this;
        }
    }

    /** A request as the origin saw it. */
    public record Seen(String method, String path, HttpFields headers) {
        public String header(String name) {
            return headers.get(name);
        }
    }

    private final Clock clock;
    private final Map<String, Function<Seen, Answer>> scripts = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final BlockingQueue<Seen> seen = new LinkedBlockingQueue<>();
    private final AtomicInteger total = new AtomicInteger();
    private final Server server;
    private final ServerConnector connector;

    public ScriptedOrigin(Clock clock) throws Exception {
        this.clock = clock;
        QueuedThreadPool threads = new QueuedThreadPool(64, 2);
        threads.setName("origin");
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        connector.addEventListener(new org.eclipse.jetty.io.Connection.Listener() {
            @Override
            public void onClosed(org.eclipse.jetty.io.Connection connection) {
                closes.release();
            }
        });
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                return serve(request, response, callback);
            }
        });
        server.start();
        port = connector.getLocalPort();
    }

    private final int port;
    private final java.util.concurrent.Semaphore closes = new java.util.concurrent.Semaphore(0);

    /** Waits until a connection to this origin has closed (such as one the proxy aborted), at most 5 s. */
    public void awaitConnectionClosed() throws InterruptedException {
        if (!closes.tryAcquire(5, TimeUnit.SECONDS)) {
            throw new AssertionError("no connection to the origin closed within 5 s");
        }
    }

    /** The port it listened on (still known after {@link #stop()}). */
    public int port() {
        return port;
    }

    public String url(String path) {
        return "http://127.0.0.1:" + port() + path;
    }

    /** Answers {@code path} with {@code script} (replacing any earlier script). */
    public void on(String path, Function<Seen, Answer> script) {
        scripts.put(path, script);
    }

    public void on(String path, Answer answer) {
        on(path, r -> answer);
    }

    public int count(String path) {
        AtomicInteger c = counts.get(path);
        return c == null ? 0 : c.get();
    }

    public int total() {
        return total.get();
    }

    public Seen take() throws InterruptedException {
        Seen s = seen.poll(5, TimeUnit.SECONDS);
        if (s == null) {
            throw new AssertionError("the origin saw no request within 5 s");
        }
        return s;
    }

    public Seen poll() {
        return seen.poll();
    }

    public void stop() throws Exception {
        server.stop();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }

    private boolean serve(Request request, Response response, Callback callback) throws Exception {
        String path = Request.getPathInContext(request);
        String query = request.getHttpURI().getQuery();
        String key = query == null ? path : path + "?" + query;
        Seen s = new Seen(request.getMethod(), key, HttpFields.build(request.getHeaders()).asImmutable());
        total.incrementAndGet();
        counts.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
        seen.add(s);
        Function<Seen, Answer> script = scripts.get(path);
        Answer a = script == null ? Answer.status(404).body("no script for " + path) : script.apply(s);
        if (a.beforeHead != null && !a.beforeHead.await(10, TimeUnit.SECONDS)) {
            throw new AssertionError("gate for " + path + " never opened");
        }
        response.setStatus(a.status);
        boolean hasDate = false;
        for (String[] h : a.headers) {
            response.getHeaders().add(h[0], h[1]);
            hasDate |= h[0].equalsIgnoreCase("Date");
        }
        if (!hasDate && !a.noDate) {
            response.getHeaders().add("Date", HttpDates.format(clock.instant()));
        }
        boolean bodyless = request.getMethod().equals("HEAD") || a.status == 304 || a.status == 204;
        if (a.rest == null) {
            if (!bodyless) {
                response.getHeaders().put("Content-Length", a.body.length);
            } else if (a.status == 200) {
                response.getHeaders().put("Content-Length", a.body.length);
            }
            response.write(true, bodyless ? ByteBuffer.allocate(0) : ByteBuffer.wrap(a.body), callback);
            return true;
        }
        Answer answer = a;
        response.write(false, ByteBuffer.wrap(a.body), Callback.from(() -> {
            Thread t = new Thread(() -> {
                try {
                    if (!answer.beforeRest.await(10, TimeUnit.SECONDS)) {
                        callback.failed(new AssertionError("gate never opened"));
                        return;
                    }
                } catch (InterruptedException e) {
                    callback.failed(e);
                    return;
                }
                if (answer.dieAfterFirstPart) {
                    request.getConnectionMetaData().getConnection().getEndPoint().close();
                    callback.failed(new java.io.IOException("origin died on purpose"));
                } else {
                    response.write(true, ByteBuffer.wrap(answer.rest), callback);
                }
            }, "origin-gate");
            t.start();
        }, callback::failed));
        return true;
    }
}
