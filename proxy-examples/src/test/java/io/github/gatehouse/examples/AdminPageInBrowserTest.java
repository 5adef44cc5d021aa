package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import java.io.File;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real browser: headless Chromium (Debian's {@code chromium}) loads it the way an operator would,
 * through {@code /login?token=}, and the DOM it built must show the member drained through the API as drained. The
 * test also takes the README's screenshot: {@code target/admin-page.png}, copied to {@code docs/admin-page.png} when
 * run with {@code -Dgatehouse.updateScreenshot=true}. Skipped when no Chromium is installed.
 */
class AdminPageInBrowserTest {
    @RegisterExtension
    static final MockOrigin a = MockOrigin.named("a")
            .serve("/status", req -> {
                MockResponse status = MockResponse.status(Integer.parseInt(req.queryParameter("code").orElseThrow()));
                return req.queryParameter("etag").map(etag -> status.header("ETag", etag)).orElse(status);
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
            .dispatcher(req -> MockResponse.ok("origin a " + req.path()));
    @RegisterExtension
    static final MockOrigin b = MockOrigin.named("b")
            .serve("/status", req -> {
                MockResponse status = MockResponse.status(Integer.parseInt(req.queryParameter("code").orElseThrow()));
                return req.queryParameter("etag").map(etag -> status.header("ETag", etag)).orElse(status);
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
            .dispatcher(req -> MockResponse.ok("origin b " + req.path()));

    private static final String TOKEN = "browser-test-token-0123456789";

    @Test
    void aMemberDrainedThroughTheApiShowsAsDrainedOnThePageInChromium(@TempDir Path profile) throws Exception {
        Path chromium = chromium();
        assumeTrue(chromium != null, "no chromium on this machine (apt-get install -y chromium)");
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        String deadUrl = "http://127.0.0.1:" + dead;
        try (ProxyServer proxy = ProxyServer.builder().accessLog(AccessLog.off())
                .route(Route.host("127.0.0.1").pathPrefix("/api").to(UpstreamPool.of(a.baseUrl(), b.baseUrl(), deadUrl)))
                .route(Route.any().to(UpstreamPool.of(b.baseUrl())))
                .cache(HttpCaches.memory(DataSize.mebibytes(64))).build().start();
                AdminServer admin = AdminServer.builder(proxy).port(0).token(TOKEN).build().start()) {
            HttpClient http = Clients.direct();
            for (int i = 0; i < 18; i++) { // the dead member fails 6 in a row: ejected
                http.send(HttpRequest.newBuilder(proxy.uri().resolve("/api/item/" + i)).build(),
                        BodyHandlers.discarding());
                http.send(HttpRequest.newBuilder(proxy.uri().resolve("/headers?Cache-Control=max-age%3D60&n=" + (i % 4))).build(),
                        BodyHandlers.discarding());
            }
            http.send(HttpRequest.newBuilder(proxy.uri().resolve("/status?code=503")).build(), BodyHandlers.discarding());
            HttpResponse<String> drained = http.send(HttpRequest.newBuilder(admin.uri().resolve("/api/members/drain?member=" + a.baseUrl()))
                    .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    BodyHandlers.ofString());
            assertThat(drained.statusCode()).isEqualTo(200);

            String login = admin.uri() + "/login?token=" + TOKEN;
            String dom = run(chromium, profile, "--dump-dom", login);
            assertThat(dom).contains("<title>Gatehouse ").contains("Route 1: 127.0.0.1/api");
            assertThat(memberState(dom, a.baseUrl())).isEqualTo("drained");
            assertThat(memberState(dom, b.baseUrl())).isEqualTo("up");
            assertThat(memberState(dom, deadUrl)).isEqualTo("ejected");
            assertThat(dom).contains("<table id=\"errors\">").contains("/status?code=503</td>");
            assertThat(cellOf(dom, a.baseUrl())).contains(">drained</td>");
            assertThat(dom).contains("<table id=\"cache\">");

            Path png = Path.of("target", "admin-page.png").toAbsolutePath();
            Files.deleteIfExists(png);
            run(chromium, profile, "--screenshot=" + png, "--window-size=1180,900", "--hide-scrollbars", login);
            byte[] bytes = Files.readAllBytes(png);
            assertThat(bytes.length).isGreaterThan(10_000);
            assertThat(new String(bytes, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
            if (Boolean.getBoolean("gatehouse.updateScreenshot")) {
                Path docs = Path.of("..", "docs");
                Files.createDirectories(docs);
                Files.copy(png, docs.resolve("admin-page.png"), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** The {@code data-state} of the member row for {@code url}. */
    private static String memberState(String dom, String url) {
        Matcher m = Pattern.compile("data-member=\"" + Pattern.quote(url) + "\" data-state=\"([a-z]+)\"").matcher(dom);
        assertThat(m.find()).as("row of " + url + " in\n" + dom).isTrue();
        return m.group(1);
    }

    private static String cellOf(String dom, String url) {
        int at = dom.indexOf("data-member=\"" + url + "\"");
        return dom.substring(at, dom.indexOf("</tr>", at));
    }

    /** Runs headless Chromium; returns what it wrote to standard output. */
    private static String run(Path chromium, Path profile, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--user-data-dir=" + profile));
        command.addAll(List.of(args));
        File log = profile.resolveSibling(profile.getFileName() + "-chromium.log").toFile();
        Process p = new ProcessBuilder(command).redirectError(log).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        assertThat(ended).as("chromium ended").isTrue();
        assertThat(p.exitValue()).as("chromium exit status; its log: " + log).isZero();
        return out;
    }

    private static Path chromium() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }
}
