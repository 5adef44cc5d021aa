package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Whether a tag header line lists a tag: whole tags only, separated by spaces, tabs or commas. */
class TagListTest {
    @ParameterizedTest(name = "''{0}'' lists ''{1}'': {2}")
    @CsvSource(delimiterString = " | ", value = {
        "a b c | b | true",
        "a b c | a | true",
        "a b c | c | true",
        "a,b , c | b | true",
        "product-7 | product-7 | true",
        "product-70 product-17 | product-7 | false",
        "xproduct-7 product-7x | product-7 | false",
        "xproduct-7 product-7 | product-7 | true",
        "a | '' | false",
    })
    void wholeTagsOnly(String line, String tag, boolean lists) {
        assertThat(Invalidation.listsTag(line, tag)).isEqualTo(lists);
    }
}
