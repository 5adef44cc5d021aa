package io.github.gatehouse.examples.soak;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The cluster soak: three launcher JVMs ({@code reverse}, one origin, {@code --cache-memory} as the near tier of the
 * shared tier, an admin listener each) under a load of concurrent clients spread over them, for a bounded time on
 * loopback; one instance is killed ({@code kill -9} of its JVM) in the middle of the load and restarted on the same
 * ports, and purges (by URL, prefix and tag) are issued through the admin API of a live instance all along. Not part
 * of {@code mvn verify} (the tag "soak" is excluded there); run it with
 * {@code mvn -B -Psoak -pl proxy-examples -am test -Dtest=ClusterSoakTest -Dsurefire.failIfNoSpecifiedTests=false}
 * ({@code -Dsoak.seconds=300} to change the 120 s default). The report is {@code target/cluster-soak-report.txt},
 * each launcher's output {@code target/cluster-soak-NAME.log}.
 *
 * <p>Before the clustered run, the same three launchers without the cluster flags take the same load for a fifth of
 * its length (no faults, no purges): the report compares their throughput and origin requests per object with those
 * of the clustered run's first fifth (no faults, no purges yet either).
 *
 * <p>Each origin response carries a version, counted per object (URL, and language for the {@code Vary} objects),
 * in its body and in {@code X-Version}. Fails on:
 * <ul>
 *   <li>any failed exchange other than those on the killed instance that were in flight at the kill (started before
 *       it, not complete) or that started while it was down (connection refused, counted apart);</li>
 *   <li>any answer other than 200 with the object asked for (a body naming another object or language);</li>
 *   <li>any answer to a request that started after a purge returned carrying a version of a purged object that the
 *       origin had issued before that purge started (a stale entry that survived the purge);</li>
 *   <li>a purge the admin API did not answer with 200, a killed JVM that did not end by SIGKILL, a restarted
 *       instance that served nothing.</li>
 * </ul>
 */
@Tag("soak")
class ClusterSoakTest {
    private static final String SITE = "soak.test";
    private static final String TOKEN = "soak-admin-token";
    private static final int INSTANCES = 3;
    private static final int CLIENTS_PER_INSTANCE = 4;
    private static final int CACHEABLE = 40;
    private static final int VARYING = 10;
    private static final int UNCACHEABLE = 5;
    /** The share of requests for uncacheable objects, in percent ({@code -Dsoak.uncacheablePercent}, 8 by default). */
    private static final int UNCACHEABLE_PERCENT = Integer.getInteger("soak.uncacheablePercent", 8);
    private static final List<String> LANGUAGES = List.of("en", "fr", "de");
    private static final int TAGS = 5;
    private static final String LAUNCHER_HEAP = "-Xmx256m";
    private static final Path TARGET = Path.of("target");

    private final HttpClient admin = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void threeInstancesUnderLoadWithOneKilledAndRestartedFailOnlyWhatWasInFlightAndServeNothingPurged() throws Exception {
        long seconds = Math.max(60, Long.getLong("soak.seconds", 120)); // room for the kill, the restart and loads after
        long steadySeconds = Math.max(10, seconds / 5);
        long warmUp = TimeUnit.SECONDS.toNanos(Long.getLong("soak.warmupSeconds", 30));
        StringBuilder report = new StringBuilder();
        try (SoakOrigin origin = SoakOrigin.start()) {
            // ---- the same three launchers without the cluster flags: each instance its own cache
            Phase alone;
            List<Launcher> solo = new ArrayList<>();
            try {
                for (int i = 0; i < INSTANCES; i++) {
                    solo.add(Launcher.start("solo-" + i, origin, 0, 0, List.of()));
                }
                alone = new Phase("three instances without the shared tier", solo, origin,
                        TimeUnit.SECONDS.toNanos(steadySeconds));
                alone.run(warmUp, TimeUnit.SECONDS.toNanos(steadySeconds), null);
            } finally {
                for (Launcher l : solo) {
                    l.stop();
                }
            }
            Map<String, Long> originAlone = origin.drainCounts();

            // ---- the cluster
            int[] clusterPorts = freePorts(INSTANCES);
            List<Launcher> members = new ArrayList<>();
            Phase clustered;
            Faults faults;
            try {
                for (int i = 0; i < INSTANCES; i++) {
                    List<String> flags = new ArrayList<>(List.of("--cluster-name", "soak-" + clusterPorts[0],
                            "--cluster-port", Integer.toString(clusterPorts[i])));
                    for (int j = 0; j < INSTANCES; j++) {
                        if (j != i) {
                            flags.add("--cluster-member");
                            flags.add("127.0.0.1:" + clusterPorts[j]);
                        }
                    }
                    Launcher l = Launcher.start("member-" + i, origin, 0, 0, flags);
                    if (i > 0) {
                        l.awaitSettled(i + 1);
                    }
                    members.add(l);
                }
                clustered = new Phase("three instances sharing the tier", members, origin,
                        TimeUnit.SECONDS.toNanos(steadySeconds));
                faults = new Faults(clustered, seconds, steadySeconds);
                clustered.run(warmUp, TimeUnit.SECONDS.toNanos(seconds), faults);
            } finally {
                for (Launcher l : members) {
                    l.stop();
                }
                for (Launcher l : Launcher.STARTED) {
                    l.stop(); // the restarted one too: it is no longer in members
                }
            }
            Map<String, Long> originClustered = origin.drainCounts();

            // ---- the report
            report.append(String.format(Locale.ROOT, "cluster soak: %d s (the run without the tier: %d s), %d clients"
                    + " per instance, launcher JVMs %s, loopback, on a machine shared with other work%n",
                    seconds, steadySeconds, CLIENTS_PER_INSTANCE, LAUNCHER_HEAP));
            report.append(String.format(Locale.ROOT, "working set: %d cacheable objects (max-age=600, tags), %d objects"
                    + " with Vary: Accept-Language (%d languages), %d uncacheable (no-store); %d%% of requests uncacheable%n",
                    CACHEABLE, VARYING, LANGUAGES.size(), UNCACHEABLE, UNCACHEABLE_PERCENT));
            alone.report(report, 0, alone.steadyNanos);
            report.append(originReport("  origin", originAlone, 0));
            clustered.report(report, 0, clustered.steadyNanos);
            clustered.report(report, 0, clustered.durationNanos);
            report.append(originReport("  origin", originClustered, faults.purgedObjectCount()));
            faults.report(report);
            clustered.timeline(report, TimeUnit.SECONDS.toNanos(5));
            clustered.outcomeReport(report, faults);
            Files.writeString(TARGET.resolve("cluster-soak-report.txt"), report.toString());
            System.out.print(report);

            assertThat(alone.unexpected()).as(report.toString()).isEmpty();
            assertThat(clustered.unexpected(faults)).as(report.toString()).isEmpty();
            assertThat(clustered.stale).as(report.toString()).isEmpty();
            assertThat(faults.purges).as(report.toString()).hasSizeGreaterThanOrEqualTo(3)
                    .allSatisfy(p -> assertThat(p.status == 200 || p.status == -1 && p.instance == faults.victim
                            && p.startNanos + p.tookNanos >= faults.killAt - clustered.startNanos).as(p.toString()).isTrue());
            assertThat(faults.killExit).as(report.toString()).isEqualTo(137); // 128 + SIGKILL
            assertThat(clustered.servedAfterRestart.sum()).as(report.toString()).isPositive();
            assertThat(clustered.checkedAfterPurge.sum()).as("the stale check saw answers").isPositive();
        }
    }

    private static String originReport(String label, Map<String, Long> counts, long purgedObjects) {
        long cacheableObjects = counts.keySet().stream().filter(k -> !k.startsWith("/u/")).count();
        long cacheableRequests = counts.entrySet().stream().filter(e -> !e.getKey().startsWith("/u/"))
                .mapToLong(Map.Entry::getValue).sum();
        long max = counts.entrySet().stream().filter(e -> !e.getKey().startsWith("/u/"))
                .mapToLong(Map.Entry::getValue).max().orElse(0);
        long uncacheable = counts.entrySet().stream().filter(e -> e.getKey().startsWith("/u/"))
                .mapToLong(Map.Entry::getValue).sum();
        return String.format(Locale.ROOT, "%s requests per cacheable object (URL and language): %.2f (%d requests for %d"
                + " objects, at most %d for one; objects purged: %d, so %d requests beyond one per object and purge);"
                + " uncacheable: %d%n", label, cacheableObjects == 0 ? 0.0 : (double) cacheableRequests / cacheableObjects,
                cacheableRequests, cacheableObjects, max, purgedObjects,
                cacheableRequests - cacheableObjects - purgedObjects, uncacheable);
    }

    private static int[] freePorts(int n) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            int[] ports = new int[n];
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(s);
                ports[i] = s.getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket s : sockets) {
                s.close();
            }
        }
    }

    // ---- the load ------------------------------------------------------------------------------------

    /** What one exchange ended in. */
    record Outcome(int instance, int incarnation, long start, long end, String label, boolean ok) {
    }

    /** A load run over some launchers: the clients, their outcomes, latencies and the stale answers found. */
    final class Phase {
        final String name;
        final List<Launcher> launchers;
        final SoakOrigin origin;
        final List<Outcome> outcomes = Collections.synchronizedList(new ArrayList<>());
        final List<String> stale = new CopyOnWriteArrayList<>();
        final LongAdder servedAfterRestart = new LongAdder();
        /** Answers checked against a purge that returned before they were asked (the stale check's reach). */
        final LongAdder checkedAfterPurge = new LongAdder();
        /** Per object key, the purges that returned: when, and the highest version issued before each started. */
        final Map<String, List<long[]>> purgedBefore = new ConcurrentHashMap<>();
        /** The steady window: from the start to the first fault (purge or kill); its CPU time is measured. */
        final long steadyNanos;
        final long[] cpuAtStart;
        final long[] cpuAtSteadyEnd;
        /** Each launcher's {@code /api/stats} at the end of the steady window. */
        final List<String> steadyStats = new CopyOnWriteArrayList<>();
        long startNanos;
        long durationNanos;

        Phase(String name, List<Launcher> launchers, SoakOrigin origin, long steadyNanos) {
            this.name = name;
            this.launchers = new CopyOnWriteArrayList<>(launchers);
            this.origin = origin;
            this.steadyNanos = steadyNanos;
            this.cpuAtStart = new long[launchers.size()];
            this.cpuAtSteadyEnd = new long[launchers.size()];
        }

        /** Each launcher JVM's CPU time so far (user and system, all threads), in nanoseconds. */
        private void cpu(long[] into) {
            for (int i = 0; i < launchers.size(); i++) {
                into[i] = launchers.get(i).process.info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
            }
        }

        /**
         * Loads the launchers for {@code warmUp} (checked, not in the figures: the JIT of four JVMs), then for
         * {@code nanos} from {@link #startNanos}, with the faults' schedule relative to it.
         */
        void run(long warmUp, long nanos, Faults faults) throws Exception {
            int clients = launchers.size() * CLIENTS_PER_INSTANCE;
            ExecutorService pool = Executors.newFixedThreadPool(clients + 3, r -> new Thread(r, "soak-client"));
            startNanos = System.nanoTime() + warmUp;
            long deadline = startNanos + nanos;
            List<Future<?>> done = new ArrayList<>();
            done.add(pool.submit(() -> {
                waitUntil(startNanos);
                cpu(cpuAtStart);
                waitUntil(startNanos + steadyNanos);
                cpu(cpuAtSteadyEnd);
                for (Launcher l : launchers) {
                    steadyStats.add(adminGet(l, "/api/stats"));
                }
                return null;
            }));
            if (faults != null) {
                done.add(pool.submit(() -> {
                    faults.purges(deadline);
                    return null;
                }));
                done.add(pool.submit(() -> {
                    faults.kill();
                    return null;
                }));
            }
            for (int c = 0; c < clients; c++) {
                int instance = c % launchers.size();
                done.add(pool.submit(() -> {
                    while (System.nanoTime() < deadline) {
                        Launcher l = launchers.get(instance);
                        if (!l.up.await(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                            break; // down until the end
                        }
                        oneRequest(instance, launchers.get(instance)); // the restarted one after a wait
                    }
                    return null;
                }));
            }
            pool.shutdown();
            boolean ended = pool.awaitTermination(warmUp + nanos + TimeUnit.SECONDS.toNanos(120), TimeUnit.NANOSECONDS);
            durationNanos = nanos;
            for (Future<?> f : done) {
                if (f.isDone()) {
                    f.get(); // a client or the fault schedule that threw fails the run
                }
            }
            assertThat(ended).as("the clients of " + name + " ended within the run and two minutes").isTrue();
        }

        private void oneRequest(int instance, Launcher l) {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int kind = random.nextInt(100);
            String path;
            String language = null;
            if (kind >= 100 - UNCACHEABLE_PERCENT) {
                path = "/u/" + random.nextInt(UNCACHEABLE);
            } else if (kind < (100 - UNCACHEABLE_PERCENT) * 87 / 100) {
                path = "/c/" + random.nextInt(CACHEABLE);
            } else {
                path = "/v/" + random.nextInt(VARYING);
                language = LANGUAGES.get(random.nextInt(LANGUAGES.size()));
            }
            String key = SoakOrigin.key(path, language);
            int incarnation = l.incarnation;
            long start = System.nanoTime();
            String label;
            boolean ok = false;
            try {
                Reply reply = Reply.get(l.port, path, language);
                if (reply.status != 200) {
                    label = "status " + reply.status + " " + reply.body.lines().findFirst().orElse("");
                } else if (!reply.body.startsWith(key + " v=")) {
                    label = "wrong object (asked " + key + ", got " + reply.body + ")";
                } else {
                    long version = Long.parseLong(reply.body.substring(key.length() + 3).trim());
                    ok = true;
                    label = "200";
                    checkNotPurged(key, version, start, instance, reply);
                    if (incarnation > 0) {
                        servedAfterRestart.increment();
                    }
                }
            } catch (ConnectException e) {
                label = "connection refused";
            } catch (SocketTimeoutException e) {
                label = "client timeout (10 s)";
            } catch (IOException e) {
                label = "I/O: " + e.getClass().getSimpleName() + ": " + e.getMessage();
            } catch (RuntimeException e) {
                label = "client: " + e;
            }
            outcomes.add(new Outcome(instance, incarnation, start, System.nanoTime(), label, ok));
        }

        private void checkNotPurged(String key, long version, long start, int instance, Reply reply) {
            List<long[]> purges = purgedBefore.get(key);
            if (purges == null) {
                return;
            }
            boolean checked = false;
            for (long[] p : purges) { // p[0]: when the purge returned, p[1]: the last version issued before it began
                checked |= p[0] < start;
                if (p[0] < start && version <= p[1]) {
                    stale.add(String.format(Locale.ROOT, "%s v=%d from instance %d %.3f s after the purge returned"
                            + " (versions up to %d were purged; Cache-Status: %s, Age: %s)", key, version, instance,
                            (start - p[0]) / 1e9, p[1], reply.headers.get("cache-status"), reply.headers.get("age")));
                    return;
                }
            }
            if (checked) {
                checkedAfterPurge.increment();
            }
        }

        /** Failed or wrong answers the faults do not explain. */
        List<String> unexpected() {
            return unexpected(null);
        }

        List<String> unexpected(Faults faults) {
            Map<String, Long> out = new TreeMap<>();
            synchronized (outcomes) {
                for (Outcome o : outcomes) {
                    String cls = classify(o, faults);
                    if (cls.startsWith("unexpected")) {
                        out.merge(cls + ": " + o.label, 1L, Long::sum);
                    }
                }
            }
            List<String> list = new ArrayList<>();
            out.forEach((k, v) -> list.add(k + " x" + v));
            return list;
        }

        /** The class of an outcome: ok, the two expected failures on the killed instance, or unexpected. */
        String classify(Outcome o, Faults faults) {
            if (o.ok) {
                return "ok";
            }
            if (faults != null && o.instance == faults.victim && faults.killAt != 0) {
                if (o.start < faults.killAt && o.end >= faults.killAt && o.incarnation == 0) {
                    return "in flight at the kill";
                }
                if (o.start >= faults.killAt && (faults.readyAt == 0 || o.start < faults.readyAt)) {
                    return o.label.equals("connection refused") ? "refused while down" : "failed while down";
                }
            }
            return "unexpected on instance " + o.instance + (faults != null && o.instance == faults.victim
                    ? " (the killed one)" : "");
        }

        /** Throughput and latency per instance over [from, to) of the run (nanos since its start). */
        void report(StringBuilder out, long from, long to) {
            out.append(String.format(Locale.ROOT, "%s, %.0f-%.0f s:%n", name, from / 1e9, to / 1e9));
            long total = 0;
            for (int i = 0; i < launchers.size(); i++) {
                List<Long> latencies = new ArrayList<>();
                long failed = 0;
                synchronized (outcomes) {
                    for (Outcome o : outcomes) {
                        long at = o.start - startNanos;
                        if (o.instance == i && at >= from && at < to) {
                            if (o.ok) {
                                latencies.add(o.end - o.start);
                            } else {
                                failed++;
                            }
                        }
                    }
                }
                Collections.sort(latencies);
                total += latencies.size();
                out.append(String.format(Locale.ROOT, "  instance %d: %d ok, %d failed, %.0f rps, p50 %.2f ms, p99 %.2f"
                        + " ms%n", i, latencies.size(), failed, latencies.size() / ((to - from) / 1e9),
                        percentile(latencies, 0.50) / 1e6, percentile(latencies, 0.99) / 1e6));
            }
            out.append(String.format(Locale.ROOT, "  all: %.0f rps%n", total / ((to - from) / 1e9)));
            if (from == 0 && to == steadyNanos) {
                long cpu = 0;
                for (int i = 0; i < launchers.size(); i++) {
                    cpu += cpuAtSteadyEnd[i] - cpuAtStart[i];
                }
                out.append(String.format(Locale.ROOT, "  launcher CPU: %.0f µs per exchange (%.1f s of CPU in the three"
                        + " JVMs for %d exchanges)%n", total == 0 ? 0.0 : cpu / 1e3 / total, cpu / 1e9, total));
                for (String stats : steadyStats) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"cache\":\\{[^}]*\\}|\"cluster\":\\{.*?\\}")
                            .matcher(stats);
                    StringBuilder found = new StringBuilder();
                    while (m.find()) {
                        found.append(m.group()).append(' ');
                    }
                    out.append("  stats: ").append(found.length() > 0 ? found : stats).append('\n');
                }
            }
        }

        /** Successful exchanges a second, per instance, in windows of {@code window}. */
        void timeline(StringBuilder out, long window) {
            int windows = (int) ((durationNanos + window - 1) / window);
            long[][] ok = new long[launchers.size()][windows];
            synchronized (outcomes) {
                for (Outcome o : outcomes) {
                    long at = o.start - startNanos;
                    if (o.ok && at >= 0 && at < durationNanos) {
                        ok[o.instance][(int) (at / window)]++;
                    }
                }
            }
            out.append(String.format(Locale.ROOT, "%s, rps by %d s window (instances 0/1/2):%n", name,
                    window / 1_000_000_000L));
            for (int w = 0; w < windows; w++) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %4d s:", w * window / 1_000_000_000L));
                for (long[] instance : ok) {
                    line.append(String.format(Locale.ROOT, " %5.0f", instance[w] / (window / 1e9)));
                }
                out.append(line).append('\n');
            }
        }

        void outcomeReport(StringBuilder out, Faults faults) {
            Map<String, Long> classes = new TreeMap<>();
            synchronized (outcomes) {
                for (Outcome o : outcomes) {
                    String cls = classify(o, faults);
                    classes.merge(cls.equals("ok") ? "ok" : cls + ": " + o.label, 1L, Long::sum);
                }
            }
            out.append("outcomes by class (clustered run):\n");
            classes.forEach((k, v) -> out.append(String.format(Locale.ROOT, "  %-100s %d%n", k, v)));
            out.append(String.format(Locale.ROOT, "answers checked against the purges that returned before they were"
                    + " asked: %d; stale (a version issued before the purge began): %d%n", checkedAfterPurge.sum(),
                    stale.size()));
            stale.stream().limit(20).forEach(s -> out.append("  ").append(s).append('\n'));
        }
    }

    /** GET {@code path} on the launcher's admin listener; the body. */
    private String adminGet(Launcher l, String path) throws Exception {
        return admin.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + l.adminPort + path))
                .header("Authorization", "Bearer " + TOKEN).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Returns at {@code nanos} ({@link System#nanoTime}): the fault and sampling timeline of a time-bounded run. */
    private static void waitUntil(long nanos) throws InterruptedException {
        // a schedule, not a wait for an event
        TimeUnit.NANOSECONDS.sleep(Math.max(0, nanos - System.nanoTime())); // timed on purpose: the run's timeline
    }

    private static long percentile(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }

    // ---- the faults: purges all along, one kill -9 and a restart -------------------------------------

    /** A purge issued through an instance's admin API. */
    record Purge(String kind, String arg, int instance, long startNanos, long tookNanos, int status, String body,
            int objects) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-6s %-28s on instance %d at %6.1f s: %d %s in %.0f ms, %d objects",
                    kind, arg, instance, startNanos / 1e9, status, body.trim(), tookNanos / 1e6, objects);
        }
    }

    /** The fault schedule of a run: a purge every few seconds after its first fifth, the kill at two fifths. */
    final class Faults {
        final Phase phase;
        final long seconds;
        final long firstPurgeNanos;
        final int victim = 1;
        final List<Purge> purges = new CopyOnWriteArrayList<>();
        volatile long killAt;
        volatile long readyAt;
        volatile int killExit = -1;
        volatile String killedProcess = "";
        volatile String rejoin = "";
        volatile long downNanos;
        volatile boolean victimDown;

        Faults(Phase phase, long seconds, long steadySeconds) {
            this.phase = phase;
            this.seconds = seconds;
            this.firstPurgeNanos = TimeUnit.SECONDS.toNanos(steadySeconds);
        }

        /** Issues a purge every few seconds from the end of the steady fifth until two seconds before the end. */
        void purges(long deadline) throws Exception {
            long purgeEvery = TimeUnit.SECONDS.toNanos(Math.max(2, seconds / 40));
            int round = 0;
            for (long at = phase.startNanos + firstPurgeNanos; at < deadline - TimeUnit.SECONDS.toNanos(2);
                    at += purgeEvery) {
                waitUntil(at);
                purge(round++);
            }
        }

        /** Kills the victim at two fifths of the run, and restarts it five seconds after its JVM ended. */
        void kill() throws Exception {
            waitUntil(phase.startNanos + TimeUnit.SECONDS.toNanos(seconds) * 2 / 5);
            killAndRestart();
        }

        private void killAndRestart() throws Exception {
            Launcher l = phase.launchers.get(victim);
            ProcessHandle.Info info = l.process.info();
            killedProcess = "pid " + l.process.pid() + " " + info.command().orElse("?");
            assertThat(info.command().orElse("java")).as("the process killed is the launcher's JVM itself")
                    .endsWith("java");
            victimDown = true; // no purge goes to its admin listener from now on
            killAt = System.nanoTime();
            l.process.destroyForcibly(); // SIGKILL to the JVM: no shutdown hook, the member leaves without a word
            assertThat(l.process.waitFor(30, TimeUnit.SECONDS)).as("the killed JVM ended").isTrue();
            killExit = l.process.exitValue();
            long endedAt = System.nanoTime();
            l.up = new CountDownLatch(1); // its clients, refused once, wait for the restarted instance
            // a few seconds down under load, so the survivors see the member go and the grid rebalance
            waitUntil(endedAt + TimeUnit.SECONDS.toNanos(5));
            Launcher again = l.restart();
            rejoin = again.awaitSettled(INSTANCES);
            readyAt = System.nanoTime();
            downNanos = readyAt - killAt;
            phase.launchers.set(victim, again);
            victimDown = false;
            l.up.countDown();
        }

        private void purge(int round) throws Exception {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            String kind;
            String arg;
            List<String> keys = new ArrayList<>();
            switch (round % 3) {
                case 0 -> {
                    kind = "url";
                    boolean varying = random.nextInt(4) == 0;
                    String path = varying ? "/v/" + random.nextInt(VARYING) : "/c/" + random.nextInt(CACHEABLE);
                    arg = "http://" + SITE + path;
                    keys.addAll(SoakOrigin.keysOf(path));
                }
                case 1 -> {
                    kind = "prefix";
                    String path = "/c/" + (1 + random.nextInt(3));
                    arg = "http://" + SITE + path;
                    for (int i = 0; i < CACHEABLE; i++) {
                        if (("/c/" + i).startsWith(path)) {
                            keys.add(SoakOrigin.key("/c/" + i, null));
                        }
                    }
                }
                default -> {
                    kind = "tag";
                    arg = "grp-" + random.nextInt(TAGS);
                    for (int i = 0; i < CACHEABLE; i++) {
                        if (SoakOrigin.tagOf(i).equals(arg)) {
                            keys.add(SoakOrigin.key("/c/" + i, null));
                        }
                    }
                    for (int i = 0; i < VARYING; i++) {
                        if (SoakOrigin.tagOf(i).equals(arg)) {
                            keys.addAll(SoakOrigin.keysOf("/v/" + i));
                        }
                    }
                }
            }
            int instance;
            do {
                instance = random.nextInt(INSTANCES);
            } while (instance == victim && victimDown);
            Launcher l = phase.launchers.get(instance);
            Map<String, Long> floors = new LinkedHashMap<>();
            for (String k : keys) {
                floors.put(k, phase.origin.version(k));
            }
            long started = System.nanoTime();
            int status;
            String body;
            try {
                HttpResponse<String> r = admin.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + l.adminPort
                        + "/api/purge?" + kind + "=" + URLEncoder.encode(arg, StandardCharsets.UTF_8)))
                        .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.noBody())
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
                status = r.statusCode();
                body = r.body();
            } catch (IOException e) {
                status = -1; // allowed only for a purge sent to the victim just before the kill (see the assertion)
                body = e.toString();
            }
            long returned = System.nanoTime();
            if (status == 200) {
                floors.forEach((k, v) -> phase.purgedBefore.computeIfAbsent(k, x -> new CopyOnWriteArrayList<>())
                        .add(new long[] {returned, v}));
            }
            purges.add(new Purge(kind, arg, instance, started - phase.startNanos, returned - started, status,
                    body, keys.size()));
        }

        long purgedObjectCount() {
            return purges.stream().mapToLong(Purge::objects).sum();
        }

        void report(StringBuilder out) {
            out.append(String.format(Locale.ROOT, "kill -9 of instance %d (%s) at %.1f s: exit %d; restarted on the same"
                    + " ports, listening and %s %.1f s after the kill%n", victim, killedProcess,
                    killAt == 0 ? 0 : (killAt - phase.startNanos) / 1e9, killExit, rejoin, downNanos / 1e9));
            out.append(String.format(Locale.ROOT, "purges: %d (%d url, %d prefix, %d tag), %d objects in all%n",
                    purges.size(), purges.stream().filter(p -> p.kind.equals("url")).count(),
                    purges.stream().filter(p -> p.kind.equals("prefix")).count(),
                    purges.stream().filter(p -> p.kind.equals("tag")).count(), purgedObjectCount()));
            purges.forEach(p -> out.append("  ").append(p).append('\n'));
        }
    }

    // ---- the launchers -------------------------------------------------------------------------------

    /** One launcher JVM ({@code Gatehouse reverse ...}), its ports, and its output (a log file and a line queue). */
    static final class Launcher {
        /** Every launcher JVM this run started, so that none outlives it. */
        static final java.util.Queue<Launcher> STARTED = new java.util.concurrent.ConcurrentLinkedQueue<>();
        private static final java.util.regex.Pattern MEMBER = java.util.regex.Pattern.compile("127\\.0\\.0\\.1:\\d+");
        final String name;
        final SoakOrigin origin;
        final List<String> clusterFlags;
        final int incarnation;
        final Process process;
        final int port;
        final int adminPort;
        /** Released while the instance serves; a new, closed latch while it is down (clients wait on it). */
        volatile CountDownLatch up = new CountDownLatch(0);
        /** Every line the launcher printed so far; its monitor is notified with each new line. */
        private final List<String> lines = new ArrayList<>();

        private Launcher(String name, SoakOrigin origin, List<String> clusterFlags, int incarnation, int port,
                int adminPort) throws Exception {
            this.name = name;
            this.origin = origin;
            this.clusterFlags = clusterFlags;
            this.incarnation = incarnation;
            STARTED.add(this);
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = new ArrayList<>(List.of(java, LAUNCHER_HEAP));
            // -Dsoak.launcherJvmArgs="-XX:StartFlightRecording=filename=target/NAME.jfr" profiles each launcher
            for (String arg : System.getProperty("soak.launcherJvmArgs", "").split(" ")) {
                if (!arg.isBlank()) {
                    cmd.add(arg.replace("NAME", name + (incarnation > 0 ? "-restarted" : "")));
                }
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
                    "io.github.gatehouse.examples.Gatehouse", "reverse", "--port", Integer.toString(port),
                    "--upstream", origin.baseUrl(), "--cache-memory", "64m", "--access-log", "off",
                    "--admin-port", Integer.toString(adminPort), "--admin-token", TOKEN));
            cmd.addAll(clusterFlags);
            this.process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            Path log = TARGET.resolve("cluster-soak-" + name + (incarnation > 0 ? "-restarted" : "") + ".log");
            PrintWriter file = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true);
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        file.println(line);
                        add(line);
                    }
                } catch (IOException e) {
                    add("(launcher output failed: " + e + ")");
                } finally {
                    file.close();
                }
            }, "launcher-output-" + name);
            reader.setDaemon(true);
            reader.start();
            try {
                this.port = portOf(await("gatehouse listening on http://127.0.0.1:", 60));
                this.adminPort = portOf(await("gatehouse admin listening on http://127.0.0.1:", 10));
            } catch (AssertionError | RuntimeException e) {
                process.destroyForcibly();
                throw e;
            }
        }

        static Launcher start(String name, SoakOrigin origin, int port, int adminPort, List<String> clusterFlags)
                throws Exception {
            return new Launcher(name, origin, clusterFlags, 0, port, adminPort);
        }

        /** A new JVM with the same flags and the same proxy, admin and cluster ports. */
        Launcher restart() throws Exception {
            return new Launcher(name, origin, clusterFlags, incarnation + 1, port, adminPort);
        }

        /**
         * Waits for the line the cluster logs once it joined and the partitions settled with {@code members}
         * members (or gave up waiting for them); returns what it said.
         */
        String awaitSettled(int members) throws InterruptedException {
            String line = awaitLine(l -> l.contains("partitions settled") || l.contains("partitions still migrating"), 60,
                    "settled partitions");
            long seen = MEMBER.matcher(line).results().count();
            return line.substring(line.indexOf("partitions")) + (seen < members ? " (expected " + members + ")" : "");
        }

        private String await(String text, long seconds) throws InterruptedException {
            return awaitLine(l -> l.contains(text), seconds, "a line containing '" + text + "'");
        }

        /** The first line (since the start) that matches, waiting for new lines up to {@code seconds}. */
        private String awaitLine(java.util.function.Predicate<String> matches, long seconds, String what)
                throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            synchronized (lines) {
                for (int seen = 0; ; ) {
                    for (; seen < lines.size(); seen++) {
                        if (matches.test(lines.get(seen))) {
                            return lines.get(seen);
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new AssertionError(name + " printed no " + what + " within " + seconds
                                + " s (see target/cluster-soak-" + name + ".log)");
                    }
                    TimeUnit.NANOSECONDS.timedWait(lines, left); // notified with each new line
                }
            }
        }

        private void add(String line) {
            synchronized (lines) {
                lines.add(line);
                lines.notifyAll();
            }
        }

        private static int portOf(String line) {
            return Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).replaceAll("[^0-9].*$", ""));
        }

        void stop() throws InterruptedException {
            if (process == null || !process.isAlive()) { // null: its constructor failed before the JVM started
                return;
            }
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    // ---- the client: one request a connection, so a refused connect and a cut exchange tell apart ----

    /** A whole answer: status, headers (lower-case names), body. */
    record Reply(int status, Map<String, String> headers, String body) {
        static Reply get(int port, String path, String language) throws IOException {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
                s.setSoTimeout(10_000);
                String request = "GET " + path + " HTTP/1.1\r\nHost: " + SITE + "\r\n"
                        + (language == null ? "" : "Accept-Language: " + language + "\r\n") + "Connection: close\r\n\r\n";
                s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                return parse(s.getInputStream());
            }
        }

        private static Reply parse(InputStream in) throws IOException {
            byte[] all = in.readAllBytes();
            String text = new String(all, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end < 0) {
                throw new IOException(all.length == 0 ? "closed without an answer" : "cut in the response head");
            }
            String[] head = text.substring(0, end).split("\r\n");
            int status = Integer.parseInt(head[0].split(" ")[1]);
            Map<String, String> headers = new LinkedHashMap<>();
            for (int i = 1; i < head.length; i++) {
                int colon = head[i].indexOf(':');
                headers.merge(head[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        head[i].substring(colon + 1).trim(), (a, b) -> a + ", " + b);
            }
            String rest = text.substring(end + 4);
            String body;
            if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
                StringBuilder b = new StringBuilder();
                int at = 0;
                while (true) {
                    int eol = rest.indexOf("\r\n", at);
                    if (eol < 0) {
                        throw new IOException("cut in a chunk size");
                    }
                    int size = Integer.parseInt(rest.substring(at, eol).split(";")[0].trim(), 16);
                    if (size == 0) {
                        break;
                    }
                    if (eol + 2 + size > rest.length()) {
                        throw new IOException("cut in a chunk");
                    }
                    b.append(rest, eol + 2, eol + 2 + size);
                    at = eol + 2 + size + 2;
                }
                body = b.toString();
            } else if (headers.containsKey("content-length")) {
                int length = Integer.parseInt(headers.get("content-length"));
                if (rest.length() < length) {
                    throw new IOException("cut in the body (" + rest.length() + " of " + length + " bytes)");
                }
                body = rest.substring(0, length);
            } else {
                body = rest;
            }
            return new Reply(status, headers, body);
        }
    }

    // ---- the origin: versioned objects -----------------------------------------------------------------

    /**
     * The origin: {@code /c/N} cacheable for 10 minutes with a purge tag, {@code /v/N} the same with
     * {@code Vary: Accept-Language}, {@code /u/N} {@code no-store}. Each answer's body is {@code KEY v=VERSION}, the
     * version counted per object (path, and language for {@code /v/}); the requests per object are counted.
     */
    static final class SoakOrigin implements AutoCloseable {
        private final Server server;
        private final ConcurrentHashMap<String, AtomicLong> versions = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<String, LongAdder> counts = new ConcurrentHashMap<>();

        private SoakOrigin() {
            QueuedThreadPool threads = new QueuedThreadPool(64, 8);
            threads.setName("origin");
            server = new Server(threads);
            ServerConnector connector = new ServerConnector(server);
            connector.setHost("127.0.0.1");
            connector.setPort(0);
            server.addConnector(connector);
            server.setHandler(new Handler.Abstract.NonBlocking() {
                @Override
                public boolean handle(Request request, Response response, Callback callback) {
                    String path = request.getHttpURI().getPath();
                    String language = request.getHeaders().get("Accept-Language");
                    boolean varying = path.startsWith("/v/");
                    String key = key(path, varying ? language : null);
                    long version = versions.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
                    counts.computeIfAbsent(key, k -> new LongAdder()).increment();
                    var headers = response.getHeaders();
                    if (path.startsWith("/u/")) {
                        headers.put("Cache-Control", "no-store");
                    } else {
                        headers.put("Cache-Control", "max-age=600");
                        headers.put("Surrogate-Key", "all " + tagOf(Integer.parseInt(path.substring(3))));
                        if (varying) {
                            headers.put("Vary", "Accept-Language");
                        }
                    }
                    headers.put("X-Version", Long.toString(version));
                    headers.put("Content-Type", "text/plain");
                    response.setStatus(200);
                    response.write(true, ByteBuffer.wrap((key + " v=" + version).getBytes(StandardCharsets.UTF_8)),
                            callback);
                    return true;
                }
            });
        }

        static SoakOrigin start() throws Exception {
            SoakOrigin o = new SoakOrigin();
            o.server.start();
            return o;
        }

        static String key(String path, String language) {
            return language == null ? path : path + "@" + language;
        }

        static List<String> keysOf(String path) {
            if (!path.startsWith("/v/")) {
                return List.of(key(path, null));
            }
            List<String> keys = new ArrayList<>();
            for (String l : LANGUAGES) {
                keys.add(key(path, l));
            }
            return keys;
        }

        static String tagOf(int n) {
            return "grp-" + (n % TAGS);
        }

        String baseUrl() {
            return "http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort();
        }

        /** The last version issued for {@code key} (0: none yet). */
        long version(String key) {
            AtomicLong v = versions.get(key);
            return v == null ? 0 : v.get();
        }

        /** The requests per object since the last call, and starts counting again. */
        Map<String, Long> drainCounts() {
            Map<String, Long> out = new TreeMap<>();
            for (String k : List.copyOf(counts.keySet())) {
                LongAdder a = counts.remove(k);
                if (a != null) {
                    out.put(k, a.sum());
                }
            }
            return out;
        }

        @Override
        public void close() throws Exception {
            server.stop();
        }
    }

}
