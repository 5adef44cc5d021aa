package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.SettableClock;
import io.github.gatehouse.filter.testing.Wire;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pieces together, as DESIGN.md's LAN proxy composes them: the user and the reason reach every log line. */
class ComposedFiltersTest {

    @Test
    void aLanProxyAuthenticatesThenFiltersAndLogsWhoWasRefusedWhy() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        SettableClock clock = SettableClock.at("2026-01-05T10:00:00Z");
        try (MockOrigin origin = MockOrigin.named("composed").start();
                ProxyServer proxy = Wire.forward().accessLog(log)
                        .authenticator(BasicAuthenticator.users(Map.of("alice", "wonder")))
                        .filter(HostRules.deny("*.ads.example"))
                        .filter(RateLimits.builder().perUser(2, 2).clock(clock).build())
                        .filter(KeywordFilter.blockPagesContaining("casino"))
                        .build().start()) {
            origin.dispatcher(r -> MockResponse.ok().header("Content-Type", "text/html")
                    .chunks(r.path().equals("/page") ? "<p>casino night</p>" : "<p>news</p>"));
            String alice = "Proxy-Authorization: " + Wire.basic("alice", "wonder");

            assertThat(Wire.get(proxy, origin.baseUrl() + "/ok").status()).isEqualTo(407);
            assertThat(log.take().user()).isNull();

            RawHttp.Reply ad = Wire.get(proxy, "http://x.ads.example/", alice);
            assertThat(ad.status()).isEqualTo(403);
            AccessLogEntry adEntry = log.take();
            assertThat(adEntry.user()).isEqualTo("alice");
            assertThat(adEntry.reason()).contains("'*.ads.example'");

            assertThat(Wire.get(proxy, origin.baseUrl() + "/page", alice).status()).isEqualTo(403);
            AccessLogEntry pageEntry = log.take();
            assertThat(pageEntry.user()).isEqualTo("alice");
            assertThat(pageEntry.reason()).contains("'casino'");

            assertThat(Wire.get(proxy, origin.baseUrl() + "/ok", alice).bodyText()).contains("news");
            assertThat(log.take().status()).isEqualTo(200);

            RawHttp.Reply limited = Wire.get(proxy, origin.baseUrl() + "/ok", alice);
            assertThat(limited.status()).isEqualTo(429);
            assertThat(log.take().user()).isEqualTo("alice");
        }
    }
}
