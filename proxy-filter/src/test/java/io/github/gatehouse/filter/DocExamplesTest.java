package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.SettableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The examples from the public types' Javadoc, kept here so they keep compiling and building. */
class DocExamplesTest {
    @TempDir
    Path dir;

    @Test
    void javadocExamplesBuild() throws Exception {
        Files.writeString(dir.resolve("allowed-hosts.txt"), "example.com\n");
        Files.writeString(dir.resolve("users.htpasswd"), "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n");
        Path allowed = dir.resolve("allowed-hosts.txt");
        Path htpasswd = dir.resolve("users.htpasswd");
        Clock clock = SettableClock.at("2026-01-01T12:00:00Z");
        BasicAuthenticator users = BasicAuthenticator.builder().realm("office").htpasswd(htpasswd).build();

        // HostRules
        ProxyServer.Builder a = ProxyServer.builder().forward()
                .filter(HostRules.deny("*.ads.example", ".tracker.example", "10.0.0.7"))
                .filter(HostRules.allowFile(allowed));
        // AccessRules
        AccessRules rules = AccessRules.builder()
                .deny("no-tunnels-but-443", AccessConditions.tunnel(), AccessConditions.not(AccessConditions.port(443)))
                .deny("night", AccessConditions.time(clock, LocalTime.of(22, 0), LocalTime.of(6, 0)))
                .allow("lan", AccessConditions.clientAddress("10.0.0.0/8", "fd00::/8"))
                .build();
        // KeywordFilter
        ProxyServer.Builder b = ProxyServer.builder().forward()
                .filter(KeywordFilter.blockPagesContaining("casino", "online poker"))
                .filter(KeywordFilter.builder().redact("password=").urlKeywords("torrent").build());
        // RateLimits
        ProxyServer.Builder c = ProxyServer.builder().forward()
                .authenticator(users)
                .filter(RateLimits.builder().perClient(50, 100).perUser(20, 40).build());
        // BasicAuthenticator
        ProxyServer.Builder d = ProxyServer.builder().forward()
                .authenticator(BasicAuthenticator.builder().realm("office").htpasswd(htpasswd).build());

        assertThat(rules.toString()).contains("no-tunnels-but-443", "night", "lan", "otherwise DENY");
        assertThat(users.userCount()).isEqualTo(1);
        assertThat(java.util.List.of(a, b, c, d)).doesNotContainNull();
    }
}
