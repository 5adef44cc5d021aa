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
 * single task, fires the expired ones and drops the cancelled ones, wherever they are in the queue. Resolution is
 * the sweep period.
 *
 * <p>Thread-safe; {@link #schedule} and {@link Handle#cancel} are lock-free.
 */
final class Deadlines {
    private static final Logger LOG = LoggerFactory.getLogger(Deadlines.class);
    private static final long SWEEP_MS = 50;

    /**
     * A scheduled deadline; cancel it when the awaited thing happened. Cancelling drops the action at once (what it
     * refers to, a connection or an exchange, must not live on after it is done); the next sweep drops the handle.
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

    private static boolean cancelled(Handle h) {
        return h.onExpire == null;
    }

    /** How many deadlines are queued, live or not (for tests). */
    int queued() {
        return queues.values().stream().mapToInt(Queue::size).sum();
    }

    /** One sweep (the scheduled task; tests call it directly). */
    void sweepOnce() {
        long now = System.nanoTime();
        for (Queue<Handle> queue : queues.values()) {
            sweep(queue, now);
        }
    }

    private void sweep() {
        if (stopped) {
            return;
        }
        try {
            sweepOnce();
        } finally {
            scheduler.schedule(this::sweep, SWEEP_MS, TimeUnit.MILLISECONDS);
        }
    }

    private static void sweep(Queue<Handle> queue, long now) {
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
        // Cancelled entries behind a live head (one exchange that outlasts the others holds the head for up to its
        // whole timeout) go now too: left queued, a 30 s timeout at 24,000 requests a second kept ~780,000 of them
        // (37 MB) on the heap, in the old generation, and made each young collection about 7x slower.
        if (h != null) {
            queue.removeIf(Deadlines::cancelled);
        }
    }
}
