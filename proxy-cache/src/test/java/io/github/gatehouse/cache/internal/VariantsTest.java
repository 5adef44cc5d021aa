package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.HttpHeaders;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Table test for the normal form of Accept-Encoding and Accept-Language secondary keys. */
class VariantsTest {
    @ParameterizedTest(name = "[{0}] -> [{1}]")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "gzip, br                    | br,gzip",
            "BR,GZIP                     | br,gzip",
            "gzip;q=1.0, br;q=1          | br,gzip",
            "gzip ; q=0.50, br           | br,gzip;q=0.5",
            "gzip;q=0.5, gzip            | gzip;q=0.5",
            "identity;q=0, *;q=0.000     | *;q=0,identity;q=0",
            "gzip;q=0.                   | gzip;q=0",
            "gzip;q=2                    | gzip;q=2",
            "gzip;level=1                | gzip;level=1",
            "en-US, fr;q=0.50, de;q=0.7  | de;q=0.7,en-us,fr;q=0.5",
            "fr;q=0.5,en-us,de;q=0.700   | de;q=0.7,en-us,fr;q=0.5",
            "''                          | ''",
    })
    void normalForm(String value, String expected) {
        HttpHeaders h = new HttpHeaders().add("Accept-Encoding", value);
        assertThat(Variants.normalizeWeightedList(h.getTokens("Accept-Encoding"))).isEqualTo(expected);
    }
}
