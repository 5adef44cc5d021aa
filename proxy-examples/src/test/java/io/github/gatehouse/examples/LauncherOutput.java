package io.github.gatehouse.examples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A launcher's standard output, read by a thread of its own, so a test can wait for a line with a bound (for the
 * tests that fork {@code gatehouse.jar}). Thread-safe: one reader thread feeds a blocking queue.
 */
final class LauncherOutput {
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final Duration within;

    /** Reads {@code in} until it ends; each {@link #await} waits up to {@code within} in all. */
    LauncherOutput(InputStream in, Duration within) {
        this.within = within;
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("(launcher output failed: " + e + ")");
            }
        }, "launcher-output");
        t.setDaemon(true);
        t.start();
    }

    /** The next line containing {@code text}, skipping others. */
    String await(String text) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (line == null) {
                throw new AssertionError("the launcher printed no line containing '" + text + "' within " + within);
            }
            if (line.contains(text)) {
                return line;
            }
        }
    }

    /** The port at the end of the next line starting with {@code prefix} (such as {@code gatehouse listening on ...:}). */
    int port(String prefix) throws InterruptedException {
        String line = await(prefix);
        return Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).replaceAll("[^0-9].*$", ""));
    }
}
