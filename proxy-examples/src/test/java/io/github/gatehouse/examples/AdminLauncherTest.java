package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's --admin-* flags. */
class AdminLauncherTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("admin-launch")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin admin-launch " + req.path()));

    @Test
    void adminPortZeroPrintsTheAdminLineAndAGeneratedTokenThatTheApiAccepts() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Gatehouse.Launched launched = Gatehouse.launch(new String[] {"reverse", "--port", "0", "--upstream",
            origin.baseUrl(), "--admin-port", "0", "--access-log", "off"}, new PrintStream(bytes, true, StandardCharsets.UTF_8))) {
            String out = bytes.toString(StandardCharsets.UTF_8);
            Matcher line = Pattern.compile("gatehouse admin listening on (http://127\\.0\\.0\\.1:(\\d+))\n").matcher(out);
            assertThat(line.find()).as(out).isTrue();
            assertThat(Integer.parseInt(line.group(2))).isEqualTo(launched.admin().port()).isNotEqualTo(launched.proxy().port());
            Matcher token = Pattern.compile("gatehouse admin token ([A-Za-z0-9_-]{43}) \\(generated").matcher(out);
            assertThat(token.find()).as(out).isTrue();
            assertThat(out.indexOf("gatehouse listening on")).isLessThan(out.indexOf("gatehouse admin listening on"));

            URI stats = URI.create(line.group(1) + "/api/stats");
            assertThat(Clients.direct().send(HttpRequest.newBuilder(stats).build(), BodyHandlers.ofString()).statusCode())
                    .isEqualTo(401);
            Clients.direct().send(HttpRequest.newBuilder(launched.proxy().uri().resolve("/hello")).build(), BodyHandlers.ofString());
            HttpResponse<String> ok = Clients.direct().send(HttpRequest.newBuilder(stats)
                    .header("Authorization", "Bearer " + token.group(1)).build(), BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).contains("\"url\":\"" + origin.baseUrl() + "\",\"state\":\"up\"");
            HttpResponse<String> metrics = Clients.direct().send(HttpRequest.newBuilder(URI.create(line.group(1) + "/metrics"))
                    .header("Authorization", "Bearer " + token.group(1)).build(), BodyHandlers.ofString());
            assertThat(metrics.body()).contains("gatehouse_upstream_available{member=\"" + origin.baseUrl() + "\",route=\"*/\"} 1.0").contains("jvm_memory_used_bytes")
                    .contains("process_uptime_seconds");
        }
    }

    @Test
    void aTokenFromAFileIsUsedAndNotPrinted(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "file-token-0123456789abcdef\n");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Gatehouse.Launched launched = Gatehouse.launch(new String[] {"forward", "--port", "0", "--admin-port", "0",
            "--admin-token-file", file.toString(), "--admin-allow", "127.0.0.0/8"}, new PrintStream(bytes, true, StandardCharsets.UTF_8))) {
            assertThat(bytes.toString(StandardCharsets.UTF_8)).doesNotContain("file-token").doesNotContain("admin token");
            assertThat(launched.admin().token()).isEqualTo("file-token-0123456789abcdef");
            HttpResponse<String> page = Clients.direct().send(HttpRequest.newBuilder(launched.admin().uri().resolve("/"))
                    .header("Authorization", "Bearer file-token-0123456789abcdef").build(), BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("no reverse routes (forward proxy)");
        }
    }

    @Test
    void badAdminFlagsAreExplained() {
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--admin-token", "0123456789abcdef"))
                .hasMessageContaining("need --admin-port N");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--admin-port", "0", "--admin-token", "short"))
                .hasMessageContaining("at least 16");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--port", "9000", "--admin-port", "9000"))
                .hasMessageContaining("is the proxy's own port");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--admin-port", "0", "--admin-allow", "10.0.0.0/99"))
                .hasMessageContaining("--admin-allow");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--admin-port", "70000")).hasMessageContaining("--admin-port");
        assertThat(LauncherOptions.usage()).contains("--admin-port N").contains("--admin-token TOKEN")
                .contains("--admin-allow CIDR").contains("--admin-bind ADDRESS");
    }
}
