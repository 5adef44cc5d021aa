package io.github.gatehouse.examples.soak;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.OutlierDetection;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.OriginServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The soak run: mixed load with faults against a forward and a reverse proxy for a bounded time (loopback only),
 * then a check that nothing leaked. Not part of {@code mvn verify}; run it with
 * {@code mvn -B -Psoak -pl proxy-examples test} ({@code -Dsoak.seconds=180} to change the 120 s default).
 *
 * <p>Faults: one of three origins is stopped and restarted every few seconds; clients send malformed requests,
 * give up in the middle of responses, upload, hit a hanging path (upstream timeout), a truncating path (upstream
 * dies mid-body), a refused CONNECT and a denied destination; slow clients hold a request head open. At the end:
 * errors by kind, heap after GC, live threads and open file descriptors, each compared with the start.
 */
@Tag("soak")
class SoakTest {
    private static final int CLIENTS = 16;

    @Test
    void mixedLoadWithFaultsLeaksNothing() throws Exception {
        long seconds = Long.getLong("soak.seconds", 120);
        OriginServer a = OriginServer.create("a").start();
        OriginServer b = OriginServer.create("b").start();
        OriginServer flaky = OriginServer.create("flaky").start();
        UpstreamPool pool = UpstreamPool.of(a.baseUrl(), b.baseUrl(), flaky.baseUrl())
                .healthCheck(HealthCheck.get("/health").every(Duration.ofMillis(500)).rise(1).fall(1))
                .outlierDetection(OutlierDetection.defaults().consecutiveFailures(2).baseEjection(Duration.ofSeconds(1)))
                .retries(RetryPolicy.defaults().retries(2).budgetPercent(100)); // the fault mix would exhaust a 20% budget by design
        Map<String, LongAdder> slow = new ConcurrentHashMap<>();
        AccessLog slowLog = e -> {
            if (e.duration().toMillis() > 2000 || (e.status() >= 500 && e.target().endsWith("/x"))) {
                count(slow, e.method() + " " + e.target() + " -> " + e.status() + " in " + e.duration().toMillis() / 1000
                        + " s, upstream " + e.upstream() + ", tries " + e.tries() + ", " + e.reason());
            }
        };
        ProxyServer reverse = ProxyServer.builder().route(Route.any().to(pool)).accessLog(slowLog)
                .upstreamTimeout(Duration.ofMillis(500)).requestHeadTimeout(Duration.ofSeconds(2))
                .idleTimeout(Duration.ofSeconds(3)).build().start();
        ProxyServer forward = ProxyServer.builder().forward().allowInternalDestination("127.0.0.1:" + a.port())
                .accessLog(AccessLog.off()).upstreamTimeout(Duration.ofMillis(500)).maxRequestHeaderSize(DataSize.kibibytes(8))
                .idleTimeout(Duration.ofSeconds(3))
                .build().start();

        warmUp(reverse, forward, a);
        long fdsBefore = openFileDescriptors();
        int threadsBefore = Thread.activeCount();
        long heapBefore = heapAfterGc();

        Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS + 1, r -> new Thread(r, "soak-client"));
        clients.submit(() -> {
            int round = 0;
            while (System.nanoTime() < deadline) {
                try {
                    TimeUnit.MILLISECONDS.sleep(3000); // the fault schedule: flaky origin down, then up again
                    if (round++ % 2 == 0) {
                        flaky.stop();
                    } else {
                        flaky.start();
                    }
                } catch (Exception e) {
                    count(outcomes, "fault-injector: " + e.getClass().getSimpleName());
                }
            }
            return null;
        });
        for (int i = 0; i < CLIENTS; i++) {
            clients.submit(() -> {
                while (System.nanoTime() < deadline) {
                    count(outcomes, oneRequest(reverse.port(), forward.port(), a.port()));
                }
                return null;
            });
        }
        clients.shutdown();
        assertThat(clients.awaitTermination(seconds + 60, TimeUnit.SECONDS)).isTrue();
        if (!flaky.isRunning()) {
            flaky.start();
        }
        a.release();
        b.release();
        flaky.release();

        warmUp(reverse, forward, a);
        long fdsAfter = awaitSettled(fdsBefore);
        long heapAfter = heapAfterGc();
        int threadsAfter = Thread.activeCount();
        StringBuilder report = new StringBuilder("soak: " + seconds + " s, " + CLIENTS + " clients\n");
        outcomes.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> report.append(String.format("  %-40s %d%n", e.getKey(), e.getValue().sum())));
        report.append(String.format("  open fds: %d before, %d after%n", fdsBefore, fdsAfter));
        report.append(String.format("  heap after GC: %d KiB before, %d KiB after%n", heapBefore / 1024, heapAfter / 1024));
        report.append(String.format("  live threads: %d before, %d after%n", threadsBefore, threadsAfter));
        report.append("  reverse pool: ").append(pool.stats()).append('\n');
        slow.forEach((k, v) -> report.append("  slow exchange: ").append(k).append(" x").append(v.sum()).append('\n'));
        Files.writeString(Path.of("target", "soak-report.txt"), report.toString());
        System.out.print(report);

        reverse.close();
        forward.close();
        a.stop();
        b.stop();
        flaky.stop();

        assertThat(fdsAfter).as(report.toString()).isLessThanOrEqualTo(fdsBefore + 16);
        assertThat(heapAfter).as(report.toString()).isLessThan(heapBefore + 64L * 1024 * 1024);
        assertThat(outcomes.keySet()).as(report.toString()).noneMatch(k -> k.startsWith("reverse GET: unexpected")
                || k.startsWith("client I/O error"));
    }

    /** One request of a randomly chosen kind; returns its outcome label. */
    private static String oneRequest(int reversePort, int forwardPort, int originPort) {
        int kind = ThreadLocalRandom.current().nextInt(100);
        try {
            if (kind < 50) {
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

    private static String slowHead(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET /x HTTP/1.1\r\nHost: r\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            return s.getInputStream().read() < 0 ? "closed by the proxy" : "answered";
        }
    }

    private static void warmUp(ProxyServer reverse, ProxyServer forward, OriginServer a) throws IOException {
        for (int i = 0; i < 20; i++) {
            statusOf(reverse.port(), "GET /x HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", -1);
            statusOf(forward.port(), "GET http://127.0.0.1:" + a.port() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + a.port()
                    + "\r\nConnection: close\r\n\r\n", -1);
        }
    }

    private static long awaitSettled(long target) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long fds = openFileDescriptors();
        while (fds > target + 16 && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(200); // idle connections close on their own timeouts; poll until they have
            fds = openFileDescriptors();
        }
        return fds;
    }

    private static long openFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            return -1;
        }
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static void count(Map<String, LongAdder> outcomes, String label) {
        outcomes.computeIfAbsent(label, k -> new LongAdder()).increment();
    }
}
