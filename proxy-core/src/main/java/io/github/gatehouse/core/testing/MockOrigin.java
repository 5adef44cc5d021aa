package io.github.gatehouse.core.testing;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.HttpHeaders;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.NetworkChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SelectableChannelEndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.IteratingCallback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A scriptable HTTP/1.1 origin server on a real loopback socket and an ephemeral port, in the spirit of OkHttp's
 * MockWebServer: tests {@link #enqueue} the answers it gives, in order, and {@link #takeRequest()} the requests it
 * received, to check what the proxy sent.
 *
 * <pre>{@code
 * @RegisterExtension static final MockOrigin origin = MockOrigin.create();
 *
 * origin.enqueue(MockResponse.ok("hello").header("Cache-Control", "max-age=60"));
 * ... send a request through the proxy to origin.uri("/greeting") ...
 * RecordedRequest seen = origin.takeRequest();
 * assertThat(seen.path()).isEqualTo("/greeting");
 * }</pre>
 *
 * <p><b>Answers.</b> Each request takes the next enqueued {@link MockResponse}; when the queue is empty, the answer
 * {@linkplain #serve served} for its path, if any; else the {@link #dispatcher} chooses (by default: {@code 404} with
 * a body naming the path). The origin reads the whole request body before it answers, so a path answer or the
 * dispatcher may echo it ({@code origin.serve("/echo", r -> MockResponse.ok().body(r.body()))}). Delays and gates ({@link MockResponse#headersDelay}, {@link MockResponse#holdUntil},
 * {@link MockResponse#pauseBeforeChunk}) are timed or awaited off the origin's threads: many held responses do not
 * exhaust it. {@link #close()} fails every held response (its connection closes).
 *
 * <p><b>As a JUnit 5 extension.</b> In a {@code static} field, it starts before the first test and closes after
 * the last, and {@link #reset()}s before each test (queue, recorded requests, counters; the dispatcher stays). In an
 * instance field, each test gets a fresh origin. Without JUnit: {@link #start()} and {@link #close()}.
 *
 * <p><b>Waiting.</b> {@link #takeRequest()} waits for a whole request, {@link #awaitArrival()} for a request head,
 * {@link #awaitConnectionsOpened} and {@link #awaitAllConnectionsClosed()} for connection events: bounded blocking
 * waits that fail with an {@link AssertionError}, never a poll.
 *
 * <p><b>Threading.</b> Thread-safe. Requests are served on threads named {@code origin-NAME}. Configuration
 * ({@link #useHttps}, {@link #datesFrom}) applies from the next {@link #start()}; answers, paths and the dispatcher may
 * change at any time.
 */
public final class MockOrigin implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback,
        AutoCloseable {
    private static final DateTimeFormatter HTTP_DATE =
            DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US).withZone(ZoneOffset.UTC);
    private static final Duration TAKE_TIMEOUT = Duration.ofSeconds(5);

    private final String name;
    private final Queue<MockResponse> queue = new ConcurrentLinkedQueue<>();
    private final BlockingQueue<RecordedRequest> recorded = new LinkedBlockingQueue<>();
    private final AtomicInteger count = new AtomicInteger();
    private final Semaphore closedConnections = new Semaphore(0);
    private final Semaphore arrivals = new Semaphore(0);
    private final Map<String, Function<RecordedRequest, MockResponse>> paths = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> pathCounts = new ConcurrentHashMap<>();
    private final Object connectionMonitor = new Object();
    private int connectionsOpened;      // guarded by connectionMonitor, since the start
    private int connectionsClosed;      // guarded by connectionMonitor, since the start
    private volatile boolean recording = true;
    private volatile SSLContext tls;
    private volatile boolean needClientCertificate;
    private volatile boolean http2;
    private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
    private volatile Function<RecordedRequest, MockResponse> dispatcher = MockOrigin::notFound;
    private volatile Clock dateClock;
    private Server server;
    private ServerConnector connector;
    private ScheduledExecutorService timer;
    private volatile java.util.concurrent.Executor threads;
    private boolean perTest;
    private int port;

    private MockOrigin(String name) {
        this.name = name;
    }

    /** A new origin named {@code mock} (not started). */
    public static MockOrigin create() {
        return named("mock");
    }

    /** A new origin whose threads are named {@code origin-NAME} (not started). */
    public static MockOrigin named(String name) {
        requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name: '" + name + "' (expected: a non-blank name)");
        }
        return new MockOrigin(name);
    }

    /**
     * Sends {@code Date} from {@code clock} (a {@link SettableClock}, say) in every answer that has none, instead of
     * the real time: what a cache test needs. Call before {@link #start()}.
     *
     * @return this origin
     */
    public MockOrigin datesFrom(Clock clock) {
        this.dateClock = requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Serves HTTPS instead of HTTP (HTTP/1.1 over TLS), with the key and certificate of {@code context}'s key
     * managers; {@link #baseUrl()} then says {@code https}. Call before {@link #start()}; it applies from the next
     * start.
     *
     * @return this origin
     */
    public MockOrigin useHttps(SSLContext context) {
        this.tls = requireNonNull(context, "context");
        return this;
    }

    /**
     * Over HTTPS, asks each client for a certificate and refuses the handshake without one that {@code context}'s
     * trust managers (given to {@link #useHttps}) trust: an origin that wants mutual TLS.
     * {@link RecordedRequest#clientCertificateSubject()} then names the client. Call before {@link #start()}.
     *
     * @return this origin
     */
    public MockOrigin requireClientCertificates() {
        this.needClientCertificate = true;
        return this;
    }

    /**
     * Speaks HTTP/2 as well as HTTP/1.1: over HTTPS, {@code h2} when the client offers it by ALPN (HTTP/1.1 for a
     * client that offers nothing); over cleartext, {@code h2c} with prior knowledge next to HTTP/1.1.
     * {@link RecordedRequest#protocol()} says which one a request came on. Call before {@link #start()}.
     *
     * @return this origin
     */
    public MockOrigin enableHttp2() {
        this.http2 = true;
        return this;
    }

    /**
     * Whether to keep each request for {@link #takeRequest()} (the default) or only count it: a long run through the
     * origin must not keep every request it made (each keeps up to {@value RecordedRequest#MAX_KEPT_BODY} body
     * bytes). Counters and {@link #awaitArrival()} work either way.
     *
     * @return this origin
     */
    public MockOrigin recordRequests(boolean keep) {
        this.recording = keep;
        return this;
    }

    /**
     * Starts listening on {@code 127.0.0.1} and an ephemeral port; after {@link #close()}, on the same port again.
     * Does nothing if it runs already.
     *
     * @return this origin
     * @throws IllegalStateException if it cannot listen
     */
    public synchronized MockOrigin start() {
        if (server != null) {
            return this;
        }
        QueuedThreadPool pool = new QueuedThreadPool(64, 2);
        pool.setName("origin-" + name);
        pool.setDaemon(true);
        threads = pool;
        server = new Server(pool);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);                 // the answer adds its own (see Answer.head)
        SSLContext context = tls;
        if (context != null) {
            http.addCustomizer(new SecureRequestCustomizer(false));
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setSslContext(context);
            ssl.setNeedClientAuth(needClientCertificate);
            if (http2) {
                ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
                alpn.setDefaultProtocol("http/1.1");
                connector = new ServerConnector(server, 1, 1, new SslConnectionFactory(ssl, alpn.getProtocol()), alpn,
                        new HTTP2ServerConnectionFactory(http), new HttpConnectionFactory(http));
            } else {
                connector = new ServerConnector(server, 1, 1, new SslConnectionFactory(ssl, "http/1.1"),
                        new HttpConnectionFactory(http));
            }
        } else if (http2) {
            connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http),
                    new HTTP2CServerConnectionFactory(http));
        } else {
            connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        }
        synchronized (connectionMonitor) {
            connectionsOpened = 0;
            connectionsClosed = 0;
        }
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        connector.addEventListener(new Connection.Listener() {
            @Override
            public void onOpened(Connection connection) {
                if (!isNetworkConnection(connection)) {
                    return;
                }
                synchronized (connectionMonitor) {
                    connectionsOpened++;
                    connectionMonitor.notifyAll();
                }
            }

            @Override
            public void onClosed(Connection connection) {
                if (!isNetworkConnection(connection)) {
                    return;
                }
                synchronized (connectionMonitor) {
                    connectionsClosed++;
                    connectionMonitor.notifyAll();
                }
                closedConnections.release();
            }
        });
        server.addConnector(connector);
        server.setHandler(new Serve());
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "origin-" + name + "-timer");
            t.setDaemon(true);
            return t;
        });
        try {
            server.start();
        } catch (Exception e) {
            timer.shutdownNow();
            server = null;
            throw new IllegalStateException("origin " + name + " cannot listen on 127.0.0.1:" + port, e);
        }
        port = connector.getLocalPort();
        return this;
    }

    /**
     * Stops at once, like a killed process: every connection is dropped, held responses fail. The recorded requests
     * stay for {@link #takeRequest()}.
     */
    @Override
    public synchronized void close() {
        if (server == null) {
            return;
        }
        pending.forEach(f -> f.completeExceptionally(new IOException("origin " + name + " stopped")));
        pending.clear();
        try {
            connector.close();
            connector.getConnectedEndPoints().forEach(EndPoint::close);
            server.stop();
        } catch (Exception e) {
            throw new IllegalStateException("origin " + name + " did not stop", e);
        } finally {
            timer.shutdownNow();
            server = null;
        }
    }

    /** Whether it is started and not closed. */
    public synchronized boolean isRunning() {
        return server != null;
    }

    /**
     * Forgets the enqueued answers and the recorded requests, and restarts the numbering and the counters; the
     * dispatcher and the {@link #serve path answers} stay (they are configuration).
     */
    public void reset() {
        queue.clear();
        recorded.clear();
        count.set(0);
        pathCounts.clear();
        closedConnections.drainPermits();
        arrivals.drainPermits();
    }

    /** Adds {@code response} to the answers, which requests take in order. */
    public void enqueue(MockResponse response) {
        queue.add(requireNonNull(response, "response"));
    }

    /**
     * What answers a request when no enqueued answer is left and no {@link #serve path answer} matches: a function
     * of the recorded request (its body included, to echo it, say). It runs on the origin's threads and must not
     * block; an exception it throws becomes a {@code 500} naming it.
     *
     * @return this origin
     */
    public MockOrigin dispatcher(Function<RecordedRequest, MockResponse> dispatcher) {
        this.dispatcher = requireNonNull(dispatcher, "dispatcher");
        return this;
    }

    /**
     * Answers every request for {@code path} (exactly, the query left out) with {@code answer}, when no enqueued
     * answer is left; replaces an earlier answer for that path. Path answers come before the {@link #dispatcher}.
     *
     * @return this origin
     */
    public MockOrigin serve(String path, MockResponse answer) {
        requireNonNull(answer, "answer");
        return serve(path, r -> answer);
    }

    /**
     * Answers every request for {@code path} (exactly, the query left out) with what {@code answer} returns for it:
     * a script that changes with each call (a counter, a gate per request). Same rules as {@link #dispatcher}.
     *
     * @return this origin
     */
    public MockOrigin serve(String path, Function<RecordedRequest, MockResponse> answer) {
        requireNonNull(path, "path");
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("path: '" + path + "' (expected: starting with /)");
        }
        paths.put(path, requireNonNull(answer, "answer"));
        return this;
    }

    /**
     * The next request received, in arrival order, waiting up to 5 seconds for it.
     *
     * @throws AssertionError if none arrives in time
     */
    public RecordedRequest takeRequest() throws InterruptedException {
        return takeRequest(TAKE_TIMEOUT);
    }

    /**
     * The next request received, waiting up to {@code timeout}.
     *
     * @throws AssertionError if none arrives in time
     */
    public RecordedRequest takeRequest(Duration timeout) throws InterruptedException {
        RecordedRequest r = recorded.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (r == null) {
            throw new AssertionError("origin " + name + " received no request within " + timeout);
        }
        return r;
    }

    /** The next request received if one is waiting, without waiting. */
    public Optional<RecordedRequest> pollRequest() {
        return Optional.ofNullable(recorded.poll());
    }

    /** How many requests arrived since the start or the last {@link #reset()} (counted when their head arrives). */
    public int requestCount() {
        return count.get();
    }

    /** How many requests for {@code path} (the query left out) arrived since the start or the last {@link #reset()}. */
    public int requestCount(String path) {
        AtomicInteger c = pathCounts.get(requireNonNull(path, "path"));
        return c == null ? 0 : c.get();
    }

    /**
     * Waits up to 5 seconds for one more request head to arrive: unlike {@link #takeRequest()}, which waits for the
     * whole body, it returns while the body may still be on its way (a held upload, a slow client behind the proxy).
     * Each arrival is awaited once.
     *
     * @throws AssertionError if none arrives in time
     */
    public void awaitArrival() throws InterruptedException {
        if (!arrivals.tryAcquire(TAKE_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
            throw new AssertionError("no request arrived at origin " + name + " within " + TAKE_TIMEOUT);
        }
    }

    /**
     * How many connections were opened to this origin since its last {@link #start()}: TCP connections (a TLS
     * connection counts once; a cleartext HTTP/1.1 connection that turns into {@code h2c} counts as one closed and
     * one opened).
     */
    public int connectionsOpened() {
        synchronized (connectionMonitor) {
            return connectionsOpened;
        }
    }

    /**
     * Waits up to 20 seconds until {@code count} connections in all were opened to this origin since its last
     * {@link #start()}.
     *
     * @throws AssertionError if fewer opened in time
     */
    public void awaitConnectionsOpened(int count) throws InterruptedException {
        awaitConnections(() -> connectionsOpened >= count, count + " connections opened");
    }

    /**
     * Waits up to 20 seconds until every connection opened to this origin so far has closed, and their file
     * descriptors are released (a socket closed while its selector waits keeps its descriptor until the selector
     * wakes; this waits for that too): what a test of descriptor leaks needs.
     *
     * @throws AssertionError if a connection stays open
     */
    public void awaitAllConnectionsClosed() throws InterruptedException {
        awaitConnections(() -> connectionsClosed >= connectionsOpened, "every opened connection closed");
        Server s;
        synchronized (this) {
            s = server;
        }
        if (s == null) {
            return;
        }
        // An update submitted to a selector runs between two selects: a second one, submitted once the first ran,
        // runs after at least one select that followed the close, which released the descriptor.
        for (ManagedSelector selector : s.getContainedBeans(ManagedSelector.class)) {
            for (int i = 0; i < 2; i++) {
                CountDownLatch ran = new CountDownLatch(1);
                selector.submit(sel -> ran.countDown());
                if (!ran.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("a selector of origin " + name + " ran no update within 10 s");
                }
            }
        }
    }

    /** A connection on a socket, not one layered inside TLS (the decrypted HTTP connection, ALPN). */
    private static boolean isNetworkConnection(Connection connection) {
        return connection.getEndPoint() instanceof SelectableChannelEndPoint;
    }

    private void awaitConnections(java.util.function.BooleanSupplier condition, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        synchronized (connectionMonitor) {
            while (!condition.getAsBoolean()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("origin " + name + ": not within 20 s: " + what + " (opened "
                            + connectionsOpened + ", closed " + connectionsClosed + ")");
                }
                TimeUnit.NANOSECONDS.timedWait(connectionMonitor, left);   // woken by the connection listener
            }
        }
    }

    /**
     * Waits up to 5 seconds until one more connection to this origin closed (such as one the proxy aborted).
     *
     * @throws AssertionError if none closes in time
     */
    public void awaitConnectionClosed() throws InterruptedException {
        if (!closedConnections.tryAcquire(TAKE_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
            throw new AssertionError("no connection to origin " + name + " closed within " + TAKE_TIMEOUT);
        }
    }

    /**
     * The port.
     *
     * @throws IllegalStateException if it never started
     */
    public synchronized int port() {
        if (port == 0) {
            throw new IllegalStateException("origin " + name + " was not started");
        }
        return port;
    }

    /** {@code http://127.0.0.1:PORT} ({@code https} after {@link #useHttps}). */
    public String baseUrl() {
        return (tls != null ? "https" : "http") + "://127.0.0.1:" + port();
    }

    /** {@link #baseUrl()} followed by {@code path} ({@code /a?b}), as a string. */
    public String url(String path) {
        return baseUrl() + requireNonNull(path, "path");
    }

    /** {@link #url(String)} as a URI. */
    public URI uri(String path) {
        return URI.create(url(path));
    }

    /** {@code host:port}, for {@code allowInternalDestination} and {@code CONNECT}. */
    public String authority() {
        return "127.0.0.1:" + port();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public synchronized void beforeEach(ExtensionContext context) {
        if (server == null) {
            perTest = true;
            start();
        } else if (!perTest) {
            reset();
        }
    }

    @Override
    public synchronized void afterEach(ExtensionContext context) {
        if (perTest) {
            close();
        }
    }

    @Override
    public String toString() {
        return "MockOrigin[" + name + (port == 0 ? "" : ", port " + port) + "]";
    }

    private static MockResponse notFound(RecordedRequest request) {
        return MockResponse.status(404).header("Content-Type", "text/plain;charset=utf-8")
                .body("no response enqueued for " + request.method() + " " + request.target());
    }

    // ---- serving ----------------------------------------------------------------------------------------------

    private final class Serve extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            int sequence = count.incrementAndGet();
            pathCounts.computeIfAbsent(request.getHttpURI().getPath(), p -> new AtomicInteger()).incrementAndGet();
            arrivals.release();
            new BodyReader(request, response, callback, sequence).run();
            return true;
        }
    }

    /** Reads the request body with demand, then records the request and answers it. */
    private final class BodyReader implements Runnable {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final int sequence;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private long size;

        BodyReader(Request request, Response response, Callback callback, int sequence) {
            this.request = request;
            this.response = response;
            this.callback = callback;
            this.sequence = sequence;
        }

        @Override
        public void run() {
            while (true) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    request.demand(this);
                    return;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    record(chunk.getFailure());
                    callback.failed(chunk.getFailure());
                    return;
                }
                ByteBuffer b = chunk.getByteBuffer();
                size += b.remaining();
                if (kept.size() < RecordedRequest.MAX_KEPT_BODY) {
                    byte[] bytes = new byte[Math.min(b.remaining(), RecordedRequest.MAX_KEPT_BODY - kept.size())];
                    b.get(bytes);
                    kept.write(bytes, 0, bytes.length);
                }
                chunk.release();
                if (chunk.isLast()) {
                    answer(record(null));
                    return;
                }
            }
        }

        private RecordedRequest record(Throwable failure) {
            HttpHeaders headers = new HttpHeaders();
            request.getHeaders().forEach(f -> headers.add(f.getName(), f.getValue()));
            String subject = null;
            if (request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE) instanceof EndPoint.SslSessionData ssl
                    && ssl.peerCertificates() != null && ssl.peerCertificates().length > 0) {
                subject = ssl.peerCertificates()[0].getSubjectX500Principal().getName();
            }
            RecordedRequest r = new RecordedRequest(request.getMethod(), request.getHttpURI().getPathQuery(), headers,
                    kept.toByteArray(), size, failure, request.getConnectionMetaData().getId(), sequence,
                    request.getConnectionMetaData().getProtocol(), subject);
            if (recording) {
                recorded.add(r);
            }
            return r;
        }

        private void answer(RecordedRequest r) {
            MockResponse m = queue.poll();
            if (m == null) {
                try {
                    m = paths.getOrDefault(r.path(), dispatcher).apply(r);
                } catch (RuntimeException e) {
                    m = MockResponse.status(500).header("Content-Type", "text/plain;charset=utf-8")
                            .body("dispatcher of origin " + name + " threw " + e);
                }
                if (m == null) {
                    m = MockResponse.status(500).body("dispatcher of origin " + name + " returned null");
                }
            }
            new Answer(m, request, response, callback).begin();
        }
    }

    /** Writes one MockResponse: waits, head, chunks with their gates and delays, and its fault. */
    private final class Answer {
        private final MockResponse.Spec m;
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final boolean bodyless;
        private final int pieces;
        private boolean chunkedFraming;
        private long sent;

        Answer(MockResponse answer, Request request, Response response, Callback callback) {
            this.m = answer.spec;
            this.request = request;
            this.response = response;
            this.callback = callback;
            this.bodyless = request.getMethod().equals("HEAD") || m.status == 204 || m.status == 304 || m.status < 200;
            this.pieces = m.pieceCount();
        }

        void begin() {
            switch (m.fault) {
                case RESET_BEFORE_HEAD:
                    drop(true);
                    return;
                case CLOSE_BEFORE_HEAD:
                    drop(false);
                    return;
                default:
                    break;
            }
            after(m.headersDelay, m.headGate, this::head);
        }

        private void head() {
            response.setStatus(m.status);
            boolean hasDate = false;
            boolean hasLength = false;
            for (String[] h : m.headers) {
                response.getHeaders().add(h[0], h[1]);
                hasDate |= h[0].equalsIgnoreCase("Date");
                hasLength |= h[0].equalsIgnoreCase("Content-Length");
            }
            if (!hasDate && !m.withoutDate) {
                Clock clock = dateClock;
                response.getHeaders().put("Date", HTTP_DATE.format(clock != null ? clock.instant() : java.time.Instant.now()));
            }
            if (!m.chunked && !hasLength && (!bodyless || request.getMethod().equals("HEAD"))) {
                response.getHeaders().put("Content-Length", m.bodyLength());
            }
            chunkedFraming = m.chunked && !hasLength;
            if (!m.trailers.isEmpty()) {
                HttpFields.Mutable trailers = HttpFields.build();
                m.trailers.forEach(t -> trailers.add(t[0], t[1]));
                response.setTrailersSupplier(() -> trailers);
            }
            if (bodyless || (pieces == 0 && m.abortAfter < 0 && !m.chunkGates.containsKey(0))) {
                response.write(true, null, callback);
                return;
            }
            new BodyWriter().iterate();
        }

        /**
         * Writes the body piece by piece, each once the previous write completed (iterating, not recursing: a
         * generated body of a gigabyte is sixteen thousand writes), waiting for the gates and delays between.
         */
        private final class BodyWriter extends IteratingCallback {
            private int i;
            private boolean waited;
            private boolean ended;
            private boolean dropped;
            private boolean abortNext;

            @Override
            protected Action process() {
                if (ended) {
                    return Action.SUCCEEDED;
                }
                if (abortNext) {
                    return dropNow();
                }
                if (!waited) {
                    Duration delay = i == 0 || i == pieces ? Duration.ZERO : m.chunkDelay;
                    CompletionStage<?> gate = m.chunkGates.get(i);
                    if (!delay.isZero() || gate != null) {
                        waited = true;
                        after(delay, gate, this::succeeded);
                        return Action.SCHEDULED;
                    }
                }
                waited = false;
                if (i == pieces) {
                    if (m.abortAfter >= 0) {
                        return dropNow();
                    }
                    ended = true;
                    response.write(true, null, this);
                    return Action.SCHEDULED;
                }
                ByteBuffer bytes = m.piece(i);
                boolean abortHere = m.abortAfter >= 0 && sent + bytes.remaining() > m.abortAfter;
                if (abortHere) {
                    bytes.limit((int) (m.abortAfter - sent));
                    abortNext = true;
                }
                sent += bytes.remaining();
                boolean last = m.abortAfter < 0 && i == pieces - 1 && !chunkedFraming
                        && !m.chunkGates.containsKey(pieces);
                ended = last;
                i++;
                response.write(last, bytes, this);
                return Action.SCHEDULED;
            }

            private Action dropNow() {
                ended = true;
                dropped = true;
                drop(false);
                return Action.SUCCEEDED;
            }

            @Override
            protected void onCompleteSuccess() {
                if (!dropped) {
                    callback.succeeded();
                }
            }

            @Override
            protected void onCompleteFailure(Throwable cause) {
                callback.failed(cause);
            }
        }

        /** Runs {@code then} after {@code delay} and once {@code gate} (may be null) completed, off this thread. */
        private void after(Duration delay, CompletionStage<?> gate, Runnable then) {
            if (delay.isZero() && gate == null) {
                then.run();
                return;
            }
            CompletableFuture<Object> ready = new CompletableFuture<>();
            pending.add(ready);
            CompletableFuture<Object> timed = new CompletableFuture<>();
            if (delay.isZero()) {
                timed.complete(null);
            } else {
                timer.schedule(() -> timed.complete(null), delay.toNanos(), TimeUnit.NANOSECONDS);
            }
            CompletionStage<?> open = gate == null ? timed : timed.thenCompose(v -> gate);
            open.whenComplete((v, failure) -> {
                if (failure != null) {
                    ready.completeExceptionally(failure);
                } else {
                    ready.complete(v);
                }
            });
            ready.whenCompleteAsync((v, failure) -> {
                pending.remove(ready);
                if (failure != null) {
                    drop(false);
                } else {
                    then.run();
                }
            }, threads);
        }

        /** Ends the connection without finishing the answer: a reset (RST) or a close (FIN). */
        private void drop(boolean reset) {
            EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
            if (reset && endPoint instanceof SelectableChannelEndPoint channelEndPoint
                    && channelEndPoint.getChannel() instanceof NetworkChannel channel) {
                try {
                    channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                } catch (IOException ignored) {
                    // the connection is going anyway: a close without linger is still a close
                }
            }
            endPoint.close();
            callback.failed(new IOException("origin " + name + (reset ? " reset" : " closed") + " the connection on purpose"));
        }
    }

    /** Used by tests of the kit: the number of held answers waiting on a delay or gate. */
    int pendingAnswers() {
        return pending.size();
    }
}
