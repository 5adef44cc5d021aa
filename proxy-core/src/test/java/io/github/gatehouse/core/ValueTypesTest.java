package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.internal.AccessLogFormats;
import io.github.gatehouse.core.internal.Cidr;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ValueTypesTest {

    @ParameterizedTest
    @CsvSource({"512,512", "64k,65536", "64KiB,65536", "256m,268435456", "1g,1073741824", "1GB,1073741824"})
    void dataSizeParses(String text, long bytes) {
        assertThat(DataSize.parse(text).toBytes()).isEqualTo(bytes);
    }

    @Test
    void dataSizeRejectsNonsense() {
        assertThatThrownBy(() -> DataSize.parse("lots")).hasMessageContaining("lots");
        assertThatThrownBy(() -> DataSize.parse("-1k")).hasMessageContaining("-1k");
        assertThat(DataSize.mebibytes(256).toString()).isEqualTo("256MiB");
    }

    @ParameterizedTest
    @CsvSource({
        "shop.example,  /api,  shop.example,    /api,      true",
        "shop.example,  /api,  SHOP.example.,   /api/x,    true",
        "shop.example,  /api,  shop.example,    /apix,     false",
        "shop.example,  /api/, shop.example,    /api/x,    true",
        "*.cdn.example, /,     a.b.cdn.example, /x,        true",
        "*.cdn.example, /,     cdn.example,     /x,        false",
        "*.cdn.example, /,     evilcdn.example, /x,        false",
        "*,             /,     anything,        /,         true"})
    void routeMatchesHostsAndWholePathSegments(String pattern, String prefix, String host, String path, boolean matches) {
        assertThat(Route.host(pattern).pathPrefix(prefix).matches(host, path)).isEqualTo(matches);
    }

    @Test
    void routeRewritesPrefixes() {
        assertThat(Route.any().pathPrefix("/api").stripPrefix().rewritePath("/api/x")).isEqualTo("/x");
        assertThat(Route.any().pathPrefix("/api").stripPrefix().rewritePath("/api")).isEqualTo("/");
        assertThat(Route.any().pathPrefix("/api").rewritePrefix("/v2").rewritePath("/api/x")).isEqualTo("/v2/x");
        assertThat(Route.any().rewritePrefix("/static").rewritePath("/logo.png")).isEqualTo("/static/logo.png");
        assertThat(Route.any().pathPrefix("/api").rewritePath("/api/x")).isEqualTo("/api/x");
        assertThatThrownBy(() -> Route.host("a.example:80")).hasMessageContaining("a.example:80");
        assertThatThrownBy(() -> Route.host("a*.example")).hasMessageContaining("a*.example");
        assertThatThrownBy(() -> Route.any().pathPrefix("api")).hasMessageContaining("api");
    }

    @Test
    void upstreamsAreValidated() {
        assertThat(Upstream.of("http://10.0.0.1:8080/base/").basePath()).isEqualTo("/base");
        assertThat(Upstream.of("http://backend").port()).isEqualTo(80);
        assertThatThrownBy(() -> Upstream.of("ftp://x")).hasMessageContaining("ftp://x");
        assertThatThrownBy(() -> Upstream.of("http://x/?q=1")).hasMessageContaining("query");
        assertThatThrownBy(() -> Upstream.of("http://x", 0)).hasMessageContaining("weight: 0");
    }

    @Test
    void headersAreCaseInsensitiveOrderedAndSplitListsOutsideQuotes() {
        HttpHeaders h = new HttpHeaders().add("Cache-Control", "max-age=1, no-cache=\"a,b\"").add("cache-control", "public");
        assertThat(h.get("CACHE-CONTROL")).isEqualTo("max-age=1, no-cache=\"a,b\"");
        assertThat(h.getTokens("Cache-Control")).containsExactly("max-age=1", "no-cache=\"a,b\"", "public");
        assertThat(h.containsToken("cache-control", "PUBLIC")).isTrue();
        h.set("Cache-Control", "no-store");
        assertThat(h.getAll("cache-control")).containsExactly("no-store");
        h.add("Authorization", "Basic secret");
        assertThat(h.toString()).doesNotContain("secret").contains("<redacted>");
    }

    @Test
    void credentialsDecodeBasicAndHideTheirToken() {
        Credentials c = Credentials.parse("Basic YWxpY2U6d29uZGVyOmxhbmQ=").orElseThrow();
        assertThat(c.basic().orElseThrow().user()).isEqualTo("alice");
        assertThat(c.basic().orElseThrow().password()).isEqualTo("wonder:land");
        assertThat(c.toString()).doesNotContain("YWxp");
        assertThat(Credentials.parse("Basic !!!").orElseThrow().basic()).isEmpty();
        assertThat(Credentials.parse("Bearer abc").orElseThrow().basic()).isEmpty();
    }

    @Test
    void cidrBlocksMatchV4V6AndMappedAddresses() throws Exception {
        assertThat(Cidr.parse("10.0.0.0/8").contains(InetAddress.getByName("10.1.2.3"))).isTrue();
        assertThat(Cidr.parse("10.0.0.0/8").contains(InetAddress.getByName("11.0.0.1"))).isFalse();
        assertThat(Cidr.parse("127.0.0.0/8").contains(InetAddress.getByName("::ffff:127.0.0.1"))).isTrue();
        assertThat(Cidr.parse("fd00::/8").contains(InetAddress.getByName("fd12::1"))).isTrue();
        assertThat(Cidr.parse("::1").contains(InetAddress.getByName("::1"))).isTrue();
        assertThat(Cidr.parse("192.168.1.128/25").contains(InetAddress.getByName("192.168.1.127"))).isFalse();
        assertThatThrownBy(() -> Cidr.parse("example.com")).hasMessageContaining("example.com");
    }

    @Test
    void accessLogFormats() {
        AccessLogEntry e = new AccessLogEntry("ab-1", Instant.ofEpochMilli(1_700_000_000_123L), Duration.ofMillis(12),
                "127.0.0.1", "alice", "GET", "http://a.example/x?q=\"1\"", "HTTP/1.1", 200, 0, 1024, "10.0.0.1:80", null,
                null, "curl/8", null, true, 1);
        assertThat(AccessLogFormats.SQUID.format(e))
                .isEqualTo("1700000000.135     12 127.0.0.1 TCP_MISS/200 1024 GET http://a.example/x?q=\"1\" alice HIER_DIRECT/10.0.0.1:80 -");
        assertThat(AccessLogFormat.combined().format(e))
                .startsWith("127.0.0.1 - alice [")
                .endsWith("] \"GET http://a.example/x?q=\\\"1\\\" HTTP/1.1\" 200 1024 \"-\" \"curl/8\" 0 12000 -");
        assertThat(AccessLogFormat.json().format(e))
                .startsWith("{\"time\":\"2023-11-14T22:13:20.123Z\",\"id\":\"ab-1\",\"duration_ms\":12,")
                .contains("\"target\":\"http://a.example/x?q=\\\"1\\\"\"", "\"user\":\"alice\"", "\"cache\":null",
                        "\"bytes_out\":1024", "\"completed\":true,\"tries\":1,\"denied\":false,\"background\":false}");
        AccessLogEntry denied = new AccessLogEntry("ab-2", Instant.ofEpochMilli(0), Duration.ZERO, "::1", null, "CONNECT",
                "a.example:25", "HTTP/1.1", 403, 0, 60, null, null, null, null, "port", true, 0, true);
        assertThat(AccessLogFormat.squid().format(denied)).contains("TCP_DENIED/403 60 CONNECT a.example:25 - HIER_NONE/- -");
    }

    /** Squid's result code for an entry: method, status, upstream, cache outcome, denied -> expected action/status. */
    @ParameterizedTest(name = "{0} {1} upstream={2} cache={3} denied={4} -> {5}")
    @CsvSource(nullValues = "null", value = {
        // refusals by the proxy, whatever the status and even after an upstream was chosen
        "GET,     403, null,       null,               true,  TCP_DENIED/403",
        "GET,     407, null,       null,               true,  TCP_DENIED/407",
        "GET,     401, null,       null,               true,  TCP_DENIED/401",
        "GET,     429, null,       null,               true,  TCP_DENIED/429",
        "GET,     403, a.test:80,  null,               true,  TCP_DENIED/403",
        "CONNECT, 403, null,       null,               true,  TCP_DENIED/403",
        "CONNECT, 407, null,       null,               true,  TCP_DENIED/407",
        // not refusals: an origin's own 403 and 429, tunnels, hits, refreshes, the proxy's own errors
        "GET,     403, a.test:80,  null,               false, TCP_MISS/403",
        "GET,     429, a.test:80,  MISS,               false, TCP_MISS/429",
        "GET,     403, null,       null,               false, NONE/403",
        "CONNECT, 200, a.test:443, null,               false, TCP_TUNNEL/200",
        "CONNECT, 502, a.test:443, null,               false, NONE/502",
        "GET,     200, null,       HIT,                false, TCP_HIT/200",
        "GET,     200, a.test:80,  REFRESH_UNMODIFIED, false, TCP_REFRESH_UNMODIFIED/200",
        "GET,     200, a.test:80,  STALE,              false, TCP_STALE_HIT/200",
        "GET,     400, null,       null,               false, NONE/400",
        "GET,     502, a.test:80,  null,               false, TCP_MISS/502",
    })
    void squidResultCodes(String method, int status, String upstream, CacheStatus cache, boolean denied, String expected) {
        AccessLogEntry e = new AccessLogEntry("ab-3", Instant.ofEpochMilli(0), Duration.ofMillis(5), "127.0.0.1", null,
                method, method.equals("CONNECT") ? "a.test:443" : "http://a.test/", "HTTP/1.1", status, 0, 10, upstream,
                cache, null, null, null, true, upstream == null ? 0 : 1, denied);
        String line = AccessLogFormat.squid().format(e);
        assertThat(line).contains(" " + expected + " 10 ");
        assertThat(line).endsWith(denied || upstream == null ? " HIER_NONE/- -" : " HIER_DIRECT/" + upstream + " -");
        assertThat(AccessLogFormat.json().format(e)).endsWith(",\"denied\":" + denied + ",\"background\":false}");
        assertThat(AccessLogFormat.combined().format(e)).endsWith("\" 0 5000 " + (denied ? "denied" : "-"));
    }

    @Test
    void aTunnelsLineCarriesBothDirectionsInEveryFormat() {
        AccessLogEntry tunnel = new AccessLogEntry("ab-4", Instant.ofEpochMilli(1_700_000_000_000L), Duration.ofMillis(2500),
                "127.0.0.1", null, "CONNECT", "a.test:443", "HTTP/1.1", 200, 1200, 34000, "a.test:443", null, null,
                "curl/8", null, true, 0, false);
        assertThat(AccessLogFormat.squid().format(tunnel))
                .isEqualTo("1700000002.500   2500 127.0.0.1 TCP_TUNNEL/200 34000 CONNECT a.test:443 - HIER_DIRECT/a.test:443 -");
        assertThat(AccessLogFormat.json().format(tunnel)).contains("\"duration_ms\":2500", "\"bytes_in\":1200",
                "\"bytes_out\":34000");
        assertThat(AccessLogFormat.combined().format(tunnel))
                .endsWith("\"CONNECT a.test:443 HTTP/1.1\" 200 34000 \"-\" \"curl/8\" 1200 2500000 -");
    }

}
