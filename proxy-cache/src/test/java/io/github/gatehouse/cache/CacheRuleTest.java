package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Squid's {@code refresh_pattern} syntax, read by {@link CacheRule#parse}: what it accepts and what it refuses. */
class CacheRuleTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", value = {
        // rule as written                                     | as printed back
        "-i \\.(deb|rpm)$ 43200 100% 43200 => -i \\.(deb|rpm)$ 43200 100% 43200",
        "  .   0 20%   4320 => . 0 20% 4320",
        "^ftp: 1440 20% 10080 override-expire ignore-reload => ^ftp: 1440 20% 10080 override-expire ignore-reload",
        "x 1 0% 1 ignore-no-cache => x 1 0% 1 override-no-cache",
        "x 1 0% 1 OVERRIDE-NO-CACHE override-expire => x 1 0% 1 override-expire override-no-cache",
        "x 0 1000% 525600 => x 0 1000% 525600",
    })
    void readsSquidSyntax(String rule, String printed) {
        CacheRule r = CacheRule.parse(rule);
        assertThat(r).hasToString(printed);
        assertThat(CacheRule.parse(r.toString())).hasToString(printed);
    }

    @Test
    void partsAreReadAsSquidDoes() {
        CacheRule r = CacheRule.parse("-i \\.deb$ 60 25% 120 override-expire");
        assertThat(r.min()).isEqualTo(Duration.ofMinutes(60));
        assertThat(r.max()).isEqualTo(Duration.ofMinutes(120));
        assertThat(r.percent()).isEqualTo(25);
        assertThat(r.options()).containsExactly(CacheRule.Option.OVERRIDE_EXPIRE);
        assertThat(r.matches("http://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3_amd64.DEB")).isTrue();
        assertThat(r.matches("http://deb.debian.org/debian/pool/main/h/hello/hello.deb.asc")).isFalse();
        assertThat(CacheRule.parse("\\.deb$ 0 0% 0").matches("http://x/a.DEB")).as("case-sensitive without -i").isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", value = {
        "-i => expected: [-i] REGEX MIN PERCENT% MAX",
        "-i \\.deb$ 60 20% => expected: [-i] REGEX MIN PERCENT% MAX",
        "( 60 20% 60 => REGEX '(' is not a regular expression",
        "x sixty 20% 60 => MIN 'sixty' (expected: whole minutes 0..525600)",
        "x -1 20% 60 => MIN '-1'",
        "x 1 20 60 => PERCENT '20' (expected: a whole number 0..100000 followed by %",
        "x 1 -5% 60 => PERCENT '-5%'",
        "x 1 20% 525601 => MAX '525601' (expected: whole minutes 0..525600)",
        "x 61 20% 60 => MIN 61 is above MAX 60 (expected: MIN <= MAX)",
        "x 1 20% 60 override-lastmod => unknown option 'override-lastmod' (expected: override-expire, override-no-cache, ignore-reload)",
        "x 1 20% 60 reload-into-ims => unknown option 'reload-into-ims'",
    })
    void refusesWhatItCannotHonour(String rule, String message) {
        assertThatThrownBy(() -> CacheRule.parse(rule)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message).hasMessageContaining("'" + rule + "'");
    }

    @Test
    void theFactoryChecksItsArguments() {
        Pattern p = Pattern.compile("x");
        assertThatThrownBy(() -> CacheRule.of(p, Duration.ofMinutes(-1), 0, Duration.ZERO))
                .hasMessage("min: PT-1M (expected: 0..PT8760H)");
        assertThatThrownBy(() -> CacheRule.of(p, Duration.ofMinutes(2), 0, Duration.ofMinutes(1)))
                .hasMessage("min: PT2M is above max: PT1M (expected: min <= max)");
        assertThatThrownBy(() -> CacheRule.of(p, Duration.ZERO, 100_001, Duration.ZERO))
                .hasMessage("percent: 100001 (expected: 0..100000)");
        assertThatThrownBy(() -> HttpCaches.builder().rule("x 1 20%"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cache rule 'x 1 20%'");
    }
}
