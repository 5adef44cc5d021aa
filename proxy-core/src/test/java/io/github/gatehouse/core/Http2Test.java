package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestPki.KeyFormat;
import io.github.gatehouse.core.testsupport.TestPki;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.http2.ErrorCode;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.api.Stream;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.frames.GoAwayFrame;
import org.eclipse.jetty.http2.frames.HeadersFrame;
import org.eclipse.jetty.http2.frames.ResetFrame;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 to clients through the wire: h2 over TLS (ALPN) with java.net.http, h2c with prior knowledge with
 * jetty-client's HTTP/2 transport, h2c by upgrade with java.net.http, on the same listeners as HTTP/1.1; the relay's
 * features over HTTP/2 (filters, 401, load balancing, the access log's protocol, request bodies without a length,
 * streaming under flow control); and rapid reset.
 */
class Http2Test {
    @RegisterExtension
    static final MockOrigin one = MockOrigin.named("one")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin one " + req.path()));
    @RegisterExtension
    static final MockOrigin two = MockOrigin.named("two")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .dispatcher(req -> MockResponse.ok("origin two " + req.path()));

    @TempDir
    static Path dir;

    static final RecordingAccessLog log = new RecordingAccessLog();
    static ProxyServer proxy;
    static HttpClient h2;
    static org.eclipse.jetty.client.HttpClient h2c;
    static HTTP2Client lowLevel;

    private static final Authenticator ALICE = (credentials, exchange) -> CompletableFuture.completedFuture(
            exchange.request().path().startsWith("/private")
                    ? credentials.flatMap(Credentials::basic).filter(up -> up.user().equals("alice"))
                            .map(up -> AuthResult.authenticated(up.user()))
                            .orElse(AuthResult.challenge("Basic realm=\"h2\"", "valid credentials required"))
                    : AuthResult.authenticated("guest"));

    @BeforeAll
    static void start() throws Exception {
        TestPki pki = TestPki.create("H2 Test CA");
        Path[] files = pki.issue("localhost", "127.0.0.1").writePem(dir, "h2", KeyFormat.PKCS8);
        proxy = ProxyServer.builder()
                .listenTls(0, Tls.pem(files[0], files[1]))
                .route(Route.any().pathPrefix("/lb").stripPrefix().to(UpstreamPool.of(one.baseUrl(), two.baseUrl())))
                .route(Route.any().to(UpstreamPool.of(one.baseUrl())))
                .filter(exchange -> exchange.request().path().startsWith("/blocked")
                        ? Verdict.deny("path " + exchange.request().path() + " is blocked") : Verdict.proceed())
                .authenticator(ALICE)
                .accessLog(log)
                .build().start();
        h2 = HttpClient.newBuilder().sslContext(pki.clientContext()).version(HttpClient.Version.HTTP_2)
                .connectTimeout(Duration.ofSeconds(5)).build();
        lowLevel = new HTTP2Client();
        lowLevel.setInitialStreamRecvWindow(64 * 1024); // a small window, as a slow client has
        lowLevel.setInitialSessionRecvWindow(1024 * 1024);
        lowLevel.start();
        HTTP2Client forJettyClient = new HTTP2Client();
        h2c = new org.eclipse.jetty.client.HttpClient(new HttpClientTransportOverHTTP2(forJettyClient));
        h2c.start();
    }

    @AfterAll
    static void stop() throws Exception {
        h2c.stop();
        lowLevel.stop();
        proxy.close();
    }

    private static HttpResponse<String> get(URI uri, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return h2.send(b.build(), BodyHandlers.ofString());
    }

    @Test
    void h2OverTlsReachesTheOriginAsHttp11AndIsLoggedAsHttp2() throws Exception {
        HttpResponse<String> r = get(proxy.tlsUri().resolve("/hello?x=1"));
        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello");
        assertThat(r.headers().firstValue("via")).hasValueSatisfying(v -> assertThat(v).contains(proxy.viaName()));
        RecordedRequest seen = one.takeRequest();
        assertThat(seen.target()).isEqualTo("/hello?x=1");
        assertThat(seen.headers().get("Host")).isEqualTo("127.0.0.1:" + proxy.tlsPort());
        assertThat(seen.headers().get("X-Forwarded-Proto")).isEqualTo("https");
        assertThat(seen.headers().get("X-Forwarded-Host")).isEqualTo("127.0.0.1:" + proxy.tlsPort());
        assertThat(seen.headers().get("Forwarded")).contains("proto=https").contains("host=\"127.0.0.1:" + proxy.tlsPort() + "\"");
        AccessLogEntry entry = log.take("/hello?x=1");
        assertThat(entry.protocol()).isEqualTo("HTTP/2.0");
        assertThat(entry.status()).isEqualTo(200);
    }

    @Test
    void h2cWithPriorKnowledgeAndHttp11ShareThePlainListener() throws Exception {
        ContentResponse r = h2c.newRequest(proxy.uri().resolve("/hello")).timeout(10, TimeUnit.SECONDS).send();
        assertThat(r.getVersion()).isEqualTo(HttpVersion.HTTP_2);
        assertThat(r.getStatus()).isEqualTo(200);
        assertThat(r.getContentAsString()).isEqualTo("hello");
        assertThat(one.takeRequest().headers().get("X-Forwarded-Proto")).isEqualTo("http");
        assertThat(log.take("/hello").protocol()).isEqualTo("HTTP/2.0");

        HttpResponse<String> h1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                .send(HttpRequest.newBuilder(proxy.uri().resolve("/hello")).build(), BodyHandlers.ofString());
        assertThat(h1.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
        assertThat(h1.body()).isEqualTo("hello");
    }

    @Test
    void h2cByUpgradeFromJavaNetHttp() throws Exception {
        HttpClient upgrading = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
        HttpResponse<String> first = upgrading.send(HttpRequest.newBuilder(proxy.uri().resolve("/hello")).build(), BodyHandlers.ofString());
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).isEqualTo("hello");
        HttpResponse<String> second = upgrading.send(HttpRequest.newBuilder(proxy.uri().resolve("/hello")).build(), BodyHandlers.ofString());
        assertThat(second.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(one.takeRequest().headers().get("Upgrade")).as("Upgrade: h2c stays at the proxy").isNull();
    }

    @Test
    void filtersAndAuthenticationAnswerOverH2() throws Exception {
        HttpResponse<String> denied = get(proxy.tlsUri().resolve("/blocked/x"));
        assertThat(denied.statusCode()).isEqualTo(403);
        assertThat(denied.body()).contains("/blocked/x is blocked");
        HttpResponse<String> challenged = get(proxy.tlsUri().resolve("/private/a"));
        assertThat(challenged.statusCode()).isEqualTo(401);
        assertThat(challenged.headers().firstValue("www-authenticate")).hasValue("Basic realm=\"h2\"");
        HttpResponse<String> ok = get(proxy.tlsUri().resolve("/private/a"), "Authorization",
                "Basic " + Base64.getEncoder().encodeToString("alice:x".getBytes(StandardCharsets.UTF_8)));
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(one.takeRequest().headers().get("Authorization")).as("consumed by the proxy").isNull();
        assertThat(log.take("/private/a").user()).isNull();
        assertThat(log.take("/private/a").user()).isEqualTo("alice");
    }

    @Test
    void loadBalancingSpreadsH2StreamsOfOneConnectionOverTheMembers() throws Exception {
        for (int i = 0; i < 4; i++) {
            assertThat(get(proxy.tlsUri().resolve("/lb/n" + i)).statusCode()).isEqualTo(200);
        }
        assertThat(one.requestCount()).isEqualTo(2);
        assertThat(two.requestCount()).isEqualTo(2);
    }

    @Test
    void requestBodiesWithAndWithoutContentLengthReachTheOrigin() throws Exception {
        byte[] body = new byte[300_000];
        java.util.Arrays.fill(body, (byte) 'b');
        HttpResponse<String> sized = h2.send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/upload"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), BodyHandlers.ofString());
        assertThat(sized.body()).isEqualTo("bytes=300000");
        // no Content-Length: on HTTP/2 the body runs until END_STREAM
        HttpResponse<String> unsized = h2.send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/upload"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build(),
                BodyHandlers.ofString());
        assertThat(unsized.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(unsized.body()).isEqualTo("bytes=300000");
        HttpResponse<String> continued = h2.send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/upload")).expectContinue(true)
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), BodyHandlers.ofString());
        assertThat(continued.body()).isEqualTo("bytes=300000");
        HttpResponse<String> echo = h2.send(HttpRequest.newBuilder(proxy.tlsUri().resolve("/echo"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream("ping".getBytes(StandardCharsets.UTF_8))))
                .build(), BodyHandlers.ofString());
        assertThat(echo.body()).isEqualTo("ping");
        // and a GET (END_STREAM on HEADERS) goes upstream without a body or framing fields
        get(proxy.tlsUri().resolve("/plain-get"));
        RecordedRequest seen = null;
        while (seen == null) { // takeRequest fails after 5 s without one
            RecordedRequest r = one.takeRequest();
            if (r.target().equals("/plain-get")) {
                seen = r;
            }
        }
        assertThat(seen.method()).isEqualTo("GET");
        assertThat(seen.headers().get("Transfer-Encoding")).isNull();
        assertThat(seen.headers().get("Content-Length")).isNull();
        assertThat(seen.bodySize()).as("no Content-Length, no body").isZero();
    }

    @Test
    void aSlowH2ClientHoldsBackTheOriginInsteadOfFillingTheProxy() throws Exception {
        long size = 64L * 1024 * 1024;
        AtomicLong written = new AtomicLong();
        CompletableFuture<Void> originDone = new CompletableFuture<>();
        Server origin = new Server();
        ServerConnector oc = new ServerConnector(origin);
        oc.setHost("127.0.0.1");
        origin.addConnector(oc);
        origin.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, size);
                new org.eclipse.jetty.util.IteratingCallback() {
                    @Override
                    protected Action process() {
                        if (written.get() >= size) {
                            return Action.SUCCEEDED;
                        }
                        response.write(false, ByteBuffer.allocate(64 * 1024), this);
                        written.addAndGet(64 * 1024);
                        return Action.SCHEDULED;
                    }

                    @Override
                    protected void onCompleteSuccess() {
                        callback.succeeded();
                        originDone.complete(null);
                    }

                    @Override
                    protected void onCompleteFailure(Throwable cause) {
                        callback.failed(cause);
                        originDone.completeExceptionally(cause);
                    }
                }.iterate();
                return true;
            }
        });
        origin.start();
        try (ProxyServer slow = ProxyServer.builder()
                .route(Route.any().to(UpstreamPool.of("http://127.0.0.1:" + oc.getLocalPort()))).build().start()) {
            Session session = lowLevel.connect(new InetSocketAddress("127.0.0.1", slow.port()), new Session.Listener() { })
                    .get(5, TimeUnit.SECONDS);
            AtomicLong received = new AtomicLong();
            AtomicReference<Stream> paused = new AtomicReference<>();
            AtomicBoolean pause = new AtomicBoolean(true);
            CountDownLatch firstBytes = new CountDownLatch(1);
            CompletableFuture<Long> complete = new CompletableFuture<>();
            MetaData.Request get = new MetaData.Request("GET", HttpURI.from("http://127.0.0.1:" + slow.port() + "/big"),
                    HttpVersion.HTTP_2, HttpFields.EMPTY);
            session.newStream(new HeadersFrame(get, null, true), new Stream.Listener() {
                @Override
                public void onHeaders(Stream stream, HeadersFrame frame) {
                    stream.demand();
                }

                @Override
                public void onDataAvailable(Stream stream) {
                    Stream.Data data = stream.readData();
                    if (data == null) {
                        stream.demand();
                        return;
                    }
                    received.addAndGet(data.frame().remaining());
                    boolean end = data.frame().isEndStream();
                    data.release();
                    firstBytes.countDown();
                    if (end) {
                        complete.complete(received.get());
                    } else if (pause.get()) {
                        paused.set(stream); // a client that stops reading: no demand, no WINDOW_UPDATE
                    } else {
                        stream.demand();
                    }
                }
            }).get(5, TimeUnit.SECONDS);
            assertThat(firstBytes.await(10, TimeUnit.SECONDS)).isTrue();
            // The client reads nothing more: the origin must stall far short of the whole body (flow control and TCP
            // buffers hold a few MiB at most); a proxy that buffered would let it finish at loopback speed.
            assertThatThrownBy(() -> originDone.get(3, TimeUnit.SECONDS)).isInstanceOf(TimeoutException.class);
            assertThat(written.get()).isLessThan(size / 4);
            System.out.println("slow h2 client: the origin stalled after " + written.get() + " of " + size
                    + " bytes, the client had " + received.get());
            pause.set(false);
            paused.get().demand();
            assertThat(complete.get(60, TimeUnit.SECONDS)).isEqualTo(size);
            originDone.get(10, TimeUnit.SECONDS);
        } finally {
            origin.stop();
        }
    }

    @Test
    void rapidResetEndsTheAttackersConnectionAndOthersAreStillServed() throws Exception {
        CountDownLatch goAway = new CountDownLatch(1);
        AtomicReference<String> reason = new AtomicReference<>();
        Session attacker = lowLevel.connect(new InetSocketAddress("127.0.0.1", proxy.port()), new Session.Listener() {
            @Override
            public void onGoAway(Session session, GoAwayFrame frame) {
                reason.set(ErrorCode.from(frame.getError()) + " " + frame.tryConvertPayload());
                goAway.countDown();
            }

            @Override
            public void onClose(Session session, GoAwayFrame frame, Callback callback) {
                goAway.countDown();
                callback.succeeded();
            }
        }).get(5, TimeUnit.SECONDS);
        int sent = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int i = 0; i < 10_000 && goAway.getCount() > 0 && System.nanoTime() < deadline; i++) {
            MetaData.Request req = new MetaData.Request("GET", HttpURI.from("http://127.0.0.1:" + proxy.port() + "/rr" + i),
                    HttpVersion.HTTP_2, HttpFields.EMPTY);
            CompletableFuture<Stream> opened = attacker.newStream(new HeadersFrame(req, null, true), new Stream.Listener() { });
            Stream stream;
            try {
                stream = opened.get(5, TimeUnit.SECONDS);
            } catch (Exception closed) {
                break; // the proxy closed the session
            }
            stream.reset(new ResetFrame(stream.getId(), ErrorCode.CANCEL_STREAM_ERROR.code), Callback.NOOP);
            sent++;
        }
        assertThat(goAway.await(10, TimeUnit.SECONDS)).as("GOAWAY after %s resets", sent).isTrue();
        assertThat(sent).as("resets before the GOAWAY").isLessThan(1_000);
        System.out.println("rapid reset: GOAWAY (" + reason.get() + ") after " + sent + " HEADERS+RST_STREAM pairs");
        // another client is served at once
        long t0 = System.nanoTime();
        assertThat(get(proxy.tlsUri().resolve("/hello")).statusCode()).isEqualTo(200);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        assertThat(reason.get()).isNotNull();
    }
}
