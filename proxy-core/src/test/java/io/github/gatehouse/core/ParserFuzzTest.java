package io.github.gatehouse.core;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.gatehouse.core.internal.Cidr;
import io.github.gatehouse.core.internal.DestinationPolicy;

/**
 * Fuzzes the parsers Gatehouse writes itself: each either returns a value or throws IllegalArgumentException, for
 * any input. A normal build replays the seed corpus in src/test/resources; {@code JAZZER_FUZZ=1 mvn test
 * -Dtest=ParserFuzzTest} fuzzes for real (add {@code -Djazzer.max_duration=60s} or similar to bound it).
 */
class ParserFuzzTest {

    private static void onlyIllegalArgument(Runnable parse) {
        try {
            parse.run();
        } catch (IllegalArgumentException expected) {
            // a clear refusal is the contract for bad input
        }
    }

    @FuzzTest(maxDuration = "5s")
    void dataSize(FuzzedDataProvider data) {
        onlyIllegalArgument(() -> DataSize.parse(data.consumeRemainingAsString()));
    }

    @FuzzTest(maxDuration = "5s")
    void cidr(FuzzedDataProvider data) {
        onlyIllegalArgument(() -> Cidr.parse(data.consumeRemainingAsString()));
    }

    @FuzzTest(maxDuration = "5s")
    void hostPatternsAndRoutes(FuzzedDataProvider data) {
        String host = data.consumeString(100);
        String path = data.consumeRemainingAsString();
        onlyIllegalArgument(() -> Route.host(host).matches(host, path));
        onlyIllegalArgument(() -> Route.any().pathPrefix(path).rewritePath(path));
    }

    @FuzzTest(maxDuration = "5s")
    void credentials(FuzzedDataProvider data) {
        Credentials.parse(data.consumeRemainingAsString()).ifPresent(Credentials::basic);
    }

    @FuzzTest(maxDuration = "5s")
    void headerLists(FuzzedDataProvider data) {
        HttpHeaders h = new HttpHeaders().add("Cache-Control", data.consumeRemainingAsString());
        h.getTokens("cache-control");
        h.containsToken("Cache-Control", "no-store");
    }

    @FuzzTest(maxDuration = "5s")
    void destinations(FuzzedDataProvider data) {
        onlyIllegalArgument(() -> DestinationPolicy.checkHostPort(data.consumeRemainingAsString()));
    }

    @FuzzTest(maxDuration = "5s")
    void upstreamUrls(FuzzedDataProvider data) {
        onlyIllegalArgument(() -> Upstream.of(data.consumeRemainingAsString()));
    }
}
