package io.github.gatehouse.cache.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.gatehouse.core.HttpHeaders;

/**
 * Fuzzes the cache's own parsers (Cache-Control and targeted fields, HTTP dates, Range): any input is parsed or
 * refused, never an unexpected exception. The normal build replays the seed corpus; {@code -Pfuzz} fuzzes one method.
 */
class CacheParsersFuzzTest {

    @FuzzTest(maxDuration = "5s")
    void cacheControl(FuzzedDataProvider data) {
        Directives d = Directives.of(new HttpHeaders().add("Cache-Control", data.consumeRemainingAsString()), "Cache-Control");
        d.has("max-age");
        d.value("max-age");
        d.fieldNames("private");
    }

    @FuzzTest(maxDuration = "5s")
    void httpDates(FuzzedDataProvider data) {
        HttpDates.parse(data.consumeRemainingAsString());
    }

    @FuzzTest(maxDuration = "5s")
    void ranges(FuzzedDataProvider data) {
        long length = data.consumeLong(0, Long.MAX_VALUE / 2);
        Ranges.single(data.consumeRemainingAsString(), length);
    }
}
