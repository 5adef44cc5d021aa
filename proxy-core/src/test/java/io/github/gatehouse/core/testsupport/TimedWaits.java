package io.github.gatehouse.core.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds timed waits in test sources, for each module's guard test: the house rule is to await the event (a future,
 * a latch, a blocking read with a timeout), never to sleep, spin or poll until a condition holds.
 *
 * <p>A line is reported if it sleeps ({@code Thread.sleep}, {@code TimeUnit.X.sleep}), spins ({@code onSpinWait},
 * {@code Thread.yield}), parks for a time or uses Awaitility. A line that must keep such a call (a schedule rather
 * than a wait, such as the soak run's fault timeline, or a wait with no event to await) carries the marker
 * {@value #ALLOWED} followed by why.
 */
public final class TimedWaits {
    /** What a line says to keep a timed call, followed by why (a schedule, or no event to await). */
    public static final String ALLOWED = "timed on purpose:";

    private static final Pattern TIMED = Pattern.compile(
            "\\bThread\\.sleep\\(|\\.sleep\\(|onSpinWait\\(|Thread\\.yield\\(|parkNanos\\(|\\bAwaitility\\b|\\bawait\\(\\)\\s*\\.");

    private TimedWaits() {
    }

    /**
     * Every line of the {@code .java} files under {@code root} (but this one) with a timed wait and no
     * {@value #ALLOWED} marker, as {@code path:line: text}.
     *
     * @throws IllegalArgumentException if {@code root} is not a directory (a guard that scans nothing proves nothing)
     */
    public static List<String> in(Path root) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException(root.toAbsolutePath() + " is not a directory (expected: test sources)");
        }
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".java")).sorted()::iterator) {
                if (file.getFileName().toString().equals("TimedWaits.java")) {
                    continue;
                }
                List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                for (int i = 0; i < lines.size(); i++) {
                    String line = lines.get(i);
                    if (TIMED.matcher(line).find() && !line.contains(ALLOWED)) {
                        found.add(root.relativize(file) + ":" + (i + 1) + ": " + line.trim());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return found;
    }
}
