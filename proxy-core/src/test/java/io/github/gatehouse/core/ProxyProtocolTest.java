package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PROXY protocol v1 and v2 through the wire: a raw socket sends the header and a request; the address it carries is
 * the client the origin ({@code X-Forwarded-For}) and the access log see. From an untrusted source the header is
 * not honoured: the connection gets 400 and is closed, and nothing reaches the origin.
 */
class ProxyProtocolTest {
    static final MockOrigin origin = MockOrigin.named("origin")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin origin " + req.path()));
    static ProxyServer trusting;
    static ProxyServer distrusting;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();

    @BeforeAll
    static void start() throws Exception {
        origin.start();
        trusting = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).proxyProtocolFrom("127.0.0.0/8")
                .accessLog(accessLog).build().start();
        distrusting = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).proxyProtocolFrom("10.0.0.0/8")
                .accessLog(accessLog).build().start();
    }

    @AfterAll
    static void stop() throws Exception {
        trusting.close();
        distrusting.close();
        origin.close();
    }

    @BeforeEach
    void clear() {
        accessLog.clear();
    }

    private static final String REQUEST = "GET /hello HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n";

    @Test
    void aV1HeaderFromATrustedSourceSetsTheClientAddress() throws Exception {
        String header = "PROXY TCP4 203.0.113.7 127.0.0.1 40001 " + trusting.port() + "\r\n";
        String response = send(trusting, concat(ascii(header), ascii(REQUEST)));

        assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(origin.takeRequest().headers().get("X-Forwarded-For")).isEqualTo("203.0.113.7");
        assertThat(accessLog.take("/hello").clientAddress()).isEqualTo("203.0.113.7");
    }

    @Test
    void aV2HeaderFromATrustedSourceSetsTheClientAddressIpv6Too() throws Exception {
        byte[] v4 = concat(V2_SIGNATURE, bytes(0x21, 0x11, 0, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x41),
                port(trusting.port()));
        assertThat(send(trusting, concat(v4, ascii(REQUEST)))).startsWith("HTTP/1.1 200");
        assertThat(origin.takeRequest().headers().get("X-Forwarded-For")).isEqualTo("198.51.100.9");
        assertThat(accessLog.take("/hello").clientAddress()).isEqualTo("198.51.100.9");

        byte[] src = java.net.InetAddress.getByName("2001:db8::5").getAddress();
        byte[] dst = java.net.InetAddress.getByName("::1").getAddress();
        byte[] v6 = concat(V2_SIGNATURE, bytes(0x21, 0x21, 0, 36), src, dst, bytes(0x9c, 0x41), port(trusting.port()));
        assertThat(send(trusting, concat(v6, ascii(REQUEST)))).startsWith("HTTP/1.1 200");
        assertThat(origin.takeRequest().headers().get("X-Forwarded-For")).isEqualTo("2001:db8:0:0:0:0:0:5"); // the relay's spelling of IPv6
    }

    @Test
    void aTrustedSourceMayStillConnectWithoutAHeader() throws Exception {
        assertThat(send(trusting, ascii(REQUEST))).startsWith("HTTP/1.1 200");
        assertThat(origin.takeRequest().headers().get("X-Forwarded-For")).isEqualTo("127.0.0.1");
    }

    @Test
    void anUntrustedSourceCannotSpoofItsAddressWithAHeader() throws Exception {
        int before = origin.requestCount();
        String v1 = send(distrusting, concat(ascii("PROXY TCP4 203.0.113.7 127.0.0.1 40001 80\r\n"), ascii(REQUEST)));
        assertThat(v1).startsWith("HTTP/1.1 400");
        byte[] v2 = concat(V2_SIGNATURE, bytes(0x21, 0x11, 0, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x41), port(80));
        assertThat(send(distrusting, concat(v2, ascii(REQUEST)))).startsWith("HTTP/1.1 400");
        assertThat(origin.requestCount()).isEqualTo(before);
        // and a plain request from it is served with its real address
        assertThat(send(distrusting, ascii(REQUEST))).startsWith("HTTP/1.1 200");
        assertThat(origin.takeRequest().headers().get("X-Forwarded-For")).isEqualTo("127.0.0.1");
    }

    private static final byte[] V2_SIGNATURE = bytes(0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A);

    private static String send(ProxyServer p, byte[] bytes) throws IOException {
        try (Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] port(int port) {
        return bytes(port >> 8, port & 0xff);
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
