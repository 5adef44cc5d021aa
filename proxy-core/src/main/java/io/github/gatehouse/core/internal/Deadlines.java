package io.github.gatehouse.core.internal;

import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cheap per-exchange timeouts. Scheduling a scheduler task per request (and cancelling it when the answer comes,
 * as nearly always) costs a lock and a heap operation each way, and at 10 000 requests a second with a 30 s timeout
 * it keeps hundreds of thousands of dead tasks queued. Here a deadline is one queue entry: entries of the same
 * duration expire in the order they were added, so one FIFO queue per distinct duration, swept every 50 ms by a
 * single task, fires the expired ones and drops the cancelled ones. Resolution is the sweep period.
 *
 * <p>Thread-safe; {@link #schedule} and {@link Handle#cancel} are lock-free.
 */
final class Deadlines {
    private static final Logger LOG = LoggerFactory.getLogger(Deadlines.class);
    private static final long SWEEP_MS = 50;

    /**
     * A scheduled deadline; cancel it when the awaited thing happened. A cancelled handle stays queued until its
     * deadline comes round, so cancelling drops the action at once: what the action refers to (a connection, an
     * exchange) must not live on for the whole timeout after it is done.
     */
    static final class Handle {
        final long deadline;
        private volatile Runnable onExpire;

        Handle(long deadline, Runnable onExpire) {
            this.deadline = deadline;
            this.onExpire = onExpire;
        }

        void cancel() {
            onExpire = null;
        }

        /** Whether this deadline still refers to its action: not cancelled, not fired. */
        boolean holdsAction() {
            return onExpire != null;
        }
    }

    private final Map<Long, Queue<Handle>> queues = new ConcurrentHashMap<>();
    private final Scheduler scheduler;
    private volatile boolean stopped;

    Deadlines(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    void start() {
        scheduler.schedule(this::sweep, SWEEP_MS, TimeUnit.MILLISECONDS);
    }

    void stop() {
        stopped = true;
    }

    /** Runs {@code onExpire} (on the sweeper thread; keep it short) once {@code delayMs} passed, unless cancelled. */
    Handle schedule(long delayMs, Runnable onExpire) {
        Handle h = new Handle(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMs), onExpire);
        queues.computeIfAbsent(delayMs, d -> new ConcurrentLinkedQueue<>()).offer(h);
        return h;
    }

    private void sweep() {
        if (stopped) {
            return;
        }
        long now = System.nanoTime();
        try {
            for (Queue<Handle> queue : queues.values()) {
                Handle h;
                while ((h = queue.peek()) != null && (h.onExpire == null || h.deadline - now <= 0)) {
                    queue.poll();
                    Runnable action = h.onExpire;
                    h.onExpire = null;
                    if (action != null) {
                        try {
                            action.run();
                        } catch (RuntimeException e) {
                            LOG.error("timeout action failed", e);
                        }
                    }
                }
            }
        } finally {
            scheduler.schedule(this::sweep, SWEEP_MS, TimeUnit.MILLISECONDS);
        }
    }
}
