package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@link HarRecorder} through the wire: the file it leaves is HAR 1.2 that a JSON parser reads. */
class HarRecorderTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("har")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/bytes", req -> {
                MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
            })
            .serve("/headers", req -> {
                MockResponse headers = MockResponse.ok("headers");
                for (var p : req.queryParameters().entrySet()) {
                    for (String v : p.getValue()) {
                        headers = headers.header(p.getKey(), v);
                    }
                }
                return headers;
            })
            .dispatcher(req -> MockResponse.ok("origin har " + req.path()));

    private static JsonNode entry(JsonNode entries, String urlEnd) {
        for (JsonNode e : entries) {
            if (e.path("request").path("url").asText().endsWith(urlEnd)) {
                return e;
            }
        }
        throw new AssertionError("no HAR entry for " + urlEnd + " in " + entries);
    }

    private static String header(JsonNode headers, String name) {
        for (JsonNode h : headers) {
            if (h.path("name").asText().equalsIgnoreCase(name)) {
                return h.path("value").asText();
            }
        }
        return null;
    }

    @Test
    void selectedExchangesAreRecordedWithTimingsBoundedBodiesAndCredentialsRedacted(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("proxy.har");
        HarRecorder har = HarRecorder.builder(file).bodyLimit(DataSize.bytes(1000))
                .select(x -> !x.request().path().startsWith("/skip")).build();
        RecordingAccessLog lines = new RecordingAccessLog();
        try (ProxyServer proxy = ProxyServer.builder().listen(0).route(Route.any().to(UpstreamPool.of(origin.baseUrl())))
                .filter(har).accessLog(har.accessLog(lines)).build().start()) {
            HttpResponse<String> hello = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello?q=a%20b&x"))
                    .header("Authorization", "Bearer secret-token").header("Cookie", "session=s3cr3t")
                    .header("X-Trace", "t1").build(), BodyHandlers.ofString());
            assertThat(hello.body()).isEqualTo("hello");
            HttpResponse<String> cookie = Clients.direct().send(HttpRequest.newBuilder(
                    URI.create(proxy.uri() + "/headers?Set-Cookie=id%3Dsecret&Content-Type=text/plain")).build(), BodyHandlers.ofString());
            assertThat(cookie.headers().firstValue("set-cookie")).hasValue("id=secret"); // the client gets it unchanged
            HttpResponse<byte[]> big = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/bytes?n=100000")).build(),
                    BodyHandlers.ofByteArray());
            assertThat(big.body()).hasSize(100_000);
            assertThat(big.headers().firstValue("content-length")).hasValue("100000"); // the recorder changes nothing
            assertThat(Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/skip")).build(),
                    BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            for (String target : List.of("/hello", "/headers", "/bytes", "/skip")) {
                lines.take(target);
            }
        }

        JsonNode log = new ObjectMapper().readTree(file.toFile()).path("log");
        assertThat(log.path("version").asText()).isEqualTo("1.2");
        assertThat(log.path("creator").path("name").asText()).isEqualTo("Gatehouse");
        JsonNode entries = log.path("entries");
        assertThat(entries).hasSize(3);
        List<String> urls = new ArrayList<>();
        entries.forEach(e -> urls.add(e.path("request").path("url").asText()));
        assertThat(urls).noneMatch(u -> u.contains("/skip"));

        JsonNode hello = entry(entries, "/hello?q=a%20b&x");
        assertThat(hello.path("request").path("method").asText()).isEqualTo("GET");
        assertThat(header(hello.path("request").path("headers"), "Authorization")).isEqualTo("<redacted>");
        assertThat(header(hello.path("request").path("headers"), "Cookie")).isEqualTo("<redacted>");
        assertThat(header(hello.path("request").path("headers"), "X-Trace")).isEqualTo("t1");
        assertThat(header(hello.path("request").path("headers"), "Host")).startsWith("127.0.0.1:");
        assertThat(hello.path("request").path("queryString").get(0).path("value").asText()).isEqualTo("a b");
        assertThat(hello.path("request").path("queryString").get(1).path("name").asText()).isEqualTo("x");
        assertThat(hello.path("response").path("status").asInt()).isEqualTo(200);
        assertThat(hello.path("response").path("content").path("text").asText()).isEqualTo("hello");
        assertThat(hello.path("response").path("content").path("size").asLong()).isEqualTo(5);
        assertThat(hello.toString()).doesNotContain("secret-token").doesNotContain("s3cr3t");
        JsonNode t = hello.path("timings");
        long sum = 0;
        for (String phase : List.of("blocked", "dns", "connect", "send", "wait", "receive")) {
            long v = t.path(phase).asLong();
            assertThat(v).as(phase).isGreaterThanOrEqualTo(-1);
            sum += Math.max(0, v);
        }
        assertThat(sum).isEqualTo(hello.path("time").asLong());
        assertThat(hello.path("startedDateTime").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");

        JsonNode setCookie = entry(entries, "/headers?Set-Cookie=id%3Dsecret&Content-Type=text/plain");
        assertThat(header(setCookie.path("response").path("headers"), "Set-Cookie")).isEqualTo("<redacted>");
        assertThat(setCookie.path("response").path("content").path("text").asText()).isEqualTo("headers");

        JsonNode bytes = entry(entries, "/bytes?n=100000");
        JsonNode content = bytes.path("response").path("content");
        assertThat(content.path("size").asLong()).isEqualTo(100_000);
        assertThat(content.path("encoding").asText()).isEqualTo("base64");
        assertThat(java.util.Base64.getDecoder().decode(content.path("text").asText())).hasSize(1000);
        assertThat(content.path("_truncated").asBoolean()).isTrue();
        assertThat(bytes.path("_upstream").asText()).isEqualTo("127.0.0.1:" + origin.port());
    }
}
