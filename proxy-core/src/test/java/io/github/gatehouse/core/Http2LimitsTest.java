package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http2.api.Session;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.frames.SettingsFrame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The HTTP/2 bounds through the wire (h2c with prior knowledge, raw frames where a client library would refuse to
 * misbehave): the SETTINGS the proxy announces, a CONTINUATION flood and an HPACK table above the cap; after each
 * the proxy still serves others. Rapid reset is in {@link Http2Test}.
 */
class Http2LimitsTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("limits")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin limits " + req.path()));

    static ProxyServer proxy;

    @BeforeAll
    static void start() {
        proxy = ProxyServer.builder().maxConcurrentStreams(32).route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).build().start();
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    @Test
    void theProxyAnnouncesItsStreamAndHeaderLimits() throws Exception {
        HTTP2Client client = new HTTP2Client();
        client.start();
        try {
            CompletableFuture<Map<Integer, Integer>> settings = new CompletableFuture<>();
            client.connect(new InetSocketAddress("127.0.0.1", proxy.port()), new Session.Listener() {
                @Override
                public void onSettings(Session session, SettingsFrame frame) {
                    settings.complete(frame.getSettings());
                }
            }).get(5, TimeUnit.SECONDS);
            Map<Integer, Integer> s = settings.get(5, TimeUnit.SECONDS);
            assertThat(s).containsEntry(SettingsFrame.MAX_CONCURRENT_STREAMS, 32)
                    .containsEntry(SettingsFrame.MAX_HEADER_LIST_SIZE, 32 * 1024)
                    .containsEntry(SettingsFrame.ENABLE_CONNECT_PROTOCOL, 1) // WebSocket over HTTP/2 (RFC 8441), on by default
                    .containsEntry(SettingsFrame.INITIAL_WINDOW_SIZE, 256 * 1024);
        } finally {
            client.stop();
        }
    }

    @Test
    void aContinuationFloodGetsGoAwayAndOthersAreStillServed() throws Exception {
        try (Socket s = new Socket("127.0.0.1", proxy.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            frame(out, 0x4, 0, 0, new byte[0]); // SETTINGS
            // HEADERS without END_HEADERS: :method GET, :scheme http, :path /, then CONTINUATION frames that never end
            frame(out, 0x1, 0x1 /* END_STREAM */, 1, new byte[] {(byte) 0x82, (byte) 0x86, (byte) 0x84});
            byte[] junk = literalHeaders(16 * 1024 - 64);
            long sent = 0;
            try {
                for (int i = 0; i < 256; i++) { // at most 4 MiB, 128 times the header list limit
                    frame(out, 0x9, 0, 1, junk);
                    sent += junk.length;
                }
            } catch (SocketException closedWhileWriting) {
                // the proxy already closed the connection
            }
            int goAwayError = readUntilGoAway(new DataInputStream(s.getInputStream()));
            assertThat(goAwayError).as("GOAWAY after %s header bytes", sent).isGreaterThan(0);
        }
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(proxy.uri().resolve("/hello"))
                .timeout(Duration.ofSeconds(5)).build(), BodyHandlers.ofString());
        assertThat(response.body()).isEqualTo("hello");
    }

    @Test
    void anHpackTableLargerThanAnnouncedIsACompressionError() throws Exception {
        try (Socket s = h2cPreface()) {
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            // a dynamic table size update to 1 MiB (RFC 7541 §6.3), far above the 4 KiB the proxy allows
            block.write(0x3f);
            for (int v = (1 << 20) - 31; ; v >>= 7) {
                if (v < 128) {
                    block.write(v);
                    break;
                }
                block.write((v & 0x7f) | 0x80);
            }
            block.writeBytes(get("/hello"));
            frame(s.getOutputStream(), 0x1, 0x1 | 0x4, 1, block.toByteArray());
            assertThat(readUntilGoAway(new DataInputStream(s.getInputStream()))).as("COMPRESSION_ERROR").isEqualTo(0x9);
        }
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(proxy.uri().resolve("/hello"))
                .timeout(Duration.ofSeconds(5)).build(), BodyHandlers.ofString());
        assertThat(response.body()).isEqualTo("hello");
    }

    private static Socket h2cPreface() throws IOException {
        Socket s = new Socket("127.0.0.1", proxy.port());
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        frame(out, 0x4, 0, 0, new byte[0]);
        return s;
    }

    /** An HPACK block for GET {@code path} with the proxy's authority, literal fields, no dynamic table. */
    private static byte[] get(String path) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x82); // :method GET
        b.write(0x86); // :scheme http
        String authority = "127.0.0.1:" + proxy.port();
        b.write(0x01); // :authority, literal without indexing
        b.write(authority.length());
        b.writeBytes(authority.getBytes(StandardCharsets.US_ASCII));
        b.write(0x04); // :path, literal without indexing
        b.write(path.length());
        b.writeBytes(path.getBytes(StandardCharsets.US_ASCII));
        return b.toByteArray();
    }

    /** Reads frames until a GOAWAY and returns its error code, or -1 if the connection closed without one. */
    private static int readUntilGoAway(DataInputStream in) throws IOException {
        try {
            while (true) {
                int length = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
                int type = in.readUnsignedByte();
                in.readUnsignedByte(); // flags
                in.readInt(); // stream
                byte[] payload = new byte[length];
                in.readFully(payload);
                if (type == 0x7) {
                    return ((payload[4] & 0xff) << 24) | ((payload[5] & 0xff) << 16) | ((payload[6] & 0xff) << 8) | (payload[7] & 0xff);
                }
            }
        } catch (EOFException | SocketException e) {
            return -1;
        }
    }

    private static byte[] literalHeaders(int size) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int n = 0;
        while (b.size() + 80 < size) {
            String name = "x-flood-" + (n++);
            byte[] value = "v".repeat(60).getBytes(StandardCharsets.US_ASCII);
            b.write(0x00); // literal without indexing, new name
            b.write(name.length());
            b.writeBytes(name.getBytes(StandardCharsets.US_ASCII));
            b.write(value.length);
            b.writeBytes(value);
        }
        return b.toByteArray();
    }

    private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
        byte[] head = {(byte) (payload.length >> 16), (byte) (payload.length >> 8), (byte) payload.length, (byte) type,
            (byte) flags, (byte) (stream >> 24), (byte) (stream >> 16), (byte) (stream >> 8), (byte) stream};
        out.write(head);
        out.write(payload);
        out.flush();
    }
}
