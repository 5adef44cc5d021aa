package io.github.gatehouse.examples;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/** Fuzzes the launcher's flag parser: any command line is accepted or refused with a usage message. */
class LauncherFlagsFuzzTest {

    @FuzzTest(maxDuration = "5s")
    void flags(FuzzedDataProvider data) {
        String[] args = data.consumeRemainingAsString().split("\u0000", -1);
        try {
            LauncherOptions o = LauncherOptions.parse(args);
            if (!o.help) {
                Gatehouse.pool(o.mode == LauncherOptions.Mode.REVERSE ? o : LauncherOptions.parse("reverse", "--upstream", "http://a:1"));
            }
        } catch (LauncherOptions.UsageException | IllegalArgumentException expected) {
            // refused with a message: the contract
        }
    }
}
