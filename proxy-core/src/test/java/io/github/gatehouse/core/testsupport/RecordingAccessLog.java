package io.github.gatehouse.core.testsupport;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.AccessLogEntry;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** An access log that keeps entries for assertions. */
public final class RecordingAccessLog implements AccessLog {
    private static final AccessLog DEFAULT = AccessLog.slf4j();
    private final BlockingQueue<AccessLogEntry> entries = new LinkedBlockingQueue<>();

    @Override
    public void log(AccessLogEntry entry) {
        entries.add(entry);
        DEFAULT.log(entry);
    }

    /** The next entry, waiting up to 5 s (the line is written when the exchange completes). */
    public AccessLogEntry take() throws InterruptedException {
        AccessLogEntry e = entries.poll(5, TimeUnit.SECONDS);
        if (e == null) {
            throw new AssertionError("no access log entry within 5 s");
        }
        return e;
    }

    /**
     * The next entry whose target contains {@code target}, skipping others (a previous test's exchange may log
     * its line after that test ended), waiting up to 5 s.
     */
    public AccessLogEntry take(String target) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            AccessLogEntry e = entries.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (e == null) {
                throw new AssertionError("no access log entry for " + target + " within 5 s");
            }
            if (e.target().contains(target)) {
                return e;
            }
        }
    }

    public void clear() {
        entries.clear();
    }
}
