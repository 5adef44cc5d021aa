package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Slow or greedy clients are bounded while other clients keep being served. */
class ResourceLimitsTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("limits");

    @org.junit.jupiter.api.BeforeEach
    void answerHello() {
        origin.dispatcher(r -> MockResponse.ok("hello"));
    }

    @Test
    void aClientThatNeverFinishesItsRequestHeadIsDisconnected() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(origin.baseUrl()))
                .requestHeadTimeout(Duration.ofMillis(300)).idleTimeout(Duration.ofSeconds(30)).build().start();
                Socket slow = new Socket("127.0.0.1", proxy.port())) {
            slow.setSoTimeout(10_000);
            slow.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            slow.getOutputStream().flush();

            assertThat(RawHttp.exchange(proxy.port(), "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").bodyText())
                    .isEqualTo("hello");
            InputStream in = slow.getInputStream();
            assertThat(in.read()).isEqualTo(-1);
            assertThat(origin.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void aKeptAliveConnectionMustSendItsNextHeadInTimeToo() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(origin.baseUrl()))
                .requestHeadTimeout(Duration.ofMillis(300)).build().start();
                Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
            byte[] all = socket.getInputStream().readAllBytes();
            String text = new String(all, StandardCharsets.US_ASCII);
            assertThat(text).startsWith("HTTP/1.1 200").contains("hello");
            assertThat(text.split("HTTP/1.1 200", -1)).hasSize(2);
        }
    }
}
