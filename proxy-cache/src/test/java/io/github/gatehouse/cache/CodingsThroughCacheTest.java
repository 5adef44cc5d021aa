package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The cache stores the representation the origin sent, under the origin's {@code Vary}, and serves the same bytes
 * on a hit as on the miss: a gzip body stays gzip with its {@code Content-Length} and {@code ETag}, an identity
 * body stays identity.
 */
class CodingsThroughCacheTest {
    private static final byte[] PLAIN = "cached codings stay as the origin sent them. ".repeat(100).getBytes(StandardCharsets.UTF_8);
    private static final byte[] GZIP = gzip(PLAIN);

    private final RecordingAccessLog log = new RecordingAccessLog();
    private RawOrigin origin;
    private SharedCache cache;
    private ProxyServer proxy;

    private static byte[] gzip(byte[] bytes) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
                gz.write(bytes);
            }
            return out.toByteArray();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        cache.close();
        origin.close();
    }

    private RawHttp.Reply get(boolean forward, String acceptEncoding) throws Exception {
        String target = forward ? origin.baseUrl() + "/doc" : "/doc";
        String host = forward ? "127.0.0.1:" + origin.port() : "site.test";
        String ae = acceptEncoding == null ? "" : "Accept-Encoding: " + acceptEncoding + "\r\n";
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + ae
                + "Connection: close\r\n\r\n");
        log.take(); // written once the cache has stored what it stores
        return reply;
    }

    @ParameterizedTest(name = "forward={0}")
    @ValueSource(booleans = {true, false})
    void hitsServeTheOriginsBytesForEachCoding(boolean forward) throws Exception {
        origin = RawOrigin.start(head -> {
            boolean gz = head.toLowerCase(java.util.Locale.ROOT).contains("\r\naccept-encoding: gzip");
            byte[] body = gz ? GZIP : PLAIN;
            return RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\n"
                    + "Vary: Accept-Encoding\r\n" + (gz ? "Content-Encoding: gzip\r\nETag: \"v1-gzip\"\r\n" : "ETag: \"v1\"\r\n")
                    + "Content-Length: " + body.length + "\r\n\r\n", body);
        });
        cache = HttpCaches.builder().memory(DataSize.mebibytes(4)).build();
        ProxyServer.Builder b = ProxyServer.builder().cache(cache).accessLog(log);
        proxy = (forward ? b.forward().allowAllInternalDestinations() : b.route(Route.any().to(io.github.gatehouse.core.UpstreamPool.of("http://127.0.0.1:" + origin.port()))))
                .build().start();

        RawHttp.Reply miss = get(forward, "gzip");
        RawHttp.Reply hit = get(forward, "gzip");
        RawHttp.Reply plainMiss = get(forward, null);
        RawHttp.Reply plainHit = get(forward, null);

        for (RawHttp.Reply r : new RawHttp.Reply[] {miss, hit}) {
            assertThat(r.headers().get("content-encoding")).isEqualTo("gzip");
            assertThat(r.headers().get("content-length")).isEqualTo(Integer.toString(GZIP.length));
            assertThat(r.headers().get("etag")).isEqualTo("\"v1-gzip\"");
            assertThat(r.headers()).doesNotContainKey("transfer-encoding");
            assertThat(sha256(r.body())).isEqualTo(sha256(GZIP));
        }
        for (RawHttp.Reply r : new RawHttp.Reply[] {plainMiss, plainHit}) {
            assertThat(r.headers()).doesNotContainKey("content-encoding");
            assertThat(r.headers().get("etag")).isEqualTo("\"v1\"");
            assertThat(sha256(r.body())).isEqualTo(sha256(PLAIN));
        }
        assertThat(hit.headers().get("cache-status")).contains("hit");
        assertThat(plainHit.headers().get("cache-status")).contains("hit");
        assertThat(origin.takeHead()).containsIgnoringCase("Accept-Encoding: gzip");
        assertThat(origin.takeHead()).doesNotContainIgnoringCase("Accept-Encoding");
        assertThat(origin.pendingHeads()).isZero();
    }
}
