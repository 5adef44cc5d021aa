package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestCertificates;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.HttpProxy;
import org.eclipse.jetty.client.Origin;
import org.eclipse.jetty.client.transport.HttpClientConnectionFactory;
import org.eclipse.jetty.client.transport.HttpClientTransportDynamic;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.ClientConnectionFactoryOverHTTP2;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A forward proxy for HTTP/2 clients, on the wire: jetty-client speaks h2c to the proxy (its proxy protocol is
 * {@code h2c}), so an {@code http://} request goes as an HTTP/2 request whose {@code :scheme} and {@code :authority}
 * are the target's, and an {@code https://} request opens a tunnel with {@code CONNECT} on an HTTP/2 stream (RFC
 * 9113 §8.5).
 */
class Http2ForwardTest {
    static MockOrigin plainOrigin;
    static MockOrigin tlsOrigin;
    static ProxyServer proxy;
    static HttpClient client;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();

    @BeforeAll
    static void start() throws Exception {
        plainOrigin = MockOrigin.named("plain")
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/bytes", req -> {
                    MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                            .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                    return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
                })
                .dispatcher(req -> MockResponse.ok("origin plain " + req.path())).start();
        tlsOrigin = MockOrigin.named("tls").useHttps(TestCertificates.serving())
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/bytes", req -> {
                    MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                            .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                    return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
                })
                .dispatcher(req -> MockResponse.ok("origin tls " + req.path())).start();
        proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(tlsOrigin.port())
                .accessLog(accessLog).build().start();
        ClientConnector connector = new ClientConnector();
        SslContextFactory.Client ssl = new SslContextFactory.Client();
        ssl.setSslContext(TestCertificates.trustingTestCertificate());
        ssl.setEndpointIdentificationAlgorithm(null);
        connector.setSslContextFactory(ssl);
        HTTP2Client h2 = new HTTP2Client(connector);
        client = new HttpClient(new HttpClientTransportDynamic(connector, HttpClientConnectionFactory.HTTP11,
                new ClientConnectionFactoryOverHTTP2.HTTP2(h2)));
        client.getProxyConfiguration().addProxy(new HttpProxy(new Origin.Address("127.0.0.1", proxy.port()), false,
                new Origin.Protocol(List.of("h2c"), false)));
        client.start();
    }

    @AfterAll
    static void stop() throws Exception {
        client.stop();
        proxy.close();
        tlsOrigin.close();
        plainOrigin.close();
    }

    @Test
    void anHttpRequestOverH2ReachesTheTargetNamedByItsAuthority() throws Exception {
        // HTTP/2 to the target as to the proxy: jetty-client then sends the request itself on its h2c connection to
        // the proxy (for HTTP/1.1 it would open a CONNECT tunnel instead); the proxy speaks HTTP/1.1 upstream
        ContentResponse r = client.newRequest(plainOrigin.uri("/hello")).version(org.eclipse.jetty.http.HttpVersion.HTTP_2)
                .timeout(10, TimeUnit.SECONDS).send();

        assertThat(r.getStatus()).isEqualTo(200);
        assertThat(r.getContentAsString()).isEqualTo("hello");
        RecordedRequest seen = plainOrigin.takeRequest();
        assertThat(seen.target()).isEqualTo("/hello");
        assertThat(seen.headers().get("Via")).startsWith("2 ");
        AccessLogEntry line = accessLog.take("http://127.0.0.1:" + plainOrigin.port() + "/hello");
        assertThat(line.protocol()).isEqualTo("HTTP/2.0");
        assertThat(line.status()).isEqualTo(200);
    }

    @Test
    void anHttpsRequestTunnelsThroughConnectOnAnH2Stream() throws Exception {
        ContentResponse r = client.newRequest(tlsOrigin.uri("/hello")).timeout(10, TimeUnit.SECONDS).send();

        assertThat(r.getStatus()).isEqualTo(200);
        assertThat(r.getContentAsString()).isEqualTo("hello");
        assertThat(tlsOrigin.takeRequest().target()).isEqualTo("/hello");
        ContentResponse again = client.newRequest(tlsOrigin.uri("/bytes?n=300000")).timeout(10, TimeUnit.SECONDS).send();
        assertThat(again.getContent()).hasSize(300_000);
    }
}
