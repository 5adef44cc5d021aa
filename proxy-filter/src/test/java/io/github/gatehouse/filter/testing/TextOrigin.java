package io.github.gatehouse.filter.testing;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.IteratingCallback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty origin on loopback serving bodies the test defines, written chunk by chunk (each write flushed before the
 * next), so the proxy sees them in separate pieces; plus {@code /stream?n=N&at=K&word=W}: N bytes of text
 * generated as they go, with W written at offset K (K = -1: nowhere). Records the last request's headers.
 */
public final class TextOrigin implements AutoCloseable {
    /** One canned response. */
    public record Page(int status, Map<String, String> headers, List<byte[]> chunks) {
    }

    private final Server server;
    private final ServerConnector connector;
    private final Map<String, Page> pages = new ConcurrentHashMap<>();
    private final AtomicInteger requests = new AtomicInteger();
    private volatile Map<String, String> lastRequestHeaders = Map.of();

    public TextOrigin() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool(16, 2);
        threads.setName("origin-text");
        server = new Server(threads);
        connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                requests.incrementAndGet();
                Map<String, String> seen = new ConcurrentHashMap<>();
                request.getHeaders().forEach(f -> seen.put(f.getLowerCaseName(), f.getValue()));
                lastRequestHeaders = seen;
                String path = request.getHttpURI().getPath();
                if (path.equals("/stream")) {
                    Fields q = Request.extractQueryParameters(request);
                    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
                    new TextStreamer(response, Long.parseLong(q.getValue("n")), Long.parseLong(q.getValue("at")),
                            q.getValue("word") == null ? "" : q.getValue("word"), callback).iterate();
                    return true;
                }
                Page page = pages.get(path);
                if (page == null) {
                    response.setStatus(404);
                    response.write(true, null, callback);
                    return true;
                }
                response.setStatus(page.status());
                page.headers().forEach((k, v) -> response.getHeaders().put(k, v));
                writeChunks(response, page.chunks(), 0, callback);
                return true;
            }
        });
        server.start();
    }

    private static void writeChunks(Response response, List<byte[]> chunks, int i, Callback done) {
        if (i == chunks.size()) {
            response.write(true, null, done);
            return;
        }
        response.write(false, ByteBuffer.wrap(chunks.get(i)),
                Callback.from(() -> writeChunks(response, chunks, i + 1, done), done::failed));
    }

    public void serve(String path, Map<String, String> headers, List<byte[]> chunks) {
        pages.put(path, new Page(200, headers, chunks));
    }

    public void serveText(String path, String contentType, String... chunks) {
        serve(path, Map.of("Content-Type", contentType),
                java.util.Arrays.stream(chunks).map(c -> c.getBytes(StandardCharsets.UTF_8)).toList());
    }

    public int port() {
        return connector.getLocalPort();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    public int requestCount() {
        return requests.get();
    }

    public Map<String, String> lastRequestHeaders() {
        return lastRequestHeaders;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            throw new IllegalStateException("origin-text did not stop", e);
        }
    }

    /** Streams generated text 16 KiB at a time, never holding the body. */
    private static final class TextStreamer extends IteratingCallback {
        private final Response response;
        private final long n;
        private final long at;
        private final byte[] word;
        private final Callback callback;
        private long sent;

        TextStreamer(Response response, long n, long at, String word, Callback callback) {
            this.response = response;
            this.n = n;
            this.at = at;
            this.word = word.getBytes(StandardCharsets.UTF_8);
            this.callback = callback;
        }

        @Override
        protected Action process() {
            if (sent >= n) {
                return Action.SUCCEEDED;
            }
            int len = (int) Math.min(16 * 1024, n - sent);
            byte[] b = new byte[len];
            for (int i = 0; i < len; i++) {
                long pos = sent + i;
                b[i] = at >= 0 && pos >= at && pos < at + word.length ? word[(int) (pos - at)]
                        : (byte) (pos % 64 == 63 ? '\n' : 'a' + (pos % 7));
            }
            sent += len;
            response.write(sent >= n, ByteBuffer.wrap(b), this);
            return Action.SCHEDULED;
        }

        @Override
        protected void onCompleteSuccess() {
            callback.succeeded();
        }

        @Override
        protected void onCompleteFailure(Throwable cause) {
            callback.failed(cause);
        }
    }
}
