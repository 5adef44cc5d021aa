package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testsupport.RawOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PROXY protocol sent to upstreams ({@link UpstreamPool#proxyProtocol}), on the wire: a Jetty origin that accepts
 * PROXY v1 and v2 and answers with the client address it was given, a raw origin that records the bytes it gets, and
 * raw clients (some sending PROXY headers to the proxy's listener, from a trusted source, to name other addresses).
 */
class UpstreamProxyProtocolTest {
    static Server origin;
    static int originPort;

    @BeforeAll
    static void start() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("origin");
        origin = new Server(threads);
        HttpConnectionFactory http = new HttpConnectionFactory();
        ServerConnector connector = new ServerConnector(origin, new ProxyConnectionFactory(http.getProtocol()), http);
        connector.setHost("127.0.0.1");
        origin.addConnector(connector);
        origin.setHandler(new org.eclipse.jetty.server.Handler.Abstract() {
            @Override
            public boolean handle(Request request, org.eclipse.jetty.server.Response response, org.eclipse.jetty.util.Callback callback) {
                String body = "client=" + Request.getRemoteAddr(request) + ":" + Request.getRemotePort(request)
                        + " local=" + Request.getLocalAddr(request) + ":" + Request.getLocalPort(request);
                response.write(true, java.nio.ByteBuffer.wrap(body.getBytes(StandardCharsets.US_ASCII)), callback);
                return true;
            }
        });
        origin.start();
        originPort = connector.getLocalPort();
    }

    @AfterAll
    static void stop() throws Exception {
        origin.stop();
    }

    private static final String REQUEST = "GET /who HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n";

    @Test
    void aV1PoolTellsTheOriginTheClientsAddressAndPort() throws Exception {
        UpstreamPool pool = UpstreamPool.of("http://127.0.0.1:" + originPort).proxyProtocol(ProxyProtocolVersion.V1);
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).build().start();
                Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(response).startsWith("HTTP/1.1 200")
                    .endsWith("client=127.0.0.1:" + s.getLocalPort() + " local=127.0.0.1:" + p.port());
        }
    }

    @Test
    void aV2PoolCarriesTheAddressesTheListenerWasGivenByATrustedLoadBalancerAndKeepsClientsApart() throws Exception {
        UpstreamPool pool = UpstreamPool.of("http://127.0.0.1:" + originPort).proxyProtocol(ProxyProtocolVersion.V2);
        try (ProxyServer p = ProxyServer.builder().route(Route.any().to(pool)).proxyProtocolFrom("127.0.0.0/8").build().start()) {
            String first = send(p, "PROXY TCP4 203.0.113.7 192.0.2.1 4242 443\r\n" + REQUEST);
            String second = send(p, "PROXY TCP4 198.51.100.9 192.0.2.1 5353 443\r\n" + REQUEST);
            String third = send(p, "PROXY TCP6 2001:db8::5 2001:db8::1 6464 443\r\n" + REQUEST);
            assertThat(first).startsWith("HTTP/1.1 200").endsWith("client=203.0.113.7:4242 local=192.0.2.1:443");
            assertThat(second).endsWith("client=198.51.100.9:5353 local=192.0.2.1:443");
            assertThat(third).endsWith("client=[2001:db8:0:0:0:0:0:5]:6464 local=[2001:db8:0:0:0:0:0:1]:443");
        }
    }

    @Test
    void anUpgradeSendsTheHeaderFirstOnItsOwnConnectionAndAHealthCheckSendsOneWithoutAddresses() throws Exception {
        BlockingQueue<String> heads = new LinkedBlockingQueue<>();
        try (RawOrigin raw = RawOrigin.start(head -> {
                    heads.add(head);
                    return head.contains("GET /health ") ? RawOrigin.Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            : RawOrigin.Reply.of("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno");
                });
                ProxyServer p = ProxyServer.builder()
                        .route(Route.any().to(UpstreamPool.of(raw.baseUrl()).proxyProtocol(ProxyProtocolVersion.V1)
                                .healthCheck(HealthCheck.get("/health"))))
                        .proxyProtocolFrom("127.0.0.0/8").build().start()) {
            assertThat(heads.take()).startsWith("PROXY UNKNOWN\r\nGET /health HTTP/1.1\r\n");
            String reply = send(p, "PROXY TCP4 203.0.113.7 192.0.2.1 4242 443\r\n"
                    + "GET /chat HTTP/1.1\r\nHost: chat.test\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n");
            assertThat(reply).startsWith("HTTP/1.1 426");
            String head = heads.take();
            while (head.contains("GET /health ")) {
                head = heads.take(); // a later health check
            }
            assertThat(head).startsWith("PROXY TCP4 203.0.113.7 192.0.2.1 4242 443\r\nGET /chat HTTP/1.1\r\n")
                    .contains("\r\nUpgrade: websocket\r\n");
        }
    }

    private static String send(ProxyServer p, String bytes) throws IOException {
        try (Socket s = new Socket("127.0.0.1", p.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes.getBytes(StandardCharsets.US_ASCII));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(s.getInputStream().readAllBytes());
            return out.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
