package io.github.gatehouse.filter.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.net.InetAddresses;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MatchersTest {

    @ParameterizedTest(name = "{0} in {1}: {2}")
    @CsvSource({
        "10.1.2.3,          10.0.0.0/8,        true",
        "11.1.2.3,          10.0.0.0/8,        false",
        "192.168.1.129,     192.168.1.128/25,  true",
        "192.168.1.127,     192.168.1.128/25,  false",
        "::ffff:10.9.9.9,   10.0.0.0/8,        true",
        "2001:db8::1,       2001:db8::/32,     true",
        "2001:db9::1,       2001:db8::/32,     false",
        "::1,               ::1,               true",
        "127.0.0.1,         ::1,               false",
        "1.2.3.4,           0.0.0.0/0,         true",
        "fd12:3456::1,      fd00::/8,          true",
    })
    void cidrBlocksContainAddresses(String address, String cidr, boolean expected) {
        assertThat(io.github.gatehouse.core.internal.Cidr.parse(cidr).contains(InetAddresses.forString(address))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "/a/b,          /a/b",
        "/a/./b,        /a/b",
        "/a/../b,       /b",
        "/../../b,      /b",
        "//a///b,       /a/b",
        "/%61dmin,      /admin",
        "/%2fetc,       /%2Fetc",
        "/a/b/,         /a/b/",
        "'',            /",
        "/a/..,         /",
    })
    void pathsAreNormalisedBeforeMatching(String raw, String expected) {
        assertThat(UrlPattern.normalizePath(raw)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{1} ~ {0}: {2}")
    @CsvSource({
        "/admin/**,    /admin/a/b,   true",
        "/admin/**,    /admin,       false",
        "/admin*,      /admin,       true",
        "/admin*,      /admin/x,     false",
        "/*.php,       /index.php,   true",
        "/*.php,       /a/index.php, false",
        "/**/*.php,    /a/index.php, true",
        "/file?.txt,   /file1.txt,   true",
        "/file?.txt,   /file/.txt,   false",
        "/a+b(c),      /a+b(c),      true",
    })
    void pathGlobs(String glob, String path, boolean expected) {
        assertThat(path.matches(UrlPattern.globToRegex(glob))).isEqualTo(expected);
    }
}
