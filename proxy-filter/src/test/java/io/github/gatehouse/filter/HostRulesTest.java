package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.testing.Wire;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class HostRulesTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("hosts")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin hosts " + req.path()));

    @TempDir
    Path dir;

    @Test
    void blacklistDeniesMatchingHostsWith403NamingTheRuleAndLogsTheReason() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = Wire.forward().accessLog(log)
                .filter(HostRules.deny("*.ads.example", "tracker.example")).build().start()) {
            RawHttp.Reply denied = Wire.get(proxy, "http://banner.ads.example/x");
            assertThat(denied.status()).isEqualTo(403);
            assertThat(denied.bodyText()).contains("host banner.ads.example is denied by host rule '*.ads.example'");
            AccessLogEntry entry = log.take();
            assertThat(entry.status()).isEqualTo(403);
            assertThat(entry.reason()).contains("'*.ads.example'");

            assertThat(Wire.get(proxy, "http://TRACKER.example./").status()).isEqualTo(403);
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").bodyText()).isEqualTo("hello");
            assertThat(origin.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void ipLiteralRulesCannotBeDodgedWithOtherSpellingsOfTheAddress() throws Exception {
        try (ProxyServer proxy = Wire.forward().filter(HostRules.deny("127.0.0.1")).build().start()) {
            for (String host : new String[] {"127.0.0.1", "2130706433", "[::ffff:127.0.0.1]"}) {
                RawHttp.Reply reply = Wire.get(proxy, "http://" + host + ":" + origin.port() + "/hello");
                assertThat(reply.status()).as(host).isEqualTo(403);
                assertThat(reply.bodyText()).as(host).contains("'127.0.0.1'");
            }
            for (String host : new String[] {"127.1", "127.0.0.1."}) {     // core already refuses these spellings
                assertThat(Wire.get(proxy, "http://" + host + ":" + origin.port() + "/hello").status()).as(host).isIn(400, 403);
            }
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void whitelistDeniesEverythingNotAllowed() throws Exception {
        try (ProxyServer proxy = Wire.forward().filter(HostRules.allow("127.0.0.1", ".good.example"))
                .build().start()) {
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).isEqualTo(200);
            RawHttp.Reply denied = Wire.get(proxy, "http://elsewhere.example/");
            assertThat(denied.status()).isEqualTo(403);
            assertThat(denied.bodyText()).contains("host elsewhere.example is not on the allow list");
            assertThat(origin.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void connectIsJudgedByHostBeforeAnyTunnelOpens() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = Wire.forward().connectPorts(origin.port()).accessLog(log)
                .filter(HostRules.deny("localhost", "127.0.0.1")).build().start()) {
            RawHttp.Reply reply = Wire.connect(proxy, "127.0.0.1:" + origin.port());
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("denied by host rule '127.0.0.1'");
            assertThat(log.take().method()).isEqualTo("CONNECT");
            assertThat(origin.requestCount()).isZero();
        }
        try (ProxyServer proxy = Wire.forward().connectPorts(443)
                .filter(HostRules.allow("good.example")).build().start()) {
            RawHttp.Reply reply = Wire.connect(proxy, "evil.example:443");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("evil.example is not on the allow list");
        }
    }

    @Test
    void listsLoadFromFilesWithCommentsAndReloadAtRuntime() throws Exception {
        Path list = dir.resolve("deny.txt");
        Files.writeString(list, "# ads\n*.ads.example   # banners\n\n  tracker.example\n");
        HostRules rules = HostRules.denyFile(list);
        assertThat(rules.size()).isEqualTo(2);
        try (ProxyServer proxy = Wire.forward().filter(rules).build().start()) {
            RawHttp.Reply denied = Wire.get(proxy, "http://x.ads.example/");
            // the pattern, but not the list file it came from (the file name is for the operator's log)
            assertThat(denied.bodyText()).contains("'*.ads.example'").doesNotContain("deny.txt");
            assertThat(denied.headers().get("proxy-status")).contains("error=http_request_denied").doesNotContain("deny.txt");
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).isEqualTo(200);

            assertThat(rules.reloadIfModified()).isFalse();
            Files.writeString(list, "127.0.0.1\n");
            Files.setLastModifiedTime(list, java.nio.file.attribute.FileTime.fromMillis(
                    Files.getLastModifiedTime(list).toMillis() + 2000));     // coarse file-system clocks
            assertThat(rules.reloadIfModified()).isTrue();
            assertThat(rules.size()).isEqualTo(1);

            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).isEqualTo(403);
            assertThat(Wire.get(proxy, "http://x.ads.example/").status()).isNotEqualTo(403);
        }
    }

    @Test
    void aFailedReloadKeepsTheCurrentList() throws Exception {
        Path list = dir.resolve("deny.txt");
        Files.writeString(list, "tracker.example\n");
        HostRules rules = HostRules.denyFile(list);
        Files.writeString(list, "ok.example\nbad*pattern\n");
        assertThatThrownBy(rules::reload).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("deny.txt line 2").hasMessageContaining("bad*pattern");
        Files.delete(list);
        assertThatThrownBy(rules::reload).isInstanceOf(UncheckedIOException.class).hasMessageContaining("deny.txt");
        assertThat(rules.matchingRule("tracker.example")).hasValue("'tracker.example' (from deny.txt)");
    }

    @Test
    void aMillionNamesLoadAndMatchWithSuffixWalking() throws Exception {
        Path list = dir.resolve("big.txt");
        StringBuilder sb = new StringBuilder(24 * 1_000_000);
        for (int i = 0; i < 1_000_000; i++) {
            sb.append(i % 2 == 0 ? "host" : ".dom").append(i).append(".example\n");
        }
        Files.writeString(list, sb);
        HostRules rules = HostRules.denyFile(list);

        assertThat(rules.size()).isEqualTo(1_000_000);
        assertThat(rules.isAllowed("host999998.example")).isFalse();
        assertThat(rules.isAllowed("www.host999998.example")).isTrue();
        assertThat(rules.isAllowed("a.b.dom999999.example")).isFalse();
        assertThat(rules.isAllowed("host1000000.example")).isTrue();
    }

    @Test
    void builderRejectsBadPatternsAndTemplatesNamingThem() {
        assertThatThrownBy(() -> HostRules.deny("ok.example", "*.")).hasMessageContaining("'*.'");
        assertThatThrownBy(() -> HostRules.builder(HostRules.Mode.BLACKLIST).denyReason(" "))
                .hasMessageContaining("denyReason");
    }

    @Test
    void theDenyReasonIsConfigurable() throws Exception {
        HostRules rules = HostRules.builder(HostRules.Mode.BLACKLIST).add("blocked.example")
                .denyReason("{host} is off limits ({rule})").build();
        try (ProxyServer proxy = Wire.forward().filter(rules).build().start()) {
            assertThat(Wire.get(proxy, "http://blocked.example/").bodyText())
                    .contains("blocked.example is off limits ('blocked.example')");
        }
    }
}
