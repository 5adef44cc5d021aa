package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The URL cache rules are matched against: {@code scheme://host[:port]/path?query}, Squid's form. */
class RuleUrlTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "http://Deb.Debian.ORG/debian/pool/a.deb,         http://deb.debian.org/debian/pool/a.deb",
        "http://deb.debian.org:80/a.deb,                 http://deb.debian.org/a.deb",
        "https://repo.example:443/a.jar,                 https://repo.example/a.jar",
        "http://repo.example:8081/a.jar?x=1&y=%2F,       http://repo.example:8081/a.jar?x=1&y=%2F",
        "HTTP://repo.example,                            http://repo.example/",
        "http://[::1]:3142/a%20b.whl,                    http://[::1]:3142/a%20b.whl",
    })
    void isSquidsForm(String uri, String url) {
        assertThat(Storability.ruleUrl(URI.create(uri))).isEqualTo(url);
    }
}
