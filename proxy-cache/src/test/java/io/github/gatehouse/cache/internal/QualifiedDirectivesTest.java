package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.HttpHeaders;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The qualified forms of {@code private} and {@code no-cache} (RFC 9111 §5.2.2.4, §5.2.2.7): which field names they
 * list, and whether the directive (also) applies to the whole response. Cases are one or two Cache-Control lines
 * ({@code ¶} separates the lines), parsed as a response's.
 */
class QualifiedDirectivesTest {

    @ParameterizedTest(name = "[{0}] {1}: fields={2} whole={3}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            // Cache-Control line(s)                              | directive | field names         | whole response
            "private=\"X-Foo, Set-Cookie\"                        | private   | X-Foo;Set-Cookie    | false",
            "max-age=60, private=\"Set-Cookie\", public           | private   | Set-Cookie          | false",
            "no-cache=\"Set-Cookie\"                              | no-cache  | Set-Cookie          | false",
            "NO-CACHE=\"set-cookie\"                              | no-cache  | set-cookie          | false",
            "private=X-Foo                                        | private   | X-Foo               | false",
            "private=\" X-Foo ,, Set-Cookie ,\"                   | private   | X-Foo;Set-Cookie    | false",
            // unqualified forms keep their meaning
            "private                                              | private   | ''                  | true",
            "no-cache                                             | no-cache  | ''                  | true",
            "private=\"\"                                         | private   | ''                  | true",
            "private=\" , \"                                      | private   | ''                  | true",
            // several occurrences: the lists add up, and one unqualified occurrence wins whatever the order
            "private=\"X-Foo\", private=\"Set-Cookie, x-foo\"      | private   | X-Foo;Set-Cookie    | false",
            "private=\"X-Foo\"¶private=\"X-Bar\"                   | private   | X-Foo;X-Bar         | false",
            "private=\"X-Foo\", private                           | private   | X-Foo               | true",
            "no-cache, no-cache=\"X-Foo\"                         | no-cache  | X-Foo               | true",
            "no-cache=\"X-Foo\"¶no-cache                          | no-cache  | X-Foo               | true",
            // a list that cannot be read counts as unqualified (the safe reading)
            "private=\"X-Foo, max-age=60                          | private   | ''                  | true",
            "private=\"X Foo\"                                    | private   | ''                  | true",
            "no-cache=\"X-Foo;x=1\"                               | no-cache  | ''                  | true",
            // absent
            "max-age=60                                           | private   | ''                  | false",
            "public, s-maxage=10                                  | no-cache  | ''                  | false",
    })
    void qualifiedFieldNames(String lines, String directive, String fields, boolean whole) {
        HttpHeaders headers = new HttpHeaders();
        for (String line : lines.split("¶")) {
            headers.add("Cache-Control", line.trim());
        }
        Directives d = Directives.of(headers, "Cache-Control");
        assertThat(String.join(";", d.fieldNames(directive))).isEqualTo(fields);
        assertThat(d.isUnqualified(directive)).isEqualTo(whole);
        assertThat(d.has(directive)).isEqualTo(!fields.isEmpty() || whole);
    }

    @ParameterizedTest(name = "{0}: max-age={1}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "private=\"X-Foo, Set-Cookie\", max-age=60   | 60",
            "max-age=30, no-cache=\"X-Foo\", max-age=60  | 0",  // both max-age seen: conflicting, so stale
            "no-cache=\"a,b\", s-maxage=5, max-age=7     | 7",
    })
    void aQuotedListDoesNotSwallowTheNextDirectives(String line, long maxAge) {
        Directives d = Directives.of(new HttpHeaders().add("Cache-Control", line), "Cache-Control");
        assertThat(d.seconds("max-age")).isEqualTo(maxAge);
    }
}
