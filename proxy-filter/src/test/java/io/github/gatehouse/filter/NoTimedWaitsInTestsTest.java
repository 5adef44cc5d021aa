package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testsupport.TimedWaits;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The house rule, enforced: this module's tests await events; none sleeps, spins or polls a condition. */
class NoTimedWaitsInTestsTest {

    @Test
    void testSourcesAwaitEventsInsteadOfSleepingOrSpinning() {
        assertThat(TimedWaits.in(Path.of("src", "test", "java"))).isEmpty();
    }
}
