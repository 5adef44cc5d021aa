package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

    @Test
    void cancellingLetsGoOfTheActionAtOnceNotWhenTheDeadlineComesRound() {
        Deadlines deadlines = new Deadlines(new ScheduledExecutorScheduler("deadlines-test", true));
        Object connection = new Object();
        Deadlines.Handle handle = deadlines.schedule(TimeUnit.HOURS.toMillis(1), () -> connection.hashCode());

        assertThat(handle.holdsAction()).isTrue();
        handle.cancel();

        // still queued for an hour, but no longer keeping what the action refers to (a closed connection, an exchange)
        assertThat(handle.holdsAction()).isFalse();
    }

    @Test
    void anExpiredDeadlineFiresOnceAndACancelledOneNever() throws Exception {
        ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler("deadlines-test", true);
        scheduler.start();
        try {
            Deadlines deadlines = new Deadlines(scheduler);
            deadlines.start();
            AtomicBoolean cancelledRan = new AtomicBoolean();
            Deadlines.Handle cancelled = deadlines.schedule(10, () -> cancelledRan.set(true));
            cancelled.cancel();
            CountDownLatch fired = new CountDownLatch(1);
            Deadlines.Handle live = deadlines.schedule(10, fired::countDown);

            assertThat(fired.await(5, TimeUnit.SECONDS)).isTrue();
            // same duration, so the same FIFO queue: the cancelled entry ahead of it was swept, not run
            assertThat(cancelledRan).isFalse();
            assertThat(live.holdsAction()).isFalse();
            deadlines.stop();
        } finally {
            scheduler.stop();
        }
    }

    @Test
    void cancelledDeadlinesBehindALiveOneAreDroppedAtTheNextSweepNotWhenItExpires() {
        Deadlines deadlines = new Deadlines(new ScheduledExecutorScheduler("deadlines-test", true));
        long hour = TimeUnit.HOURS.toMillis(1);
        Deadlines.Handle slow = deadlines.schedule(hour, () -> { }); // an exchange that outlasts the others
        Deadlines.Handle[] done = new Deadlines.Handle[10_000];
        for (int i = 0; i < done.length; i++) {
            done[i] = deadlines.schedule(hour, () -> { });
        }
        Deadlines.Handle later = deadlines.schedule(hour, () -> { });
        for (Deadlines.Handle h : done) {
            h.cancel(); // answered, as nearly all are
        }

        deadlines.sweepOnce();

        assertThat(deadlines.queued()).as("only the live ones stay queued").isEqualTo(2);
        assertThat(slow.holdsAction()).isTrue();
        assertThat(later.holdsAction()).isTrue();
    }
}
