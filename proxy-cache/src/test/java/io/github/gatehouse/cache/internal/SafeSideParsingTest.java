package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Table tests for parsing that errs on the safe side: Age lists, strict HTTP-dates, repeated freshness information. */
class SafeSideParsingTest {
    private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");

    @ParameterizedTest(name = "Age lines [{0}] -> {1}s")
    @CsvSource(delimiter = '|', value = {
            // Age field lines, separated by ';' | age value used
            "30            | 30",
            "30, 100       | 30",
            "30,100        | 30",
            "' 30 , 5'     | 30",
            "30;100        | 30",
            "100;30        | 100",
            "abc, 30       | 0",
            "-5            | 0",
            "''            | 0",
    })
    void ageFirstValueDecides(String lines, long expected) {
        HttpHeaders h = new HttpHeaders();
        for (String line : lines.split(";", -1)) {
            h.add("Age", line);
        }
        assertThat(Freshness.ageValue(h)).isEqualTo(expected);
        Duration age = Freshness.currentAge(h.add("Date", HttpDates.format(NOW)), NOW, NOW, NOW);
        assertThat(age).isEqualTo(Duration.ofSeconds(expected));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            // value | epoch second, or 'invalid'
            "Sun, 06 Nov 1994 08:49:37 GMT    | 784111777",
            "'  Sun, 06 Nov 1994 08:49:37 GMT ' | 784111777",
            "Sunday, 06-Nov-94 08:49:37 GMT   | 784111777",
            "Sun Nov  6 08:49:37 1994         | 784111777",
            "Sun Nov 16 08:49:37 1994         | 784975777",
            "Sun, 06 Nov 1994 8:49:37 GMT     | invalid",
            "Sun, 6 Nov 1994 08:49:37 GMT     | invalid",
            "Sun, 06 Nov 94 08:49:37 GMT      | invalid",
            "Sun, 06 Nov 1994 08:49 GMT       | invalid",
            "Sun, 06 Nov 1994 08:49:37 +0000  | invalid",
            "Sun, 06 Nov 1994 08:49:37 UTC    | invalid",
            "06 Nov 1994 08:49:37 GMT         | invalid",
            "sun, 06 nov 1994 08:49:37 gmt    | invalid",
            "Sun, 06 Nov 1994 24:00:00 GMT    | invalid",
            "Sun, 31 Feb 1994 08:49:37 GMT    | invalid",
            "Sun, 06 Nov 1994 08:49:37 GMT x  | invalid",
            "Sun, 06-Nov-94 08:49:37 GMT      | invalid",
            "Sunday, 06-Nov-1994 08:49:37 GMT | invalid",
            "Sun Nov 6 08:49:37 1994          | invalid",
            "Sun Nov  6 08:49:37 94           | invalid",
            "Sun, 06 Nov 1994 23:59:60 GMT    | 784166399",
            "0                                | invalid",
            "-1                               | invalid",
    })
    void acceptsOnlyTheThreeHttpDateForms(String value, String expected) {
        Instant parsed = HttpDates.parse(value);
        if (expected.equals("invalid")) {
            assertThat(parsed).isNull();
        } else {
            assertThat(parsed).isEqualTo(Instant.ofEpochSecond(Long.parseLong(expected)));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"2026-01-01T00:00:00Z", "2026-12-09T08:05:03Z", "1999-02-28T23:59:59Z"})
    void formatRoundTripsWithATwoDigitDay(String instant) {
        Instant t = Instant.parse(instant);
        assertThat(HttpDates.format(t)).matches("[A-Z][a-z]{2}, \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT");
        assertThat(HttpDates.parse(HttpDates.format(t))).isEqualTo(t);
    }

    @ParameterizedTest(name = "Expires {0} -> {1}s")
    @CsvSource(delimiter = '|', value = {
            // Expires value; '+N' means an IMF-fixdate N seconds after Date | lifetime
            "+100                          | 100",
            "Thu, 01 Jan 2026 12:01:40 GMT | 100",
            "Thu, 01 Jan 2026 2:01:40 GMT  | 0",
            "Thu, 1 Jan 2026 12:01:40 GMT  | 0",
            "Thu, 01 Jan 2026 12:01:40 +0000 | 0",
            "Thursday, 01-Jan-26 12:01:40 GMT | 100",
            "Thu Jan  1 12:01:40 2026      | 100",
            "tomorrow                      | 0",
    })
    void expiresMustBeAnHttpDate(String expires, long expected) {
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(NOW))
                .add("Expires", expires.startsWith("+") ? HttpDates.format(NOW.plusSeconds(Long.parseLong(expires.substring(1))))
                        : expires);
        assertThat(Freshness.lifetime(200, h, Directives.NONE, NOW, Map.of(), Duration.ofDays(1)))
                .isEqualTo(Duration.ofSeconds(expected));
    }

    @ParameterizedTest(name = "Cache-Control [{0}], Expires [{1}] -> {2}s")
    @CsvSource(delimiter = '|', value = {
            // Cache-Control lines (';' between lines) | Expires lines in s after Date (';' between) | lifetime
            "''                          | 100       | 100",
            "''                          | 100;100   | 0",
            "''                          | 100;200   | 0",
            "max-age=60                  | 100;200   | 60",
            "max-age=60, max-age=60      | ''        | 60",
            "max-age=60, max-age=30      | ''        | 0",
            "max-age=60;max-age=30       | 100       | 0",
            "max-age=60;MAX-AGE=\"60\"   | ''        | 60",
            "s-maxage=60, s-maxage=5     | ''        | 0",
            "s-maxage=60, max-age=1, max-age=2 | ''  | 60",
            "s-maxage=5;s-maxage=6, max-age=60 | ''  | 0",
            "public, public, max-age=60  | ''        | 60",
    })
    void repeatedFreshnessInformationIsStale(String ccLines, String expiresLines, long expected) {
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(NOW));
        if (!ccLines.isEmpty()) {
            for (String line : ccLines.split(";")) {
                h.add("Cache-Control", line);
            }
        }
        if (!expiresLines.isEmpty()) {
            for (String in : expiresLines.split(";")) {
                h.add("Expires", HttpDates.format(NOW.plusSeconds(Long.parseLong(in))));
            }
        }
        Duration lifetime = Freshness.lifetime(200, h, Directives.of(h, "Cache-Control"), NOW, Map.of(), Duration.ofDays(1));
        assertThat(lifetime).isEqualTo(Duration.ofSeconds(expected));
    }

    @ParameterizedTest(name = "{0}: conflicting={1}, seconds={2}")
    @CsvSource(delimiter = '|', value = {
            "stale-if-error=60, stale-if-error=5 | true  | 0",
            "stale-if-error=60, stale-if-error=60 | false | 60",
            "stale-if-error=60                   | false | 60",
    })
    void conflictingStaleDirectivesGiveNoWindow(String cc, boolean conflicting, long seconds) {
        Directives d = Directives.parse(new HttpHeaders().add("Cache-Control", cc).getTokens("Cache-Control"));
        assertThat(d.isConflicting("stale-if-error")).isEqualTo(conflicting);
        assertThat(d.seconds("stale-if-error")).isEqualTo(seconds);
    }

    @ParameterizedTest(name = "status {0} with [{1}] and Last-Modified -> {2}s")
    @CsvSource(delimiter = '|', value = {
            "200 | ''     | 100", "203 | ''     | 100", "204 | ''     | 100", "206 | ''     | 100",
            "300 | ''     | 100", "301 | ''     | 100", "308 | ''     | 100", "404 | ''     | 100",
            "405 | ''     | 100", "410 | ''     | 100", "414 | ''     | 100", "501 | ''     | 100",
            "302 | ''     | 0",   "307 | ''     | 0",   "403 | ''     | 0",   "500 | ''     | 0",
            "502 | ''     | 0",   "503 | ''     | 0",   "504 | ''     | 0",   "500 | public | 0",
            "503 | public | 0",   "302 | public | 0",   "503 | public, max-age=7 | 7",
    })
    void heuristicFreshnessOnlyForHeuristicallyCacheableStatuses(int status, String cc, long expected) {
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(NOW))
                .add("Last-Modified", HttpDates.format(NOW.minusSeconds(1000)));
        if (!cc.isEmpty()) {
            h.add("Cache-Control", cc);
        }
        Duration lifetime = Freshness.lifetime(status, h, Directives.of(h, "Cache-Control"), NOW, Map.of(), Duration.ofDays(1));
        assertThat(lifetime).isEqualTo(Duration.ofSeconds(expected));
    }
}
