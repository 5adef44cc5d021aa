package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A forward proxy must not be a way into the proxy host itself or the link-local network. */
class InternalDestinationTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("internal")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin internal " + req.path()));

    private static RawHttp.Reply get(ProxyServer proxy, String hostPort) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET http://" + hostPort + "/hello HTTP/1.1\r\nHost: " + hostPort
                + "\r\nConnection: close\r\n\r\n");
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "localhost", "127.1", "2130706433", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "127.0.0.2"})
    void loopbackSpellingsAreDeniedByDefault(String host) throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().build().start()) {
            RawHttp.Reply reply = get(proxy, host + ":" + origin.port());

            assertThat(reply.status()).as(reply.bodyText()).isIn(403, 400);
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void deniedDestinationSaysWhyWithProxyStatus() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().build().start()) {
            RawHttp.Reply reply = get(proxy, "127.0.0.1:" + origin.port());

            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("internal destination");
            assertThat(reply.headers().get("proxy-status")).contains("error=destination_ip_prohibited");
        }
    }

    @Test
    void metadataAddressIsDeniedWithoutAnyConnection() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().build().start()) {
            assertThat(get(proxy, "169.254.169.254:80").status()).isEqualTo(403);
        }
    }

    @Test
    void anAllowedDestinationIsExactlyThatAddressAndPort() throws Exception {
        try (MockOrigin other = MockOrigin.named("other")
                .serve("/hello", MockResponse.ok("hello"))
                .dispatcher(req -> MockResponse.ok("origin other " + req.path())).start();
                ProxyServer proxy = ProxyServer.builder().forward()
                        .allowInternalDestination("127.0.0.1:" + origin.port()).build().start()) {
            assertThat(get(proxy, "127.0.0.1:" + origin.port()).status()).isEqualTo(200);
            assertThat(get(proxy, "127.0.0.1:" + other.port()).status()).isEqualTo(403);
            assertThat(other.requestCount()).isZero();
        }
    }

    @Test
    void connectToTheProxyHostIsDenied() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().connectPorts(origin.port()).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "CONNECT localhost:" + origin.port() + " HTTP/1.1\r\nHost: localhost:"
                    + origin.port() + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.headers().get("proxy-status")).contains("error=destination_ip_prohibited");
        }
    }
}
