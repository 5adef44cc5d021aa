package io.github.gatehouse.examples.soak;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.OutlierDetection;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The proxy side of the soak run ({@link SoakTest}), in a JVM of its own so that the heap, threads and file
 * descriptors it reports are the proxy's alone, not the origins' or the load clients'.
 *
 * <p>Arguments: the URLs of origins {@code a}, {@code b} and {@code flaky}, then the port of {@code a} (the forward
 * proxy's one allowed internal destination). It starts a reverse proxy over the three and a forward proxy, prints
 * {@code ports REVERSE FORWARD}, then answers one command a line on standard input:
 * <ul>
 *   <li>{@code stats}: a full GC, then {@code stats HEAP_BYTES THREADS FDS THREAD_GROUPS}</li>
 *   <li>{@code pool}: {@code pool STATS}, the reverse pool's member statistics</li>
 *   <li>{@code dump PREFIX}: writes a class histogram ({@code jcmd GC.class_histogram}) to
 *       {@code PREFIX-histogram.txt} and a thread dump to {@code PREFIX-threads.txt}, then {@code dumped PREFIX}</li>
 *   <li>{@code quit} (or end of input): closes both proxies and exits</li>
 * </ul>
 * Each exchange that ends in a 5xx, fails, or takes longer than 2 s is reported as it ends, as
 * {@code event LABEL}, the label saying what, how it ended and why, with ports and numbers left out so equal
 * events count together. Logs go to standard error.
 */
final class SoakProxy {
    private SoakProxy() {
    }

    public static void main(String[] args) throws Exception {
        String a = args[0];
        String b = args[1];
        String flaky = args[2];
        int aPort = Integer.parseInt(args[3]);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Map<String, String> names = Map.of(authority(a), "a", authority(b), "b", authority(flaky), "flaky");
        AccessLog events = e -> {
            if (e.status() >= 500 || !e.completed() || e.duration().toMillis() > 2000) {
                String label = e.method() + " " + path(e.target()) + " -> " + e.status() + (e.completed() ? "" : " (aborted)")
                        + (e.duration().toMillis() > 2000 ? " slow" : "") + ", tries " + e.tries() + ": " + normalise(e, names);
                synchronized (out) {
                    out.println("event " + label);
                }
            }
        };
        UpstreamPool pool = UpstreamPool.of(a, b, flaky)
                .healthCheck(HealthCheck.get("/health").every(Duration.ofMillis(500)).rise(1).fall(1))
                .outlierDetection(OutlierDetection.defaults().consecutiveFailures(2).baseEjection(Duration.ofSeconds(1)))
                .retries(RetryPolicy.defaults().retries(2).budgetPercent(100)); // the fault mix would exhaust a 20% budget by design
        ProxyServer reverse = ProxyServer.builder().route(Route.any().to(pool)).accessLog(events)
                .upstreamTimeout(Duration.ofMillis(500)).requestHeadTimeout(Duration.ofSeconds(2))
                .idleTimeout(Duration.ofSeconds(3)).build().start();
        ProxyServer forward = ProxyServer.builder().forward().allowInternalDestination("127.0.0.1:" + aPort)
                .accessLog(events).upstreamTimeout(Duration.ofMillis(500)).maxRequestHeaderSize(DataSize.kibibytes(8))
                .idleTimeout(Duration.ofSeconds(3))
                .build().start();
        synchronized (out) {
            out.println("ports " + reverse.port() + " " + forward.port());
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null && !line.equals("quit"); ) {
            String reply;
            if (line.equals("stats")) {
                long heap = heapAfterGc();
                Map<String, Integer> groups = threadGroups();
                int threads = groups.values().stream().mapToInt(Integer::intValue).sum();
                reply = "stats " + heap + " " + threads + " " + openFileDescriptors() + " " + groups;
            } else if (line.equals("pool")) {
                reply = "pool " + pool.stats();
            } else if (line.startsWith("dump ")) {
                String prefix = line.substring(5);
                Files.writeString(Path.of(prefix + "-histogram.txt"), diagnosticCommand("gcClassHistogram"));
                Files.writeString(Path.of(prefix + "-threads.txt"), diagnosticCommand("threadPrint"));
                Files.writeString(Path.of(prefix + "-sockets.txt"), sockets());
                Files.writeString(Path.of(prefix + "-jetty.txt"), jettyDump(reverse) + "\n\n" + jettyDump(forward));
                reply = "dumped " + prefix;
            } else {
                reply = "error unknown command " + line;
            }
            synchronized (out) {
                out.println(reply);
            }
        }
        reverse.close();
        forward.close();
        System.exit(0);
    }

    private static String authority(String url) {
        return url.substring(url.indexOf("://") + 3);
    }

    private static String path(String target) {
        String t = target.replaceFirst("^[a-z]+://[^/]*", "");
        int q = t.indexOf('?');
        return q < 0 ? t : t.substring(0, q);
    }

    private static String normalise(AccessLogEntry e, Map<String, String> names) {
        String reason = e.reason() == null ? "" : e.reason();
        for (Map.Entry<String, String> n : names.entrySet()) {
            reason = reason.replace(n.getKey(), n.getValue());
        }
        return reason.replaceAll("@[0-9a-f]+.*", "").replaceAll("\\d+", "N");
    }

    /** What {@code jcmd PID GC.class_histogram} or {@code Thread.print} would print, from inside. */
    private static String diagnosticCommand(String operation) throws Exception {
        javax.management.ObjectName name = new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand");
        return (String) ManagementFactory.getPlatformMBeanServer().invoke(name, operation,
                new Object[] {new String[0]}, new String[] {String[].class.getName()});
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /**
     * Live threads by name with numbers taken out ({@code gatehouse-NAME-N}), leaving out the JVM's attach listener,
     * which a {@code jcmd} run during the soak starts and never stops.
     */
    private static Map<String, Integer> threadGroups() {
        Map<String, Integer> groups = new TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && !t.getName().equals("Attach Listener")) {
                String name = t.getName().replaceAll("@[0-9a-f]+.*", "").replaceAll("[-0-9]+$", "").replace(' ', '_');
                groups.merge(name, 1, Integer::sum);
            }
        }
        return groups;
    }

    /** The server's Jetty component dump (connectors, endpoints, upstream pools), reached by reflection: a diagnostic. */
    private static String jettyDump(ProxyServer server) {
        try {
            java.lang.reflect.Field running = ProxyServer.class.getDeclaredField("running");
            running.setAccessible(true);
            Object proxy = running.get(server);
            java.lang.reflect.Field jetty = proxy.getClass().getDeclaredField("server");
            jetty.setAccessible(true);
            return ((org.eclipse.jetty.server.Server) jetty.get(proxy)).dump();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "no dump: " + e;
        }
    }

    /** This JVM's TCP sockets, from /proc: local and remote address and state, one line each. */
    private static String sockets() throws IOException {
        java.util.Set<String> inodes = new java.util.HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        inodes.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        StringBuilder b = new StringBuilder();
        for (String table : List.of("/proc/self/net/tcp", "/proc/self/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && inodes.contains(f[9])) {
                    b.append(port(f[1])).append(" -> ").append(port(f[2])).append(" state ").append(f[3]).append('\n');
                }
            }
        }
        return b.toString();
    }

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.indexOf(':') + 1), 16);
    }

    private static long openFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            return -1;
        }
    }
}
