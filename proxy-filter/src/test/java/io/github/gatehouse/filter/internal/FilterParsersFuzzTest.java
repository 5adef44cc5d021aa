package io.github.gatehouse.filter.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.gatehouse.filter.HostRules;

/**
 * Fuzzes the filter module's own parsers (host names and patterns, htpasswd hashes): any input is parsed or
 * refused with IllegalArgumentException. The normal build replays the seed corpus; {@code -Pfuzz} fuzzes one method.
 */
class FilterParsersFuzzTest {

    private static void onlyIllegalArgument(Runnable r) {
        try {
            r.run();
        } catch (IllegalArgumentException expected) {
            // a clear refusal is the contract
        }
    }

    @FuzzTest(maxDuration = "5s")
    void hostNames(FuzzedDataProvider data) {
        String s = data.consumeRemainingAsString();
        onlyIllegalArgument(() -> HostNames.normalize(s));
    }

    @FuzzTest(maxDuration = "5s")
    void hostPatterns(FuzzedDataProvider data) {
        String pattern = data.consumeString(200);
        String host = data.consumeRemainingAsString();
        onlyIllegalArgument(() -> HostRules.deny(pattern).matchingRule(host));
    }

    @FuzzTest(maxDuration = "5s")
    void htpasswdHashes(FuzzedDataProvider data) {
        String hash = data.consumeRemainingAsString();
        onlyIllegalArgument(() -> {
            PasswordHash h = PasswordHash.parse(hash);
            if (!h.isSlow()) {
                h.verify("password");
            }
        });
    }
}
