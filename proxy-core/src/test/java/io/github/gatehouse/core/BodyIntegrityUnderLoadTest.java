package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many clients at once through a reverse proxy, each fetching bodies whose every byte is a function of the request
 * (its seed and offset), of sizes from empty to several of the upstream transport's 64 KiB reads, on reused upstream
 * connections; a share of the clients leave in the middle of a body. Every byte that arrives is checked. The upstream
 * transport hands out views into input buffers that go back to a shared free list after each exchange: a view that
 * outlived its exchange would show here as bytes of another client's body.
 */
class BodyIntegrityUnderLoadTest {
    private static final int CLIENTS = 8;
    private static final int REQUESTS_PER_CLIENT = 60;

    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("integrity").recordRequests(false)
            .serve("/body", req -> {
                long seed = Long.parseLong(req.queryParameter("seed").orElseThrow());
                long n = Long.parseLong(req.queryParameter("n").orElseThrow());
                MockResponse body = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(n, offset -> byteAt(seed, offset));
                return req.queryParameter("chunked").isPresent() ? body.chunked() : body;
            });

    static int byteAt(long seed, long offset) {
        long x = seed * 0x9E3779B97F4A7C15L + offset * 0xBF58476D1CE4E5B9L;
        x ^= x >>> 29;
        return (int) (x & 0xff);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyByteOfEveryBodyIsTheOnesItsOwnRequestAskedFor() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.builder(origin.baseUrl())
                .build())).build().start()) {
            checkAll(proxy);
        }
    }

    /**
     * The same with every buffer guarded (the diagnostic mode {@code -Dgatehouse.server.buffers=guarded}): a buffer
     * given back is poisoned and never reused, so a view that outlived its exchange would relay tildes.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyByteIsRightWithGuardedBuffersToo() throws Exception {
        String was = System.setProperty("gatehouse.server.buffers", "guarded");
        ProxyServer proxy;
        try {
            proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.builder(origin.baseUrl()).build())).build()
                    .start();
        } finally {
            if (was == null) {
                System.clearProperty("gatehouse.server.buffers");
            } else {
                System.setProperty("gatehouse.server.buffers", was);
            }
        }
        try (proxy) {
            checkAll(proxy);
        }
    }

    private static void checkAll(ProxyServer proxy) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                results.add(clients.submit(() -> run(proxy.port(), client)));
            }
            int checked = 0;
            for (Future<Integer> f : results) {
                checked += f.get(100, TimeUnit.SECONDS);
            }
            assertThat(checked).as("bodies read to their end and checked").isGreaterThan(CLIENTS * REQUESTS_PER_CLIENT / 2);
        } finally {
            clients.shutdownNow();
        }
    }

    /** One client's requests on one keep-alive connection (a new one after each abandoned body); the whole bodies. */
    private static int run(int port, int client) throws IOException {
        int whole = 0;
        Socket socket = null;
        try {
            for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
                long seed = client * 1_000_003L + i;
                int[] sizes = {0, 1, 1000, 16 * 1024 + 7, 64 * 1024, 64 * 1024 + 1, 100 * 1024, 300 * 1024 + 13};
                long n = sizes[(int) ((seed * 7) % sizes.length)];
                boolean chunked = i % 3 == 0;
                boolean abandon = i % 5 == 4 && n > 70_000; // leave after the first part of a body of several reads
                if (socket == null) {
                    socket = new Socket("127.0.0.1", port);
                    socket.setSoTimeout(20_000);
                }
                OutputStream out = socket.getOutputStream();
                out.write(("GET /body?seed=" + seed + "&n=" + n + (chunked ? "&chunked=1" : "") + " HTTP/1.1\r\nHost: a\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = socket.getInputStream();
                String head = readHead(in);
                assertThat(head).as("client %d request %d", client, i).startsWith("HTTP/1.1 200 ");
                boolean isChunked = head.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked");
                long limit = abandon ? n / 2 : Long.MAX_VALUE;
                long got = isChunked ? readChunked(in, seed, limit) : readLength(in, seed, contentLength(head), limit);
                if (abandon) {
                    socket.close(); // gone in the middle: the proxy drops that exchange's upstream side
                    socket = null;
                    continue;
                }
                assertThat(got).as("client %d request %d length", client, i).isEqualTo(n);
                whole++;
            }
        } finally {
            if (socket != null) {
                socket.close();
            }
        }
        return whole;
    }

    private static long readLength(InputStream in, long seed, long length, long limit) throws IOException {
        long offset = 0;
        byte[] buf = new byte[8192];
        while (offset < Math.min(length, limit)) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, length - offset));
            if (n < 0) {
                break;
            }
            check(buf, n, seed, offset);
            offset += n;
        }
        return offset;
    }

    private static long readChunked(InputStream in, long seed, long limit) throws IOException {
        long offset = 0;
        byte[] buf = new byte[8192];
        while (true) {
            String line = readLine(in);
            int size = Integer.parseInt(line.trim(), 16);
            if (size == 0) {
                readLine(in); // the empty line after the last chunk (no trailers)
                return offset;
            }
            int left = size;
            while (left > 0) {
                int n = in.read(buf, 0, Math.min(buf.length, left));
                if (n < 0) {
                    return offset;
                }
                check(buf, n, seed, offset);
                offset += n;
                left -= n;
            }
            readLine(in);
            if (offset >= limit) {
                return offset; // leaving this body unread
            }
        }
    }

    private static void check(byte[] buf, int n, long seed, long offset) {
        for (int k = 0; k < n; k++) {
            if ((buf[k] & 0xff) != byteAt(seed, offset + k)) {
                throw new AssertionError("body of seed " + seed + ": wrong byte at offset " + (offset + k));
            }
        }
    }

    private static long contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                return Long.parseLong(line.substring(15).trim());
            }
        }
        throw new AssertionError("no Content-Length in " + head);
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed in the head: " + head);
            }
            head.append((char) b);
        }
        return head.toString();
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return line.toString();
    }
}
