package io.github.gatehouse.examples.soak;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The soak run: mixed load with faults against a forward and a reverse proxy for a bounded time (loopback only),
 * then a check that nothing leaked. Not part of {@code mvn verify} (the tag "soak" is excluded there); run it with
 * {@code mvn -B -Psoak -pl proxy-examples -am test -Dtest=SoakTest -Dsurefire.failIfNoSpecifiedTests=false}
 * ({@code -Dsoak.seconds=600} to change the 120 s default). The report is {@code target/soak-report.txt}, the
 * proxy's log {@code target/soak-proxy.log}.
 *
 * <p>The proxies run in a JVM of their own ({@link SoakProxy}, {@code -Xmx256m}), so the heap, threads and file
 * descriptors measured are theirs, not the origins' or the clients' of this JVM.
 *
 * <p>Faults: one of three origins is stopped and restarted every few seconds; clients send malformed requests,
 * give up in the middle of responses, upload, hit a hanging path (upstream timeout), a truncating path (upstream
 * dies mid-body), a refused CONNECT and a denied destination; slow clients hold a request head open.
 *
 * <p>Fails on: any client outcome or proxy-side event that the fault mix does not explain (see {@link #EXPECTED}
 * and {@link #EXPECTED_EVENTS}); heap after GC, sampled each minute and at the end, more than 32 MiB above its
 * value after the first minute; live threads or open file descriptors not back to their baseline once the load
 * stopped.
 */
@Tag("soak")
class SoakTest {
    private static final int CLIENTS = 16;
    private static final long HEAP_GROWTH_LIMIT = 32L * 1024 * 1024;
    private static final String PROXY_HEAP = "-Xmx256m";

    /** What each kind of request may end in, given the faults. */
    private static final Set<String> EXPECTED = Set.of(
            "reverse GET: 200",
            "reverse 300KiB GET, every byte checked: 200",
            "reverse 300KiB GET, every byte checked: 200, cut short", // the flaky origin stopped mid-body
            "reverse 1MiB GET, client gives up early: 200",
            "reverse POST 200KB: 200",
            "reverse POST 200KB: 502", // the flaky origin stopped mid-upload: a POST whose body streamed is not retried
            "reverse hang -> 504", // the upstream timeout
            "reverse hang -> 200", // the flaky origin answers hanging requests when it stops, and at once while stopped
            "reverse hang -> 502", // the flaky origin stopped under a hanging request, and no member was left to retry on
            "reverse truncated body: 200", // then the body is cut short: the client sees the connection close early
            "forward GET: 200",
            "forward denied destination: 403",
            "forward CONNECT to port 25: 403",
            "malformed request: 400",
            "slow head: closed by the proxy");

    /**
     * What the proxy may report about an exchange that failed, answered 5xx or took long (see {@link SoakProxy}),
     * given the faults: request, status, then the reason.
     */
    private static final List<Pattern> EXPECTED_EVENTS = List.of(
            // /hang: the upstream timeout, on each member tried
            Pattern.compile("GET /hang -> 504, tries \\d+: upstream (a|b|flaky): upstream sent no response within Nms"),
            // /hang retried onto the flaky origin just as it stopped, or stopped under it, with no member left to retry on
            Pattern.compile("GET /hang -> 502, tries \\d+: upstream flaky: (connection refused|upstream closed the connection early)"),
            // /truncate: the upstream dies mid-body, so the client response is cut short (never completed)
            Pattern.compile("GET /truncate -> 200 \\(aborted\\), tries \\d+: upstream failed mid-body: EOFException: .*"),
            // the client gives up in the middle of a 1 MiB response
            Pattern.compile("GET /bytes -> 200 \\(aborted\\), tries \\d+: (IOException: (Broken pipe|Connection reset by peer)|EofException.*)"),
            // the flaky origin stopped mid-upload (or just before): a POST whose body streams is not retried
            Pattern.compile("POST /upload -> 502, tries \\d+: upstream flaky: (upstream closed the connection early|connection refused)"));

    @Test
    void mixedLoadWithFaultsLeaksNothing() throws Exception {
        long seconds = Long.getLong("soak.seconds", 120);
        long sampleEvery = Math.min(60, Math.max(10, seconds / 4));
        // /hang is held until the end of the run (or until its origin stops: then its connection closes)
        CompletableFuture<Void> release = new CompletableFuture<>();
        MockResponse hang = MockResponse.ok("released").holdUntil(release);
        MockOrigin a = MockOrigin.named("a")
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
                .serve("/bytes", req -> {
                    MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                            .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                    return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
                })
                .serve("/truncate", req -> {
                    long half = Long.parseLong(req.queryParameter("n").orElseThrow());
                    return MockResponse.ok().generatedBody(2 * half).abortAfter(half);      // dies halfway
                })
                .serve("/hang", hang)
                .dispatcher(req -> MockResponse.ok("origin a " + req.path())).recordRequests(false).start();
        MockOrigin b = MockOrigin.named("b")
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
                .serve("/bytes", req -> {
                    MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                            .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                    return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
                })
                .serve("/truncate", req -> {
                    long half = Long.parseLong(req.queryParameter("n").orElseThrow());
                    return MockResponse.ok().generatedBody(2 * half).abortAfter(half);      // dies halfway
                })
                .serve("/hang", hang)
                .dispatcher(req -> MockResponse.ok("origin b " + req.path())).recordRequests(false).start();
        MockOrigin flaky = MockOrigin.named("flaky")
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
                .serve("/bytes", req -> {
                    MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                            .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                    return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
                })
                .serve("/truncate", req -> {
                    long half = Long.parseLong(req.queryParameter("n").orElseThrow());
                    return MockResponse.ok().generatedBody(2 * half).abortAfter(half);      // dies halfway
                })
                .serve("/hang", hang)
                .dispatcher(req -> MockResponse.ok("origin flaky " + req.path())).recordRequests(false).start();
        Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
        try (ProxyProcess proxy = ProxyProcess.start(a, b, flaky)) {
            warmUp(proxy, a);
            Stats before = proxy.stats();
            proxy.dump("before");

            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(seconds);
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS + 2, r -> new Thread(r, "soak-client"));
            clients.submit(() -> {
                int round = 0;
                while (System.nanoTime() < deadline) {
                    try {
                        // the fault timeline of a time-bounded run (flaky origin down, then up again): a schedule, not a
                        // wait for an event
                        TimeUnit.MILLISECONDS.sleep(3000); // timed on purpose: the fault timeline
                        if (round++ % 2 == 0) {
                            flaky.close();
                        } else {
                            flaky.start();
                        }
                    } catch (Exception e) {
                        count(outcomes, "fault-injector: " + e.getClass().getSimpleName());
                    }
                }
                return null;
            });
            List<String> samples = new ArrayList<>();
            List<Long> heapSamples = new ArrayList<>();
            clients.submit(() -> {
                for (long at = sampleEvery; at <= seconds; at += sampleEvery) {
                    long wait = start + TimeUnit.SECONDS.toNanos(at) - System.nanoTime();
                    // the heap sampling timeline of a time-bounded run, bounded by its length: a schedule, not a wait
                    // for an event
                    TimeUnit.NANOSECONDS.sleep(Math.max(0, wait)); // timed on purpose: the sampling timeline
                    Stats s = proxy.stats();
                    synchronized (samples) {
                        heapSamples.add(s.heap);
                        samples.add(String.format("  heap after GC at %4d s: %7.1f MiB, threads %d, fds %d%n", at,
                                s.heap / 1048576.0, s.threads, s.fds));
                    }
                    if (heapSamples.size() == 1) {
                        proxy.dump("first-sample");
                    }
                }
                return null;
            });
            java.util.concurrent.atomic.AtomicBoolean stuckDumped = new java.util.concurrent.atomic.AtomicBoolean();
            for (int i = 0; i < CLIENTS; i++) {
                clients.submit(() -> {
                    while (System.nanoTime() < deadline) {
                        String outcome = oneRequest(proxy.reversePort, proxy.forwardPort, a.port());
                        if (outcome.endsWith("SocketTimeoutException") && stuckDumped.compareAndSet(false, true)) {
                            proxy.dump("stuck"); // the proxy's state while the exchange the client gave up on is stuck
                        }
                        count(outcomes, outcome);
                    }
                    return null;
                });
            }
            clients.shutdown();
            assertThat(clients.awaitTermination(seconds + 60, TimeUnit.SECONDS)).isTrue();
            if (!flaky.isRunning()) {
                flaky.start();
            }
            release.complete(null);

            warmUp(proxy, a);
            Stats after = proxy.awaitSettled(before, 150);
            proxy.dump("after");
            String pool = proxy.pool();

            StringBuilder report = new StringBuilder("soak: " + seconds + " s, " + CLIENTS + " clients, proxy JVM "
                    + PROXY_HEAP + "\n");
            outcomes.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> report.append(String.format("  %-50s %d%s%n", e.getKey(), e.getValue().sum(),
                            EXPECTED.contains(e.getKey()) ? "" : "   <- unexpected")));
            report.append("  proxy events (failed, 5xx or slower than 2 s):\n");
            proxy.events.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> report.append(String.format("    %-110s %d%s%n", e.getKey(), e.getValue().sum(),
                            expectedEvent(e.getKey()) ? "" : "   <- unexpected")));
            report.append(String.format("  heap after GC at start: %7.1f MiB%n", before.heap / 1048576.0));
            synchronized (samples) {
                samples.forEach(report::append);
            }
            report.append(String.format("  heap after GC at end:   %7.1f MiB%n", after.heap / 1048576.0));
            report.append(String.format("  live threads: %d at baseline, %d after%n    baseline %s%n    after    %s%n",
                    before.threads, after.threads, before.groups, after.groups));
            report.append(String.format("  open fds: %d at baseline, %d after%n", before.fds, after.fds));
            report.append("  reverse pool: ").append(pool).append('\n');
            Files.writeString(Path.of("target", "soak-report.txt"), report.toString());
            System.out.print(report);

            assertThat(outcomes.keySet()).as(report.toString()).allMatch(EXPECTED::contains);
            assertThat(proxy.events.keySet()).as(report.toString()).allMatch(SoakTest::expectedEvent);
            List<Long> heaps;
            synchronized (samples) {
                heaps = new ArrayList<>(heapSamples);
            }
            heaps.add(after.heap);
            assertThat(heaps.subList(1, heaps.size())).as(report.toString())
                    .allMatch(h -> h <= heaps.get(0) + HEAP_GROWTH_LIMIT);
            assertThat(after.threads).as(report.toString()).isLessThanOrEqualTo(before.threads);
            assertThat(after.fds).as(report.toString()).isLessThanOrEqualTo(before.fds);
        } finally {
            a.close();
            b.close();
            flaky.close();
        }
    }

    private static boolean expectedEvent(String label) {
        return EXPECTED_EVENTS.stream().anyMatch(p -> p.matcher(label).matches());
    }

    /** One request of a randomly chosen kind; returns its outcome label. */
    private static String oneRequest(int reversePort, int forwardPort, int originPort) {
        int kind = ThreadLocalRandom.current().nextInt(100);
        try {
            if (kind >= 44 && kind < 50) {
                return "reverse 300KiB GET, every byte checked: " + checkedBody(reversePort, 300 * 1024 + 13);
            } else if (kind < 50) {
                String status = statusOf(reversePort, "GET /x HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", -1);
                return status.equals("200") ? "reverse GET: 200" : "reverse GET: unexpected " + status;
            } else if (kind < 60) {
                return "reverse 1MiB GET, client gives up early: " + statusOf(reversePort,
                        "GET /bytes?n=1048576 HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", 20_000);
            } else if (kind < 68) {
                byte[] body = new byte[200_000];
                return "reverse POST 200KB: " + statusOf(reversePort, "POST /upload HTTP/1.1\r\nHost: r\r\nContent-Length: "
                        + body.length + "\r\nConnection: close\r\n\r\n" + new String(body, StandardCharsets.ISO_8859_1), -1);
            } else if (kind < 72) {
                return "reverse hang -> " + statusOf(reversePort, "GET /hang HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", -1);
            } else if (kind < 76) {
                return "reverse truncated body: " + statusOf(reversePort, "GET /truncate?n=50000 HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", -1);
            } else if (kind < 84) {
                return "forward GET: " + statusOf(forwardPort, "GET http://127.0.0.1:" + originPort + "/hello HTTP/1.1\r\nHost: 127.0.0.1:"
                        + originPort + "\r\nConnection: close\r\n\r\n", -1);
            } else if (kind < 87) {
                return "forward denied destination: " + statusOf(forwardPort,
                        "GET http://169.254.169.254/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n", -1);
            } else if (kind < 90) {
                return "forward CONNECT to port 25: " + statusOf(forwardPort, "CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n", -1);
            } else if (kind < 95) {
                return "malformed request: " + statusOf(reversePort,
                        "POST /x HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", -1);
            } else {
                return "slow head: " + slowHead(reversePort);
            }
        } catch (IOException e) {
            return "client I/O error (" + (kind < 50 ? "reverse GET" : "other") + "): " + e.getClass().getSimpleName();
        }
    }

    private static String statusOf(int port, String request, int readAtMost) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] head = new byte[12];
            int n = in.readNBytes(head, 0, 12);
            if (n < 12) {
                return "closed without answer";
            }
            long total = 0;
            byte[] buf = new byte[16384];
            int r;
            while ((readAtMost < 0 || total < readAtMost) && (r = in.read(buf)) >= 0) {
                total += r;
            }
            return new String(head, 9, 3, StandardCharsets.US_ASCII);
        }
    }

    /**
     * GETs {@code /bytes?n=length} and checks every byte against the origin's generator ({@code 'a' + i % 26}): a
     * chunk of another exchange's buffer relayed here would show. Returns the status, ", cut short" when the body
     * ended early (an origin stopped under it), or what was wrong.
     */
    private static String checkedBody(int port, int length) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /bytes?n=" + length + " HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = new java.io.BufferedInputStream(s.getInputStream(), 16384);
            StringBuilder head = new StringBuilder();
            while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return "closed without answer";
                }
                head.append((char) b);
            }
            String status = head.length() >= 12 ? head.substring(9, 12) : "???";
            long i = 0;
            byte[] buf = new byte[16384];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                for (int k = 0; k < n; k++, i++) {
                    if (i >= length || buf[k] != (byte) ('a' + (int) (i % 26))) {
                        return status + ", WRONG BYTE at " + i;
                    }
                }
            }
            return i == length ? status : status + ", cut short";
        }
    }

    private static String slowHead(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET /x HTTP/1.1\r\nHost: r\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            return s.getInputStream().read() < 0 ? "closed by the proxy" : "answered";
        }
    }

    private static void warmUp(ProxyProcess proxy, MockOrigin a) throws IOException {
        for (int i = 0; i < 20; i++) {
            statusOf(proxy.reversePort, "GET /x HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", -1);
            statusOf(proxy.forwardPort, "GET http://127.0.0.1:" + a.port() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + a.port()
                    + "\r\nConnection: close\r\n\r\n", -1);
        }
    }

    private static void count(Map<String, LongAdder> outcomes, String label) {
        outcomes.computeIfAbsent(label, k -> new LongAdder()).increment();
    }

    /** The proxy JVM's heap after a full GC, live threads (and their groups by name), open file descriptors. */
    record Stats(long heap, int threads, long fds, String groups) {
        static Stats parse(String line) {
            String[] p = line.split(" ", 5);
            return new Stats(Long.parseLong(p[1]), Integer.parseInt(p[2]), Long.parseLong(p[3]), p[4]);
        }
    }

    /** The {@link SoakProxy} JVM, driven through its standard input and output. */
    static final class ProxyProcess implements AutoCloseable {
        final int reversePort;
        final int forwardPort;
        final Map<String, LongAdder> events = new ConcurrentHashMap<>();
        private final Process process;
        private final PrintStream commands;
        private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();

        private ProxyProcess(Process process) throws Exception {
            this.process = process;
            this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            Thread reader = new Thread(() -> {
                try {
                    for (String line; (line = out.readLine()) != null; ) {
                        if (line.startsWith("event ")) {
                            count(events, line.substring(6));
                        } else {
                            replies.add(line);
                        }
                    }
                } catch (IOException e) {
                    replies.add("error " + e);
                }
                replies.add("exited");
            }, "soak-proxy-reader");
            reader.setDaemon(true);
            reader.start();
            String ports = reply("ports", 60);
            String[] p = ports.split(" ");
            this.reversePort = Integer.parseInt(p[1]);
            this.forwardPort = Integer.parseInt(p[2]);
        }

        static ProxyProcess start(MockOrigin a, MockOrigin b, MockOrigin flaky) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process process = new ProcessBuilder(java, PROXY_HEAP,
                    // -Dgatehouse.upstream.transport=jetty-client on the Maven command line soaks jetty-client instead
                    "-Dgatehouse.upstream.transport=" + System.getProperty("gatehouse.upstream.transport", "lean"),
                    // -Dgatehouse.server.buffers=unpooled (or guarded) soaks the server side without the buffer pool
                    "-Dgatehouse.server.buffers=" + System.getProperty("gatehouse.server.buffers", "pooled"),
                    "-Dgatehouse.debug.exchanges=true", // the stuck dump lists the exchanges in flight
                    "-cp", System.getProperty("java.class.path"),
                    SoakProxy.class.getName(), a.baseUrl(), b.baseUrl(), flaky.baseUrl(), Integer.toString(a.port()))
                    .redirectError(Path.of("target", "soak-proxy.log").toFile())
                    .start();
            try {
                return new ProxyProcess(process);
            } catch (Exception | AssertionError e) {
                process.destroyForcibly();
                throw e;
            }
        }

        synchronized Stats stats() throws InterruptedException {
            commands.println("stats");
            return Stats.parse(reply("stats", 60));
        }

        synchronized String pool() throws InterruptedException {
            commands.println("pool");
            return reply("pool", 60).substring(5);
        }

        /** A class histogram and thread dump of the proxy JVM, as target/soak-NAME-histogram.txt and -threads.txt. */
        synchronized void dump(String name) throws InterruptedException {
            commands.println("dump " + Path.of("target", "soak-" + name).toAbsolutePath());
            reply("dumped", 60);
        }

        /**
         * Samples until threads and file descriptors are back to {@code baseline} (idle connections and pool threads
         * close on their own timeouts) or {@code seconds} passed; returns the last sample.
         *
         * <p>The one polling loop left in the tests, on purpose: what it waits for is another JVM's thread and
         * descriptor counts going down as Jetty's pool threads end on their 60 s idle timeout and idle connections on
         * the proxies' 3 s one. Jetty's pool reports no thread's end (only a {@code join} per thread would, from
         * watcher threads in the proxy JVM that would themselves change the thread count measured here), nor does
         * the kernel report a released descriptor; the loop is bounded and only reads statistics.
         */
        Stats awaitSettled(Stats baseline, long seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            Stats s = stats();
            while ((s.threads > baseline.threads || s.fds > baseline.fds) && System.nanoTime() < deadline) {
                TimeUnit.SECONDS.sleep(2); // timed on purpose: no event crosses the process boundary (see above)
                s = stats();
            }
            return s;
        }

        private String reply(String kind, long timeoutSeconds) throws InterruptedException {
            String line = replies.poll(timeoutSeconds, TimeUnit.SECONDS);
            if (line == null || !line.startsWith(kind)) {
                throw new AssertionError("proxy JVM: expected '" + kind + "', got " + line + " (see target/soak-proxy.log)");
            }
            return line;
        }

        @Override
        public void close() throws Exception {
            commands.println("quit");
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
