package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.Ranges.Span;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code Range} and {@code Content-Range} parsing (RFC 9110 §14.1.2, §14.2, §14.4) for a 1,000-byte body. */
class RangesTest {

    @ParameterizedTest(name = "[{index}] {0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "bytes=0-99                  | 0-99",
        "bytes=900-                  | 900-999",
        "bytes=-100                  | 900-999",
        "bytes=-5000                 | 0-999",
        "bytes=990-2000              | 990-999",
        "BYTES=1-2                   | 1-2",
        "bytes=500-509, 10-19        | 10-19,500-509",
        "bytes=10-19,15-29           | 10-29",
        "bytes=10-19,20-29           | 10-29",
        "bytes=0-1,60-61             | 0-61",
        "bytes=0-1,200-201           | 0-1,200-201",
        "'bytes=0-1, ,5-6'           | 0-6",
        "bytes=1000-                 | unsatisfiable",
        "bytes=1000-2000,3000-       | unsatisfiable",
        "bytes=1000-2000,0-0         | 0-0",
        "bytes=-0                    | unsatisfiable",
        "bytes=5-1                   | ignored",
        "bytes=a-b                   | ignored",
        "bytes=0-1,x                 | ignored",
        "items=0-1                   | ignored",
        "bytes=                      | ignored",
        "bytes=-                     | ignored",
    })
    void rangeHeaders(String header, String expected) {
        List<Span> spans = Ranges.parse(header, 1000);
        String got = spans == null ? "ignored" : spans.isEmpty() ? "unsatisfiable" : Ranges.format(spans);
        assertThat(got).isEqualTo(expected.trim());
    }

    @ParameterizedTest(name = "[{index}] {0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "bytes 0-99/1000     | 0-99/1000",
        "bytes 999-999/1000  | 999-999/1000",
        "BYTES 1-2/3         | 1-2/3",
        "bytes 0-99/*        | none",
        "bytes */1000        | none",
        "bytes 5-1/1000      | none",
        "bytes 0-1000/1000   | none",
        "items 0-1/2         | none",
        "bytes 0-1           | none",
    })
    void contentRanges(String header, String expected) {
        Ranges.ContentRange cr = Ranges.contentRange(header);
        assertThat(cr == null ? "none" : cr.span() + "/" + cr.completeLength()).isEqualTo(expected.trim());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', value = {
        "0-99,200-299  | 0-99,200-299",
        "0-99          | 0-99",
        "0-99,100-199  | invalid",
        "200-299,0-99  | invalid",
        "0-99,50-199   | invalid",
        "x             | invalid",
    })
    void storedRangeLists(String value, String expected) {
        List<Span> spans = Ranges.parseStored(value);
        assertThat(spans == null ? "invalid" : Ranges.format(spans)).isEqualTo(expected.trim());
    }

    @ParameterizedTest(name = "[{index}] {0} minus {1}")
    @CsvSource(delimiter = '|', value = {
        "0-999   | 0-499          | 500-999",
        "0-999   | 500-999        | 0-499",
        "0-999   | 0-199,600-999  | 200-599",
        "0-999   | 100-199,600-699 | 0-99,200-599,700-999",
        "0-999   | 0-999          | none",
        "100-199 | 0-999          | none",
        "250-349 | 100-299        | 300-349",
        "0-99    | 200-299        | 0-99",
    })
    void missingParts(String wanted, String stored, String expected) {
        Span w = Ranges.parseStored(wanted).get(0);
        List<Span> missing = Ranges.missing(w, Ranges.parseStored(stored));
        assertThat(missing.isEmpty() ? "none" : Ranges.format(missing)).isEqualTo(expected.trim());
    }
}
