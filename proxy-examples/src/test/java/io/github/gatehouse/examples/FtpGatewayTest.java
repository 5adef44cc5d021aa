package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.HostRules;
import java.io.File;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.ftpserver.FtpServer;
import org.apache.ftpserver.FtpServerFactory;
import org.apache.ftpserver.impl.DefaultFtpServer;
import org.apache.ftpserver.listener.ListenerFactory;
import org.apache.ftpserver.usermanager.PropertiesUserManagerFactory;
import org.apache.ftpserver.usermanager.impl.BaseUser;
import org.apache.ftpserver.ftplet.UserManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The FTP gateway through the wire: a real FTP server (Apache MINA FtpServer) on an ephemeral loopback port with a
 * temporary directory, the proxy in forward mode with a cache and a host rule, and java.net.http and curl sending
 * {@code GET ftp://...} to it as to any HTTP proxy.
 */
class FtpGatewayTest {
    @TempDir
    static Path root;
    static FtpServer ftpServer;
    static int ftpPort;
    static ProxyServer proxy;
    static SharedCache cache;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static byte[] big;
    static final Instant MODIFIED = Instant.parse("2024-03-01T12:00:00Z");

    @BeforeAll
    static void start() throws Exception {
        Path home = Files.createDirectories(root.resolve("home"));
        Files.writeString(home.resolve("hello.txt"), "hello over ftp\n");
        Files.setLastModifiedTime(home.resolve("hello.txt"), FileTime.from(MODIFIED));
        big = new byte[3 * 1024 * 1024 + 17];
        new Random(7).nextBytes(big);
        Files.write(home.resolve("big.bin"), big);
        Files.writeString(home.resolve("cached.txt"), "hello over ftp\n");
        Files.setLastModifiedTime(home.resolve("cached.txt"), FileTime.from(MODIFIED));
        Path pub = Files.createDirectories(home.resolve("pub"));
        Files.writeString(pub.resolve("<b>&odd name.txt"), "odd");
        Files.createDirectories(pub.resolve("sub dir"));
        Path secret = Files.createDirectories(root.resolve("alice"));
        Files.writeString(secret.resolve("private.txt"), "for alice only");
        // old enough for days of heuristic freshness: only the gateway's private marking keeps it out of the cache
        Files.setLastModifiedTime(secret.resolve("private.txt"), FileTime.from(MODIFIED));

        FtpServerFactory factory = new FtpServerFactory();
        ListenerFactory listener = new ListenerFactory();
        listener.setServerAddress("127.0.0.1");
        listener.setPort(0);
        factory.addListener("default", listener.createListener());
        PropertiesUserManagerFactory users = new PropertiesUserManagerFactory();
        users.setFile(Files.createFile(root.resolve("users.properties")).toFile());
        UserManager manager = users.createUserManager();
        BaseUser anonymous = new BaseUser();
        anonymous.setName("anonymous");
        anonymous.setHomeDirectory(home.toString());
        manager.save(anonymous);
        BaseUser alice = new BaseUser();
        alice.setName("alice");
        alice.setPassword("s3cret");
        alice.setHomeDirectory(secret.toString());
        manager.save(alice);
        factory.setUserManager(manager);
        ftpServer = factory.createServer();
        ftpServer.start();
        ftpPort = ((DefaultFtpServer) ftpServer).getListener("default").getPort();

        cache = HttpCaches.memory(DataSize.mebibytes(16));
        proxy = ProxyServer.builder().forward().ftpGateway().allowAllInternalDestinations().cache(cache)
                .filter(HostRules.deny("blocked.test")).accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (ftpServer != null) {
            ftpServer.stop();
        }
    }

    @BeforeEach
    void clear() {
        accessLog.clear();
    }

    private static URI ftp(String path) {
        return URI.create("ftp://127.0.0.1:" + ftpPort + path);
    }

    /**
     * {@code GET uri} through the proxy as browsers send it (absolute form, {@code Connection: close}), over a raw
     * socket: java.net.http refuses {@code ftp://} URIs ("invalid URI scheme ftp"), so it cannot be the client here.
     */
    private static RawHttp.Reply get(URI uri, String... headers) throws Exception {
        return get(proxy, uri, headers);
    }

    private static RawHttp.Reply get(ProxyServer p, URI uri, String... headers) throws Exception {
        StringBuilder request = new StringBuilder("GET ").append(uri).append(" HTTP/1.1\r\nHost: ")
                .append(uri.getRawAuthority().replaceFirst(".*@", "")).append("\r\nConnection: close\r\n");
        for (int i = 0; i < headers.length; i += 2) {
            request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
        }
        return RawHttp.exchange(p.port(), request.append("\r\n").toString());
    }

    @Test
    void aFileComesBackAsA200WithLengthTypeAndLastModifiedAndIsLogged() throws Exception {
        RawHttp.Reply r = get(ftp("/hello.txt"));

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("hello over ftp\n");
        assertThat(r.headers()).containsEntry("content-length", "15").containsEntry("content-type", "text/plain")
                .containsEntry("last-modified", "Fri, 01 Mar 2024 12:00:00 GMT").containsKey("via");
        AccessLogEntry entry = accessLog.take("/hello.txt");
        assertThat(entry.status()).isEqualTo(200);
        assertThat(AccessLogFormat.squid().format(entry)).contains("GET ftp://127.0.0.1:" + ftpPort + "/hello.txt");
    }

    @Test
    void aLargeFileStreamsWhole() throws Exception {
        RawHttp.Reply r = get(ftp("/big.bin"));

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers()).containsEntry("content-length", Integer.toString(big.length));
        assertThat(MessageDigest.getInstance("SHA-256").digest(r.body()))
                .isEqualTo(MessageDigest.getInstance("SHA-256").digest(big));
    }

    @Test
    void aDirectoryIsAnHtmlListingWithEscapedNamesAndLinks() throws Exception {
        RawHttp.Reply r = get(ftp("/pub/"));
        String page = r.bodyText();

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers()).containsEntry("content-type", "text/html; charset=utf-8");
        assertThat(page).contains("<title>Index of /pub/</title>", "<a href=\"../\">../</a>",
                "<a href=\"sub%20dir/\">sub dir/</a>",
                "<a href=\"%3Cb%3E%26odd%20name.txt\">&lt;b&gt;&amp;odd name.txt</a>")
                .doesNotContain("<b>&odd");
        RawHttp.Reply moved = get(ftp("/pub"));
        assertThat(moved.status()).as("a directory without its slash").isEqualTo(301);
        assertThat(moved.headers()).containsEntry("location", ftp("/pub/").toString());
    }

    @Test
    void aMissingFileIs404AndAnInternalDestinationOrBlacklistedHostIs403() throws Exception {
        RawHttp.Reply missing = get(ftp("/nothing-here.txt"));
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.headers().get("proxy-status")).contains("error=destination_not_found");

        try (ProxyServer strict = ProxyServer.builder().forward().ftpGateway().accessLog(accessLog).build().start()) {
            RawHttp.Reply r = get(strict, ftp("/hello.txt"));
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.bodyText()).contains("internal destination");
            assertThat(r.headers().get("proxy-status")).contains("destination_ip_prohibited");
        }
        RawHttp.Reply blocked = get(URI.create("ftp://blocked.test/file"));
        assertThat(blocked.status()).isEqualTo(403);
        assertThat(blocked.bodyText()).contains("blocked.test");
        try (ProxyServer off = ProxyServer.builder().forward().allowAllInternalDestinations().accessLog(accessLog).build()
                .start()) {
            assertThat(get(off, ftp("/hello.txt")).status()).as("without ftpGateway()").isEqualTo(400);
        }
    }

    @Test
    void credentialsComeFromTheUrlOrAuthorizationAndAFailedLoginIs401() throws Exception {
        RawHttp.Reply basic = get(ftp("/private.txt"), "Authorization",
                "Basic " + java.util.Base64.getEncoder().encodeToString("alice:s3cret".getBytes(StandardCharsets.UTF_8)));
        assertThat(basic.status()).isEqualTo(200);
        assertThat(basic.bodyText()).isEqualTo("for alice only");

        assertThat(basic.headers()).containsEntry("cache-control", "private");
        RawHttp.Reply inUrl = get(URI.create("ftp://alice:s3cret@127.0.0.1:" + ftpPort + "/private.txt"));
        assertThat(inUrl.status()).isEqualTo(200);
        assertThat(inUrl.headers()).as("no Authorization field, still alice's").containsEntry("cache-control", "private")
                .doesNotContainKey("age");
        for (int line = 0; line < 2; line++) { // the Authorization request's line and the user-info one
            String logged = AccessLogFormat.squid().format(accessLog.take("/private.txt"));
            assertThat(logged).contains("GET ftp://127.0.0.1:" + ftpPort + "/private.txt").doesNotContain("s3cret");
        }

        RawHttp.Reply httpUserInfo = get(URI.create("http://alice:s3cret@127.0.0.1:" + ftpPort + "/"));
        assertThat(httpUserInfo.status()).as("user info stays refused in http URLs").isEqualTo(400);

        RawHttp.Reply wrong = get(ftp("/private.txt"), "Authorization",
                "Basic " + java.util.Base64.getEncoder().encodeToString("alice:nope".getBytes(StandardCharsets.UTF_8)));
        assertThat(wrong.status()).as("never alice's file from the shared cache").isEqualTo(401);
        assertThat(wrong.headers().get("www-authenticate")).startsWith("Basic realm=\"FTP ");
        assertThat(get(ftp("/private.txt")).status()).as("anonymous, after alice fetched it").isEqualTo(404);
    }

    @Test
    void aFileWithLastModifiedIsCachedByHeuristicFreshness() throws Exception {
        URI uri = ftp("/cached.txt"); // a file of its own, so the other tests do not fill its entry
        assertThat(get(uri).headers()).doesNotContainKey("age");
        // the first line may be written after the client has read the whole body: take it, then the second one
        assertThat(AccessLogFormat.squid().format(accessLog.take("/cached.txt"))).contains("TCP_MISS/200");
        RawHttp.Reply second = get(uri);
        assertThat(second.status()).isEqualTo(200);
        assertThat(second.bodyText()).isEqualTo("hello over ftp\n");
        assertThat(second.headers()).containsKey("age");
        assertThat(AccessLogFormat.squid().format(accessLog.take("/cached.txt"))).contains("HIT");
    }

    @Test
    void theJdkFtpUrlConnectionThroughAnHttpProxyGetsTheFile() throws Exception {
        // java.net's own ftp: handler sends GET ftp://... to an HTTP proxy
        java.net.URLConnection c = ftp("/hello.txt").toURL().openConnection(new java.net.Proxy(java.net.Proxy.Type.HTTP,
                new java.net.InetSocketAddress("127.0.0.1", proxy.port())));
        try (java.io.InputStream in = c.getInputStream()) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("hello over ftp\n");
        }
    }

    @Test
    void curlFetchesAFileAndAListingThroughTheProxy() throws Exception {
        String curl = findCurl();
        assumeTrue(curl != null, "curl is not installed");
        assertThat(run(curl, "--proxy", "http://127.0.0.1:" + proxy.port(), ftp("/hello.txt").toString()))
                .isEqualTo("hello over ftp\n");
        assertThat(run(curl, "--proxy", "http://127.0.0.1:" + proxy.port(),
                "ftp://alice:s3cret@127.0.0.1:" + ftpPort + "/private.txt")).isEqualTo("for alice only");
        AccessLogEntry entry = accessLog.take("/private.txt");
        assertThat(AccessLogFormat.squid().format(entry)).doesNotContain("s3cret");
        assertThat(run(curl, "--proxy", "http://127.0.0.1:" + proxy.port(), ftp("/pub/").toString()))
                .contains("Index of /pub/");
    }

    private static String findCurl() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            File f = new File(dir, "curl");
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        return null;
    }

    private static String run(String curl, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(curl, "-q", "-sS", "--max-time", "20"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("curl %s: %s", cmd, out).isZero();
        return out;
    }
}
