package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.Clients;
import io.github.gatehouse.core.testing.OriginServer;
import io.github.gatehouse.core.testing.RawHttp;
import io.github.gatehouse.core.testing.RecordingAccessLog;
import io.github.gatehouse.core.testing.TestCertificates;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ConnectTunnelTest {
    static OriginServer tlsOrigin;
    static ProxyServer proxy;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();

    @BeforeAll
    static void start() throws Exception {
        tlsOrigin = OriginServer.tls("tls", TestCertificates.keyStore()).start();
        proxy = ProxyServer.builder().forward().allowInternalDestinations().connectPorts(tlsOrigin.port()).accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        tlsOrigin.stop();
    }

    @org.junit.jupiter.api.BeforeEach
    void clearLog() {
        accessLog.clear();
    }

    @Test
    void httpsThroughConnectTunnelReachesTheTlsOrigin() throws Exception {
        HttpResponse<String> response = Clients.throughProxy(proxy.port(), TestCertificates.trustingTestCertificate())
                .send(HttpRequest.newBuilder(tlsOrigin.uri("/hello")).build(), BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello");
        assertThat(tlsOrigin.takeRequest().target()).isEqualTo("/hello");
        AccessLogEntry entry = accessLog.take("127.0.0.1:" + tlsOrigin.port());
        assertThat(entry.method()).isEqualTo("CONNECT");
        assertThat(entry.status()).isEqualTo(200);
        assertThat(entry.target()).isEqualTo("127.0.0.1:" + tlsOrigin.port());
    }

    @Test
    void connectToAPortNotAllowedIs403BeforeDialling() throws Exception {
        try (OriginServer other = OriginServer.create("other").start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "CONNECT 127.0.0.1:" + other.port() + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + other.port() + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("port " + other.port() + " is not allowed");
            assertThat(other.requestCount()).isZero();
        }
    }

    @Test
    void connectToAClosedPortIs502() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (ProxyServer p = ProxyServer.builder().forward().allowInternalDestinations().connectPorts(closed).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(p.port(), "CONNECT 127.0.0.1:" + closed + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + closed + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(502);
            assertThat(reply.headers().get("proxy-status")).contains("error=connection_refused");
        }
    }

    @Test
    void reverseOnlyProxyRefusesConnect() throws Exception {
        try (ProxyServer reverse = ProxyServer.builder().route(Route.any().to(tlsOrigin.baseUrl())).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(reverse.port(), "CONNECT 127.0.0.1:" + tlsOrigin.port() + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + tlsOrigin.port() + "\r\n\r\n");

            assertThat(reply.status()).isEqualTo(405);
        }
    }
}
