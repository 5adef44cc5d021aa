package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Table test: which targeted cache-control values are valid structured-field Dictionaries (RFC 9213 §2.1). */
class TargetedFieldsTest {
    @ParameterizedTest(name = "[{0}] -> {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "max-age=60                      | true",
            "max-age=60, no-store            | true",
            "max-age=60,no-store             | true",
            "no-store                        | true",
            "private=\"Set-Cookie\"          | true",
            "s-maxage=10;foo=bar             | true",
            "max-age=?1                      | true",
            "must-revalidate, max-age=3600   | true",
            "Max-Age=60                      | false",
            "max-age=60,                     | false",
            ",max-age=60                     | false",
            "max-age=                        | false",
            "max-age=\"60                    | false",
            "max age=60                      | false",
            "''                              | false",
            "max-age=1234567890123456        | false",
            "no-store; ;;                    | false",
    })
    void validity(String value, boolean valid) {
        assertThat(TargetedFields.isValidDictionary(value)).isEqualTo(valid);
    }
}
