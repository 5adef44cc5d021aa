package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Table tests for Cache-Control parsing, freshness lifetime, age, dates and ranges. */
class DirectivesAndFreshnessTest {
    private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");

    @ParameterizedTest(name = "{0} -> {1} = {2}")
    @CsvSource(delimiter = '|', value = {
            "max-age=60                | max-age  | 60",
            "MAX-AGE=60                | max-age  | 60",
            "max-age=\"60\"            | max-age  | 60",
            "max-age=60, max-age=10    | max-age  | 0",
            "max-age=60, max-age=60    | max-age  | 60",
            "max-age=abc               | max-age  | 0",
            "max-age=-1                | max-age  | 0",
            "max-age=99999999999999    | max-age  | 2147483648",
            "no-cache                  | max-age  | -1",
            "s-maxage=5, max-age=60    | s-maxage | 5",
    })
    void parsesDeltaSeconds(String header, String name, long expected) {
        Directives d = Directives.of(new HttpHeaders().add("Cache-Control", header), "Cache-Control");
        assertThat(d.seconds(name)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
            "private=\"Set-Cookie, X-User\" | private  | Set-Cookie;X-User",
            "no-cache=\"X-A\"               | no-cache | X-A",
            "private                        | private  | ''",
    })
    void parsesQualifiedFieldNames(String header, String name, String fields) {
        Directives d = Directives.of(new HttpHeaders().add("Cache-Control", header), "Cache-Control");
        assertThat(d.has(name)).isTrue();
        assertThat(String.join(";", d.fieldNames(name))).isEqualTo(fields);
    }

    @ParameterizedTest(name = "{0} {1} -> {2}s")
    @CsvSource(delimiter = '|', value = {
            // status | Cache-Control             | Expires (s from now) | Last-Modified (s ago) | lifetime
            "200 | s-maxage=10, max-age=20        |      |      | 10",
            "200 | max-age=20                     | 100  |      | 20",
            "200 | ''                             | 100  |      | 100",
            "200 | ''                             | -5   |      | 0",
            "200 | ''                             |      | 1000 | 100",
            "200 | ''                             |      | 9999999 | 86400",
            "404 | ''                             |      | 1000 | 100",
            "302 | ''                             |      | 1000 | 0",
            "302 | public                         |      | 1000 | 0",
            "200 | ''                             |      |      | 0",
    })
    void freshnessLifetime(int status, String cc, String expiresIn, String modifiedAgo, long expected) {
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(NOW));
        if (!cc.isEmpty()) {
            h.add("Cache-Control", cc);
        }
        if (expiresIn != null) {
            h.add("Expires", HttpDates.format(NOW.plusSeconds(Long.parseLong(expiresIn))));
        }
        if (modifiedAgo != null) {
            h.add("Last-Modified", HttpDates.format(NOW.minusSeconds(Long.parseLong(modifiedAgo))));
        }
        Duration lifetime = Freshness.lifetime(status, h, Directives.of(h, "Cache-Control"), NOW, Map.of(), Duration.ofDays(1));
        assertThat(lifetime).isEqualTo(Duration.ofSeconds(expected));
    }

    @ParameterizedTest(name = "invalid Expires {0} is already expired")
    @CsvSource({"0", "garbage", "'Thu, 01 Jan 1970 00:00:00 GMT'"})
    void invalidExpiresMeansStale(String expires) {
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(NOW)).add("Expires", expires);
        assertThat(Freshness.lifetime(200, h, Directives.NONE, NOW, Map.of(), Duration.ofDays(1))).isZero();
    }

    @ParameterizedTest(name = "Date -{0}s, Age {1}, delay {2}s, resident {3}s -> {4}s")
    @CsvSource({
            // date ago at response | Age | request->response delay | resident | expected current age
            "0,  '',  0, 0,  0",
            "0,  '',  0, 10, 10",
            "5,  '',  0, 0,  5",
            "0,  30,  2, 10, 42",
            "50, 30,  0, 0,  50",
            "-20, '', 0, 5,  5",
    })
    void currentAge(long dateAgo, String age, long delay, long resident, long expected) {
        Instant responseTime = NOW;
        HttpHeaders h = new HttpHeaders().add("Date", HttpDates.format(responseTime.minusSeconds(dateAgo)));
        if (age != null) {
            h.add("Age", age);
        }
        Duration current = Freshness.currentAge(h, responseTime.minusSeconds(delay), responseTime, responseTime.plusSeconds(resident));
        assertThat(current).isEqualTo(Duration.ofSeconds(expected));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "Sun, 06 Nov 1994 08:49:37 GMT  | 784111777",
            "Sunday, 06-Nov-94 08:49:37 GMT | 784111777",
            "Sun Nov  6 08:49:37 1994       | 784111777",
    })
    void parsesTheThreeHttpDateForms(String value, long epochSecond) {
        assertThat(HttpDates.parse(value)).isEqualTo(Instant.ofEpochSecond(epochSecond));
    }

    @ParameterizedTest(name = "{0} of 10 -> {1}")
    @CsvSource(delimiter = '|', value = {
            "bytes=0-4     | 0+5",
            "bytes=2-      | 2+8",
            "bytes=-3      | 7+3",
            "bytes=5-100   | 5+5",
            "bytes=10-     | 416",
            "bytes=1-2,4-5 | full",
            "bytes=5-2     | full",
            "items=0-1     | full",
    })
    void singleRanges(String header, String expected) {
        long[] r = Ranges.single(header, 10);
        String actual = r == null ? "full" : r == Ranges.UNSATISFIABLE ? "416" : r[0] + "+" + r[1];
        assertThat(actual).isEqualTo(expected);
    }
}
