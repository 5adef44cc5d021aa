package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.ForkedProxy;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Moves 512 MiB in each direction through a proxy whose JVM has a 64 MiB heap, in forward and reverse mode. A relay
 * that buffered bodies would die of OutOfMemoryError, and the transfer would fail or come back short.
 */
class StreamingTest {
    static final long SIZE = 512L * 1024 * 1024;

    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("bulk")
            .serve("/upload", req -> MockResponse.ok("bytes=" + req.bodySize()))
            .serve("/bytes", req -> {
                MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
            })
            .dispatcher(req -> MockResponse.ok("origin bulk " + req.path()));

    @Test
    void forwardProxyStreams512MiBEachWayWithA64MiBHeap() throws Exception {
        try (ForkedProxy proxy = ForkedProxy.start("64m", null)) {
            HttpClient client = Clients.throughProxy(proxy.port());
            assertThat(download(client, origin.uri("/bytes?n=" + SIZE))).isEqualTo(SIZE);
            assertThat(upload(client, origin.uri("/upload"))).isEqualTo("bytes=" + SIZE);
            assertThat(proxy.isAlive()).isTrue();
        }
    }

    @Test
    void reverseProxyStreams512MiBEachWayWithA64MiBHeap() throws Exception {
        try (ForkedProxy proxy = ForkedProxy.start("64m", origin.baseUrl())) {
            HttpClient client = Clients.direct();
            URI base = URI.create("http://127.0.0.1:" + proxy.port());
            assertThat(download(client, base.resolve("/bytes?n=" + SIZE + "&chunked=1"))).isEqualTo(SIZE);
            assertThat(upload(client, base.resolve("/upload"))).isEqualTo("bytes=" + SIZE);
            assertThat(proxy.isAlive()).isTrue();
        }
    }

    private static long download(HttpClient client, URI uri) throws Exception {
        HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(uri).build(), BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        long total = 0;
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = response.body()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                total += n;
            }
        }
        return total;
    }

    private static String upload(HttpClient client, URI uri) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .POST(HttpRequest.BodyPublishers.fromPublisher(new GeneratedBody(SIZE), SIZE)).build();
        HttpResponse<String> response = client.send(request, BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    /** Publishes {@code size} bytes in 64 KiB buffers on demand, never more than requested. */
    private static final class GeneratedBody implements Flow.Publisher<ByteBuffer> {
        private final long size;

        GeneratedBody(long size) {
            this.size = size;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
            AtomicLong sent = new AtomicLong();
            byte[] block = new byte[64 * 1024];
            subscriber.onSubscribe(new Flow.Subscription() {
                private boolean done;

                @Override
                public synchronized void request(long n) {
                    for (long i = 0; i < n && !done; i++) {
                        long left = size - sent.get();
                        if (left <= 0) {
                            done = true;
                            subscriber.onComplete();
                            return;
                        }
                        int len = (int) Math.min(block.length, left);
                        sent.addAndGet(len);
                        subscriber.onNext(ByteBuffer.wrap(block, 0, len));
                    }
                    if (!done && sent.get() >= size) {
                        done = true;
                        subscriber.onComplete();
                    }
                }

                @Override
                public synchronized void cancel() {
                    done = true;
                }
            });
        }
    }
}
