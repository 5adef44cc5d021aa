package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testsupport.TimedWaits;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The house rule, enforced: this module's tests await events; none sleeps, spins or polls a condition. */
class NoTimedWaitsInTestsTest {

    @Test
    void testSourcesAwaitEventsInsteadOfSleepingOrSpinning() {
        assertThat(TimedWaits.in(Path.of("src", "test", "java"))).isEmpty();
    }

    /** The timed calls below are written with a {@code ~} that is taken out, so this file passes its own guard. */
    @Test
    void theGuardFindsSleepsSpinsAndPollingButNotBoundedAwaits(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("Waits.java"), String.join("\n",
                "class Waits {",
                "  void a() throws Exception { Thread.sl~eep(50); }",
                "  void b() throws Exception { java.util.concurrent.TimeUnit.MILLISECONDS.sl~eep(20); }",
                "  void c() { while (!done) Thread.onSpin~Wait(); }",
                "  void d() { org.awaitility.Await~ility.await~().until(() -> done); }",
                "  void e() throws Exception { latch.await(5, SECONDS); future.get(5, SECONDS); }",
                "  void f() throws Exception { TimeUnit.SECONDS.sl~eep(3); // " + TimedWaits.ALLOWED + " the fault timeline }",
                "}").replace("~", ""));

        assertThat(TimedWaits.in(dir)).containsExactly(
                "Waits.java:2: void a() throws Exception { Thread.sl~eep(50); }".replace("~", ""),
                "Waits.java:3: void b() throws Exception { java.util.concurrent.TimeUnit.MILLISECONDS.sl~eep(20); }".replace("~", ""),
                "Waits.java:4: void c() { while (!done) Thread.onSpin~Wait(); }".replace("~", ""),
                "Waits.java:5: void d() { org.awaitility.Await~ility.await~().until(() -> done); }".replace("~", ""));
        assertThatThrownBy(() -> TimedWaits.in(dir.resolve("missing")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing is not a directory");
    }
}
