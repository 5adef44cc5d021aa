package io.github.gatehouse.core.testsupport;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Gatehouse proxy in its own JVM with a small heap, for tests that prove bodies stream: if the relay held a body
 * whole, the forked JVM would run out of memory and the transfer would fail.
 */
public final class ForkedProxy implements AutoCloseable {
    private final Process process;
    private final int port;

    private ForkedProxy(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts a proxy JVM with {@code -Xmx<heap>}: forward mode, or reverse to {@code upstream} when not null. */
    public static ForkedProxy start(String heap, String upstream) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), ForkedProxy.class.getName()));
        if (upstream != null) {
            cmd.add(upstream);
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        StringBuilder seen = new StringBuilder();
        while ((line = out.readLine()) != null) {
            seen.append(line).append('\n');
            if (line.startsWith("PORT ")) {
                int port = Integer.parseInt(line.substring(5).trim());
                Thread drain = new Thread(() -> {
                    try {
                        while (out.readLine() != null) {
                            // keep the pipe empty
                        }
                    } catch (IOException ignored) {
                        // process ended
                    }
                }, "forked-proxy-output");
                drain.setDaemon(true);
                drain.start();
                return new ForkedProxy(p, port);
            }
        }
        throw new IOException("forked proxy did not start:\n" + seen);
    }

    public int port() {
        return port;
    }

    /** Whether the JVM is still alive (an OutOfMemoryError kills it via -XX:+ExitOnOutOfMemoryError semantics). */
    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }

    /** The forked JVM's entry point: {@code [upstreamUrl]}. */
    public static void main(String[] args) throws Exception {
        ProxyServer.Builder b = ProxyServer.builder().accessLog(AccessLog.off());
        if (args.length > 0) {
            b.route(Route.any().to(args[0]));
        } else {
            b.forward().allowAllInternalDestinations();
        }
        try (ProxyServer proxy = b.build().start()) {
            System.out.println("PORT " + proxy.port());
            System.out.flush();
            Thread.currentThread().join(TimeUnit.MINUTES.toMillis(10));
        } finally {
            System.out.println("HEAP " + ManagementFactory.getMemoryMXBean().getHeapMemoryUsage());
        }
    }
}
