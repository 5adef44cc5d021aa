package io.github.gatehouse.filter.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostMatcherTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "EXAMPLE.com.,        example.com",
        "Example.COM,         example.com",
        "example.com..,       example.com",
        "bücher.example,      xn--bcher-kva.example",
        "BÜCHER.example,      xn--bcher-kva.example",
        "[::1],               ::1",
        "0:0:0:0:0:0:0:1,     ::1",
        "2001:DB8:0:0::1,     2001:db8::1",
        "127.0.0.1,           127.0.0.1",
        "2130706433,          127.0.0.1",
        "127.1,               127.0.0.1",
        "10.1.258,            10.1.1.2",
        "1.2.3.4.,            1.2.3.4",
    })
    void normalisesNamesAndIpLiterals(String in, String expected) {
        assertThat(HostNames.normalize(in)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} against {1} -> {2}")
    @CsvSource({
        // exact
        "example.com,          example.com,       'example.com'",
        "www.example.com,      example.com,       ",
        "EXAMPLE.com.,         example.com,       'example.com'",
        "notexample.com,       example.com,       ",
        // *.suffix: subdomains only
        "a.example.com,        *.example.com,     '*.example.com'",
        "a.b.example.com,      *.example.com,     '*.example.com'",
        "example.com,          *.example.com,     ",
        "badexample.com,       *.example.com,     ",
        // .domain: domain and subdomains
        "example.com,          .example.com,      '.example.com'",
        "x.y.example.com,      .example.com,      '.example.com'",
        "xexample.com,         .example.com,      ",
        // IDN both ways
        "xn--bcher-kva.example, bücher.example,   'xn--bcher-kva.example'",
        "bücher.example,       *.example,         '*.example'",
        // IP literals
        "10.0.0.7,             10.0.0.7,          '10.0.0.7'",
        "167772167,            10.0.0.7,          '10.0.0.7'",
        "::1,                  [0:0::1],          '::1'",
        "10.0.0.8,             10.0.0.7,          ",
    })
    void matchesPatterns(String host, String pattern, String expected) {
        HostMatcher m = new HostMatcher.Builder(1, false).add(pattern).build();
        assertThat(m.match(HostNames.normalize(host))).isEqualTo(expected == null ? null : "'" + expected + "'");
    }

    @org.junit.jupiter.api.Test
    void plainNamesCanCoverSubdomainsAndFilesAreNamedInTheRule() {
        HostMatcher m = new HostMatcher.Builder(2, true).source("list.txt").add("example.com").build();
        assertThat(m.match("deep.www.example.com")).isEqualTo("'.example.com' (from list.txt)");
        assertThat(m.match("example.com")).isEqualTo("'.example.com' (from list.txt)");
        assertThat(m.match("example.org")).isNull();
    }

    @ParameterizedTest
    @CsvSource({"'*.'", "a*b.com", "'*.10.0.0.1'", "'http://x.com'", "'.'"})
    void rejectsMalformedPatternsNamingThem(String pattern) {
        assertThatThrownBy(() -> new HostMatcher.Builder(1, false).add(pattern))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(pattern);
    }
}
