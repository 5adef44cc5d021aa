package io.github.gatehouse.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class SettableClockTest {

    @Test
    void movesOnlyWhenToldAndZoneViewsShareTheInstant() {
        SettableClock clock = SettableClock.at("2026-01-01T00:00:00Z");
        SettableClock paris = clock.withZone(ZoneId.of("Europe/Paris"));
        assertThat(clock.instant()).isEqualTo(clock.instant());

        clock.advance(Duration.ofSeconds(61));

        assertThat(clock.instant()).isEqualTo(Instant.parse("2026-01-01T00:01:01Z"));
        assertThat(paris.instant()).isEqualTo(clock.instant());
        assertThat(paris.getZone()).isEqualTo(ZoneId.of("Europe/Paris"));
        assertThat(clock.millis()).isEqualTo(Instant.parse("2026-01-01T00:01:01Z").toEpochMilli());
        paris.set(Instant.parse("2025-12-31T23:00:00Z"));
        assertThat(clock.instant()).isEqualTo(Instant.parse("2025-12-31T23:00:00Z"));
        assertThatThrownBy(() -> clock.advance(Duration.ofSeconds(-1))).hasMessageContaining("advance: PT-1S");
        assertThat(SettableClock.atWholeSecond().instant().getNano()).isZero();
    }
}
