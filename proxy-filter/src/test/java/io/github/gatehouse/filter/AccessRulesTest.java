package io.github.gatehouse.filter;

import static io.github.gatehouse.filter.AccessConditions.clientAddress;
import static io.github.gatehouse.filter.AccessConditions.method;
import static io.github.gatehouse.filter.AccessConditions.not;
import static io.github.gatehouse.filter.AccessConditions.path;
import static io.github.gatehouse.filter.AccessConditions.port;
import static io.github.gatehouse.filter.AccessConditions.tunnel;
import static io.github.gatehouse.filter.AccessConditions.url;
import static io.github.gatehouse.filter.AccessConditions.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.SettableClock;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.testing.Wire;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class AccessRulesTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("rules")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .dispatcher(req -> MockResponse.ok("origin rules " + req.path()));

    @TempDir
    Path dir;

    private static ProxyServer proxy(AccessRules rules) {
        return Wire.forward().connectPorts(origin.port()).filter(rules).build().start();
    }

    private static RawHttp.Reply get(ProxyServer proxy, String path) throws Exception {
        return Wire.get(proxy, origin.baseUrl() + path);
    }

    @Test
    void clientAddressRulesMatchCidrBlocks() throws Exception {
        try (ProxyServer proxy = proxy(AccessRules.builder().allow("lan", clientAddress("10.0.0.0/8", "127.0.0.0/8")).build())) {
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
        }
        try (ProxyServer proxy = proxy(AccessRules.builder().allow("office", clientAddress("10.0.0.0/8", "fd00::/8")).build())) {
            RawHttp.Reply reply = get(proxy, "/hello");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("GET " + origin.baseUrl() + "/hello is denied by the default rule");
        }
    }

    @Test
    void clientAddressRulesMatchIpv6Clients() throws Exception {
        AccessRules rules = AccessRules.builder().deny("v6-loopback", clientAddress("::1/128")).otherwiseAllow().build();
        try (ProxyServer proxy = Wire.forward().listen("::1", 0).filter(rules).build().start();
                java.net.Socket socket = new java.net.Socket("::1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                    + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            String reply = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(reply).startsWith("HTTP/1.1 403").contains("'v6-loopback'");
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void methodRulesDenyListedMethods() throws Exception {
        try (ProxyServer proxy = proxy(AccessRules.builder().deny("read-only", method("POST", "DELETE")).otherwiseAllow().build())) {
            RawHttp.Reply post = Wire.request(proxy, "POST", origin.baseUrl() + "/echo", "Content-Length: 0");
            assertThat(post.status()).isEqualTo(403);
            assertThat(post.bodyText()).contains("POST " + origin.baseUrl() + "/echo is denied by access rule 'read-only'");
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
            assertThat(origin.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void portRulesJudgeConnectBeforeAnyTunnelAndPlainRequestsToo() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        AccessRules rules = AccessRules.builder()
                .deny("ssl-ports-only", tunnel(), not(port(443)))
                .deny("no-8081", port(8081))
                .otherwiseAllow().build();
        try (ProxyServer proxy = Wire.forward().connectPorts(origin.port()).filter(rules).accessLog(log).build().start()) {
            RawHttp.Reply connect = Wire.connect(proxy, "127.0.0.1:" + origin.port());
            assertThat(connect.status()).isEqualTo(403);
            assertThat(connect.bodyText()).contains("CONNECT 127.0.0.1:" + origin.port() + " is denied by access rule 'ssl-ports-only'");
            assertThat(log.take().reason()).contains("ssl-ports-only");
            assertThat(origin.requestCount()).isZero();

            assertThat(Wire.get(proxy, "http://127.0.0.1:8081/x").bodyText()).contains("'no-8081'");
        }
    }

    @Test
    void urlRulesMatchSchemeHostPortAndPathGlobAfterNormalisation() throws Exception {
        AccessRules rules = AccessRules.builder()
                .deny("admin", url("http://127.0.0.1/admin/**", "*://*.internal.example/**"))
                .deny("php", path("/*.php"))
                .deny("debug", AccessConditions.urlRegex("[?&]debug=1(&|$)"))
                .otherwiseAllow().build();
        try (ProxyServer proxy = proxy(rules)) {
            assertThat(get(proxy, "/admin/users").bodyText()).contains("'admin'");
            assertThat(get(proxy, "/%61dmin/users").bodyText()).contains("'admin'");
            assertThat(get(proxy, "/ADMIN/users").status()).isEqualTo(200);   // paths are case-sensitive
            assertThat(get(proxy, "/index.php").bodyText()).contains("'php'");
            assertThat(get(proxy, "/dir/index.php").status()).isEqualTo(200);
            assertThat(Wire.get(proxy, "http://db.internal.example/").bodyText()).contains("'admin'");
            assertThat(get(proxy, "/hello?x=2&debug=1").bodyText()).contains("'debug'");
            assertThat(get(proxy, "/hello?debug=10").status()).isEqualTo(200);
        }
    }

    @Test
    void userRulesSeeTheAuthenticatedUser() throws Exception {
        BasicAuthenticator auth = BasicAuthenticator.users(Map.of("alice", "a", "bob", "b", "carol", "c"));
        AccessRules rules = AccessRules.builder()
                .allow("staff", user("alice"))
                .allow("admins", AccessConditions.group("admins", List.of("carol")))
                .build();
        try (ProxyServer proxy = Wire.forward().authenticator(auth).filter(rules).build().start()) {
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello", "Proxy-Authorization: " + Wire.basic("alice", "a")).status())
                    .isEqualTo(200);
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello", "Proxy-Authorization: " + Wire.basic("carol", "c")).status())
                    .isEqualTo(200);
            RawHttp.Reply bob = Wire.get(proxy, origin.baseUrl() + "/hello", "Proxy-Authorization: " + Wire.basic("bob", "b"));
            assertThat(bob.status()).isEqualTo(403);
            assertThat(bob.bodyText()).contains("denied by the default rule");
        }
    }

    @Test
    void timeRulesFollowTheClockIncludingRangesOverMidnight() throws Exception {
        SettableClock clock = SettableClock.at("2026-01-09T23:30:00Z");   // a Friday
        AccessRules rules = AccessRules.builder()
                .deny("night", AccessConditions.time(clock, LocalTime.of(22, 0), LocalTime.of(6, 0), DayOfWeek.FRIDAY))
                .otherwiseAllow().build();
        try (ProxyServer proxy = proxy(rules)) {
            assertThat(get(proxy, "/hello").bodyText()).contains("'night'");
            clock.advance(Duration.ofHours(4));                     // Saturday 03:30, still Friday night
            assertThat(get(proxy, "/hello").status()).isEqualTo(403);
            clock.advance(Duration.ofHours(3));                     // Saturday 06:30
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
            clock.advance(Duration.ofHours(16));                    // Saturday 22:30: not a Friday night
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
        }
    }

    @Test
    void theFirstMatchingRuleWinsAndTheDefaultDecidesTheRest() throws Exception {
        AccessRules allowFirst = AccessRules.builder().allow(path("/hello")).deny().build();
        try (ProxyServer proxy = proxy(allowFirst)) {
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
            assertThat(get(proxy, "/other").bodyText()).contains("denied by access rule #2 (deny all)");
        }
        AccessRules denyFirst = AccessRules.builder().deny(AccessConditions.all()).allow(path("/hello")).build();
        try (ProxyServer proxy = proxy(denyFirst)) {
            assertThat(get(proxy, "/hello").bodyText()).contains("access rule #1 (deny all)");
        }
    }

    @Test
    void hostListsFromFilesComposeWithOtherConditions() throws Exception {
        Path list = dir.resolve("social.txt");
        Files.writeString(list, ".social.example\n");
        HostRules social = HostRules.denyFile(list);
        AccessRules rules = AccessRules.builder()
                .allow("lunch", AccessConditions.hostList(social), method("GET"), clientAddress("127.0.0.1"))
                .deny("social", AccessConditions.hostList(social))
                .otherwiseAllow().build();
        try (ProxyServer proxy = proxy(rules)) {
            assertThat(Wire.request(proxy, "POST", "http://www.social.example/", "Content-Length: 0").bodyText())
                    .contains("'social'");
            assertThat(get(proxy, "/hello").status()).isEqualTo(200);
        }
    }

    @Test
    void conditionsRejectBadArgumentsNamingThem() {
        assertThatThrownBy(() -> clientAddress("10.0.0.0/33")).hasMessageContaining("10.0.0.0/33");
        assertThatThrownBy(() -> clientAddress("example.com")).hasMessageContaining("example.com");
        assertThatThrownBy(() -> port(0)).hasMessageContaining("port: 0");
        assertThatThrownBy(() -> AccessConditions.portRange(9, 1)).hasMessageContaining("9..1");
        assertThatThrownBy(() -> url("example.com/admin")).hasMessageContaining("example.com/admin");
        assertThatThrownBy(() -> AccessConditions.urlRegex("(")).hasMessageContaining("'('");
        assertThatThrownBy(() -> method("GE T")).hasMessageContaining("GE T");
        assertThatThrownBy(() -> path("admin")).hasMessageContaining("admin");
        assertThatThrownBy(() -> AccessConditions.time(SettableClock.at("2026-01-01T00:00:00Z"), LocalTime.NOON, LocalTime.NOON))
                .hasMessageContaining("12:00");
        assertThatThrownBy(() -> AccessRules.builder().deny(" ", AccessConditions.all())).hasMessageContaining("' '");
    }
}
