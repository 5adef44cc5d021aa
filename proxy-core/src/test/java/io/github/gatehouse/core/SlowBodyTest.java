package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Minimum body data rates: slow-body clients are ended, normal ones are not, and the upstream is not blamed. */
class SlowBodyTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("slow-body")
            .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .serve("/bytes", req -> {
                MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
            })
            .dispatcher(req -> MockResponse.ok("origin slow-body " + req.path()));

    private final RecordingAccessLog log = new RecordingAccessLog();
    private ScheduledExecutorService dribbler;

    @BeforeEach
    void setUp() {
        dribbler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "client-dribbler");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        dribbler.shutdownNow();
        assertThat(dribbler.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }

    private ProxyServer.Builder proxyTo(UpstreamPool pool) {
        return ProxyServer.builder().route(Route.any().to(pool)).via("gh-rate").accessLog(log)
                .minRequestBodyRate(DataSize.kibibytes(1)).minResponseBodyRate(DataSize.mebibytes(8))
                .bodyRateGracePeriod(Duration.ofMillis(300))
                .idleTimeout(Duration.ofSeconds(30));   // the idle timeout would never fire: a byte arrives every 100 ms
    }

    /** Sends a request head, then one body byte every 100 ms (10 bytes/s) until the response begins. */
    private Reply dribble(int port, int contentLength) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: "
                    + contentLength + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            var task = dribbler.scheduleAtFixedRate(() -> {
                try {
                    out.write('x');
                    out.flush();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e); // the proxy closed: stops the task
                }
            }, 0, 100, TimeUnit.MILLISECONDS);
            InputStream in = socket.getInputStream();
            int first = in.read();                            // blocks until the proxy answers (or 10 s)
            task.cancel(false);
            return Reply.read(first, in);
        }
    }

    @Test
    void aClientDribblingAStreamedRequestBodyGets408AndTheUpstreamRequestIsAborted() throws Exception {
        UpstreamPool pool = UpstreamPool.of(origin.baseUrl());
        try (ProxyServer proxy = proxyTo(pool).build().start()) {
            Reply reply = dribble(proxy.port(), 100_000);   // more than the 64 KiB kept for retries: streamed upstream

            assertThat(reply.statusLine).isEqualTo("HTTP/1.1 408 Request Timeout");
            assertThat(reply.headers).containsEntry("connection", "close").containsEntry("via", "1.1 gh-rate")
                    .containsEntry("content-type", "text/plain;charset=utf-8");
            assertThat(reply.headers.get("proxy-status")).startsWith("gh-rate; error=http_request_error; details=\"request body arrived slower than 1024 bytes/s (");
            assertThat(reply.body).matches("408 request body arrived slower than 1024 bytes/s \\(\\d+ bytes in \\d+ ms of waiting\\)\n");
            assertThat(reply.closedAfter).isTrue();
            // the origin had the request, streamed, and saw its body aborted
            assertThat(origin.takeRequest().bodyFailure()).isPresent();
            assertThat(origin.requestCount()).isEqualTo(1);
            AccessLogEntry entry = log.take("/upload");
            assertThat(entry.status()).isEqualTo(408);
            assertThat(entry.reason()).startsWith("request body arrived slower than 1024 bytes/s");
            // the client's slowness is not the upstream's failure (no outlier ejection by slow clients)
            assertThat(pool.members().get(0).stats().errors()).isZero();
        }
    }

    @Test
    void aClientDribblingASmallBufferedRequestBodyGets408BeforeAnythingGoesUpstream() throws Exception {
        try (ProxyServer proxy = proxyTo(UpstreamPool.of(origin.baseUrl())).build().start()) {
            Reply reply = dribble(proxy.port(), 1000);       // kept whole for a retry before going upstream

            assertThat(reply.statusLine).isEqualTo("HTTP/1.1 408 Request Timeout");
            assertThat(reply.headers).containsEntry("connection", "close");
            assertThat(reply.body).startsWith("408 request body arrived slower than 1024 bytes/s (");
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void aForwardProxyDribblerGets408Too() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().via("gh-rate")
                .minRequestBodyRate(DataSize.kibibytes(1)).bodyRateGracePeriod(Duration.ofMillis(300)).build().start();
                Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST " + origin.baseUrl() + "/upload HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                    + "\r\nContent-Length: 5000\r\n\r\nabc").getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            Reply reply = Reply.read(in.read(), in);

            assertThat(reply.statusLine).isEqualTo("HTTP/1.1 408 Request Timeout");
            assertThat(reply.body).startsWith("408 request body arrived slower than 1024 bytes/s (3 bytes in ");
            assertThat(origin.takeRequest().bodyFailure()).isPresent();
        }
    }

    @Test
    void normalUploadsAndDownloadsAreUnaffected() throws Exception {
        try (ProxyServer proxy = proxyTo(UpstreamPool.of(origin.baseUrl())).build().start()) {
            URI base = URI.create("http://127.0.0.1:" + proxy.port());
            byte[] body = new byte[8 * 1024 * 1024];
            HttpResponse<String> upload = Clients.direct().send(HttpRequest.newBuilder(base.resolve("/upload"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), BodyHandlers.ofString());
            assertThat(upload.statusCode()).isEqualTo(200);
            assertThat(upload.body()).isEqualTo("bytes=" + body.length);

            HttpResponse<byte[]> download = Clients.direct().send(HttpRequest.newBuilder(base.resolve("/bytes?n=16777216")).build(),
                    BodyHandlers.ofByteArray());
            assertThat(download.statusCode()).isEqualTo(200);
            assertThat(download.body()).hasSize(16 * 1024 * 1024);

            // a client that is slow only because the upstream is (the proxy waits on the upstream, not on it)
            HttpResponse<String> small = Clients.direct().send(HttpRequest.newBuilder(base.resolve("/echo"))
                    .POST(HttpRequest.BodyPublishers.ofString("ping")).build(), BodyHandlers.ofString());
            assertThat(small.body()).isEqualTo("ping");
        }
    }

    @Test
    void aClientThatStopsReadingTheResponseIsDisconnectedAndTheUpstreamResponseAborted() throws Exception {
        try (ProxyServer proxy = proxyTo(UpstreamPool.of(origin.baseUrl())).build().start();
                Socket socket = new Socket()) {
            socket.setReceiveBufferSize(16 * 1024);
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", proxy.port()));
            socket.setSoTimeout(10_000);
            long size = 256L * 1024 * 1024;
            socket.getOutputStream().write(("GET /bytes?n=" + size + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));

            // the client reads nothing; the proxy's writes stall once the socket buffers are full
            AccessLogEntry entry = log.take("/bytes");
            assertThat(entry.status()).isEqualTo(200);
            assertThat(entry.completed()).isFalse();
            assertThat(entry.reason()).contains("slower than 8388608 bytes/s");
            long received = 0;
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[64 * 1024];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    received += n;
                }
            } catch (IOException reset) {
                // a reset is a fine end too: what matters is that the body is not complete
            }
            assertThat(received).isLessThan(size);
        }
    }

    @Test
    void builderChecksRatesAndGrace() {
        assertThatThrownBy(() -> ProxyServer.builder().minRequestBodyRate(DataSize.gibibytes(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("minRequestBodyRate: 2GiB");
        assertThatThrownBy(() -> ProxyServer.builder().bodyRateGracePeriod(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bodyRateGracePeriod: PT-1S");
    }

    /** A raw response read to its Content-Length, then whether the server closed the connection. */
    record Reply(String statusLine, Map<String, String> headers, String body, boolean closedAfter) {
        static Reply read(int first, InputStream in) throws IOException {
            if (first < 0) {
                throw new AssertionError("the proxy closed the connection without answering");
            }
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            head.write(first);
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    throw new AssertionError("response head cut short: " + head.toString(StandardCharsets.ISO_8859_1));
                }
                head.write(b);
            }
            String text = head.toString(StandardCharsets.ISO_8859_1);
            Map<String, String> headers = RawHttp.parseHeaders(text.substring(0, text.length() - 4));
            byte[] body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
            boolean closed;
            try {
                closed = in.read() < 0;
            } catch (IOException reset) {
                closed = true;
            }
            return new Reply(text.substring(0, text.indexOf("\r\n")), headers, new String(body, StandardCharsets.UTF_8), closed);
        }
    }
}
