package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.MutableClock;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The privacy rules of {@link PrivacyThroughProxyTest} in front of a reverse route. */
class ReverseProxyPrivacyTest {
    private final MutableClock clock = MutableClock.atWholeSecond();
    private final RecordingAccessLog log = new RecordingAccessLog();
    private MockOrigin origin;
    private SharedCache cache;
    private ProxyServer proxy;

    private void start(UnaryOperator<HttpCaches.Builder> config) throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        cache = config.apply(HttpCaches.builder().memory(DataSize.mebibytes(4)).clock(clock)).build();
        proxy = ProxyServer.builder().route(Route.host("shop.test").to(UpstreamPool.of("http://127.0.0.1:" + origin.port())))
                .cache(cache).accessLog(log).build().start();
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        cache.close();
        origin.close();
    }

    /** Sends a request and waits for its access log line (written once the cache stored what it stores). */
    private RawHttp.Reply send(String requestLine, String... lines) throws Exception {
        StringBuilder sb = new StringBuilder(requestLine + " HTTP/1.1\r\nHost: shop.test\r\n");
        for (String l : lines) {
            sb.append(l).append("\r\n");
        }
        int blank = sb.indexOf("\r\n\r\n");
        String request = blank >= 0 ? sb.toString() : sb.append("Connection: close\r\n\r\n").toString();
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), request);
        log.take();
        return reply;
    }

    @Test
    void aHitNeverRepeatsTheFillingClientsCookie() throws Exception {
        start(b -> b);
        origin.serve("/home", MockResponse.ok().body("home").header("Cache-Control", "public, max-age=60").header("Set-Cookie", "sid=alice"));
        assertThat(send("GET /home").headers().get("set-cookie")).isEqualTo("sid=alice");
        RawHttp.Reply hit = send("GET /home", "Cookie: sid=bob");
        assertThat(hit.bodyText()).isEqualTo("home");
        assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(hit.headers()).doesNotContainKey("set-cookie");
        assertThat(origin.requestCount("/home")).isEqualTo(1);
    }

    @Test
    void replayingIsAnOptIn() throws Exception {
        start(b -> b.replaySetCookie(true));
        origin.serve("/home", MockResponse.ok().body("home").header("Cache-Control", "public, max-age=60").header("Set-Cookie", "lang=en"));
        send("GET /home");
        RawHttp.Reply hit = send("GET /home");
        assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(hit.headers().get("set-cookie")).isEqualTo("lang=en");
    }

    @Test
    void aFatGetReachesTheOriginAndIsNeverStored() throws Exception {
        start(b -> b);
        origin.serve("/f", r -> MockResponse.ok().body(r.headers().get("Content-Length") != null ? "poison" : "clean")
                .header("Cache-Control", "max-age=60"));
        RawHttp.Reply fat = send("GET /f", "Content-Length: 1", "Connection: close", "", "x");
        assertThat(fat.bodyText()).isEqualTo("poison");
        assertThat(fat.headers().get("cache-status")).isEqualTo("gatehouse; fwd=bypass; fwd-status=200; detail=request-body");
        assertThat(send("GET /f").bodyText()).isEqualTo("clean");
        assertThat(origin.requestCount("/f")).isEqualTo(2);
        assertThat(send("GET /f", "Content-Length: 1", "Connection: close", "", "x").bodyText()).isEqualTo("poison");
        assertThat(origin.requestCount("/f")).isEqualTo(3);
        RawHttp.Reply hit = send("GET /f");
        assertThat(hit.bodyText()).isEqualTo("clean");
        assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(origin.requestCount("/f")).isEqualTo(3);
    }
}
