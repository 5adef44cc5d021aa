package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.ResponseHead;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.testing.Wire;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class KeywordFilterTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("text");

    /** Pages written chunk by chunk (each write flushed before the next), so the proxy sees them in pieces. */
    @BeforeAll
    static void servePages() throws Exception {
        origin.serve("/casino", text("text/html; charset=utf-8").chunks("<p>Welcome to the CAS", "INO royale</p>"));
        origin.serve("/clean", text("text/html; charset=utf-8").chunks("<p>nothing to see</p>"));
        origin.serve("/json", text("application/json").chunks("{\"note\": \"the password is swordfi", "sh\"}"));
        origin.serve("/binary", text("application/octet-stream").chunks("casino bytes"));
        origin.serve("/latin1", text("text/plain; charset=ISO-8859-1")
                .chunks("Un CAF".getBytes(StandardCharsets.ISO_8859_1), "É noir".getBytes(StandardCharsets.ISO_8859_1)));
        byte[] gz = gzip("<html>" + "filler ".repeat(2000) + "Swordfish" + "</html>");
        origin.serve("/gzip", text("text/html").header("Content-Encoding", "gzip").header("ETag", "\"v1\"")
                .chunks(java.util.Arrays.copyOfRange(gz, 0, 7), java.util.Arrays.copyOfRange(gz, 7, gz.length / 2),
                        java.util.Arrays.copyOfRange(gz, gz.length / 2, gz.length)));
        origin.serve("/gzip-clean", text("text/html").header("Content-Encoding", "gzip").header("ETag", "\"v2\"")
                .header("Content-Length", Integer.toString(CLEAN_GZ.length))
                .chunks(java.util.Arrays.copyOfRange(CLEAN_GZ, 0, 10), java.util.Arrays.copyOfRange(CLEAN_GZ, 10, CLEAN_GZ.length)));
        origin.serve("/brotli", text("text/html").header("Content-Encoding", "br").chunks(new byte[] {1, 2, 3}));
    }

    private static MockResponse text(String contentType) {
        return MockResponse.ok().header("Content-Type", contentType);
    }

    /**
     * {@code size} bytes of text (lines of 64, letters a..g), made as they are sent (chunked), with {@code word} at
     * offset {@code at}.
     */
    private static MockResponse stream(long size, long at, String word) {
        byte[] w = word.getBytes(StandardCharsets.UTF_8);
        return text("text/plain; charset=utf-8").generatedBody(size, pos -> pos >= at && pos < at + w.length
                ? w[(int) (pos - at)] : pos % 64 == 63 ? '\n' : 'a' + (int) (pos % 7)).chunked();
    }

    static final byte[] CLEAN_GZ;

    static {
        try {
            CLEAN_GZ = gzip("<html>" + "nothing to block here ".repeat(3000) + "</html>");
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Test
    void aPagePassingABlockingFilterKeepsTheOriginsEncodedBytesAndFraming() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.blockPagesContaining("swordfish"), null)) {
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/gzip-clean", "Accept-Encoding: gzip");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.headers().get("content-encoding")).isEqualTo("gzip");
            assertThat(reply.headers().get("etag")).isEqualTo("\"v2\"");
            assertThat(reply.headers().get("content-length")).isEqualTo(Integer.toString(CLEAN_GZ.length));
            assertThat(body(reply)).isEqualTo(CLEAN_GZ);
        }
    }

    private static byte[] gzip(String text) throws Exception {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bos)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return bos.toByteArray();
    }

    private static ProxyServer proxy(ProxyFilter filter, RecordingAccessLog log) {
        return Wire.forward().filter(filter).accessLog(log == null ? new RecordingAccessLog() : log).build().start();
    }

    @Test
    void blocksAPageWhoseKeywordIsSplitAcrossChunksWithA403NamingIt() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = proxy(KeywordFilter.blockPagesContaining("casino", "poker"), log)) {
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/casino");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("page blocked by content filter: it contains 'casino'")
                    .doesNotContain("Welcome");
            AccessLogEntry entry = log.take();
            assertThat(entry.status()).isEqualTo(403);
            assertThat(entry.reason()).contains("'casino'");

            RawHttp.Reply clean = Wire.get(proxy, origin.baseUrl() + "/clean");
            assertThat(clean.status()).isEqualTo(200);
            assertThat(clean.bodyText()).contains("<p>nothing to see</p>");
        }
    }

    @Test
    void redactsKeywordsSplitAcrossChunksInTheBodyCharset() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.redacting("swordfish", "café"), null)) {
            RawHttp.Reply json = Wire.get(proxy, origin.baseUrl() + "/json");
            assertThat(json.status()).isEqualTo(200);
            assertThat(json.bodyText()).contains("{\"note\": \"the password is *********\"}");

            RawHttp.Reply latin1 = Wire.get(proxy, origin.baseUrl() + "/latin1");
            assertThat(new String(body(latin1), StandardCharsets.ISO_8859_1)).isEqualTo("Un **** noir");
        }
    }

    @Test
    void decodesGzipBodiesScansThemAndSendsThemDecoded() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.redacting("swordfish"), null)) {
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/gzip", "Accept-Encoding: gzip");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.headers()).doesNotContainKey("content-encoding");
            assertThat(reply.headers().get("etag")).isEqualTo("W/\"v1\"");
            String body = new String(body(reply), StandardCharsets.UTF_8);
            assertThat(body).startsWith("<html>filler").endsWith("*********</html>").doesNotContainIgnoringCase("swordfish");
        }
        try (ProxyServer proxy = proxy(KeywordFilter.blockPagesContaining("swordfish"), null)) {
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/gzip", "Accept-Encoding: gzip");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("'swordfish'");
        }
    }

    @Test
    void nonTextBodiesPassUntouched() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.blockPagesContaining("casino"), null)) {
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/binary");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(new String(body(reply), StandardCharsets.UTF_8)).isEqualTo("casino bytes");
        }
    }

    @Test
    void asksUpstreamOnlyForCodingsItDecodesAndStopsOthersUnlessToldToPassThem() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.blockPagesContaining("casino"), null)) {
            Wire.get(proxy, origin.baseUrl() + "/clean", "Accept-Encoding: br, gzip;q=0.8, zstd", "Range: bytes=0-3");
            RecordedRequest clean = origin.takeRequest();
            assertThat(clean.path()).isEqualTo("/clean");
            assertThat(clean.headers("accept-encoding")).containsExactly("gzip;q=0.8");
            assertThat(clean.header("range")).isEmpty();

            RawHttp.Reply br = Wire.get(proxy, origin.baseUrl() + "/brotli");
            assertThat(origin.takeRequest().path()).isEqualTo("/brotli");
            assertThat(br.status()).isEqualTo(502);
            assertThat(br.bodyText()).contains("cannot scan a body encoded with br");
        }
        KeywordFilter passing = KeywordFilter.builder().block("casino")
                .undecodableEncodings(KeywordFilter.UndecodableEncoding.PASS_UNSCANNED).build();
        try (ProxyServer proxy = proxy(passing, null)) {
            Wire.get(proxy, origin.baseUrl() + "/clean", "Accept-Encoding: br");
            RecordedRequest clean = origin.takeRequest();
            assertThat(clean.path()).isEqualTo("/clean");
            assertThat(clean.headers("accept-encoding")).containsExactly("br");
            RawHttp.Reply br = Wire.get(proxy, origin.baseUrl() + "/brotli");
            assertThat(br.status()).isEqualTo(200);
            assertThat(br.headers().get("content-encoding")).isEqualTo("br");
        }
    }

    @Test
    void deniesUrlsContainingKeywordsEvenWhenEncoded() throws Exception {
        try (ProxyServer proxy = proxy(KeywordFilter.blockUrlsContaining("online poker", "torrent"), null)) {
            RawHttp.Reply query = Wire.get(proxy, origin.baseUrl() + "/search?q=ONLINE+poker");
            assertThat(query.status()).isEqualTo(403);
            assertThat(query.bodyText()).contains("URL blocked by content filter: it contains 'online poker'");
            assertThat(Wire.get(proxy, origin.baseUrl() + "/files/%74orrent.html").status()).isEqualTo(403);
            assertThat(Wire.get(proxy, origin.baseUrl() + "/clean").status()).isEqualTo(200);
            assertThat(origin.requestCount()).isEqualTo(1);              // only /clean: the denied URLs never left
        }
    }

    /** Wraps a filter's body filter to measure the bytes it holds back: bytes in minus bytes out, at worst. */
    private static final class Measuring implements ProxyFilter {
        final ProxyFilter delegate;
        final AtomicLong maxHeld = new AtomicLong();
        final AtomicLong bytesIn = new AtomicLong();

        Measuring(ProxyFilter delegate) {
            this.delegate = delegate;
        }

        @Override
        public Verdict onRequest(Exchange exchange) {
            return delegate.onRequest(exchange);
        }

        @Override
        public void onResponse(Exchange exchange, ResponseHead response) {
            delegate.onResponse(exchange, response);
        }

        @Override
        public Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
            return delegate.responseBody(exchange, response).map(inner -> {
                long[] inOut = new long[2];
                return (chunk, last, control) -> {
                    inOut[0] += chunk.remaining();
                    ByteBuffer out = inner.onChunk(chunk, last, control);
                    inOut[1] += out.remaining();
                    bytesIn.set(inOut[0]);
                    maxHeld.accumulateAndGet(inOut[0] - inOut[1], Math::max);
                    return out;
                };
            });
        }
    }

    @Test
    void memoryStaysBoundedOnALargeBodyWhileRedacting() throws Exception {
        long size = 32L * 1024 * 1024;
        origin.enqueue(stream(size, size - 1000, "NEEDLE"));
        Measuring measuring = new Measuring(KeywordFilter.redacting("needle", "a much longer keyword phrase"));
        try (ProxyServer proxy = proxy(measuring, null)) {
            HttpResponse<InputStream> response = Clients.throughProxy(proxy.port()).send(
                    HttpRequest.newBuilder(origin.uri("/stream")).build(), HttpResponse.BodyHandlers.ofInputStream());
            long total = 0;
            int stars = 0;
            byte[] buf = new byte[64 * 1024];
            try (InputStream in = response.body()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    total += n;
                    for (int i = 0; i < n; i++) {
                        stars += buf[i] == '*' ? 1 : 0;
                    }
                }
            }
            assertThat(total).isEqualTo(size);
            assertThat(stars).isEqualTo(6);
            assertThat(measuring.bytesIn.get()).isEqualTo(size);
            assertThat(measuring.maxHeld.get()).isLessThanOrEqualTo("a much longer keyword phrase".length());
        }
    }

    @Test
    void pastTheHoldPrefixABlockStopsTheTransferWithoutCompletingIt() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        Measuring measuring = new Measuring(KeywordFilter.builder().block("casino").holdUpTo(DataSize.kibibytes(32)).build());
        try (ProxyServer proxy = proxy(measuring, log)) {
            long size = 4L * 1024 * 1024;
            origin.enqueue(stream(size, 3 * 1024 * 1024, "casino"));
            RawHttp.Reply reply = Wire.get(proxy, origin.baseUrl() + "/stream");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.body().length).isLessThan((int) size);
            assertThat(reply.bodyText()).doesNotEndWith("0\r\n\r\n");
            AccessLogEntry entry = log.take();
            assertThat(entry.completed()).isFalse();
            assertThat(entry.reason()).contains("'casino'");
            // the hold prefix plus at most one upstream read (the lean transport reads up to 64 KiB at a time)
            assertThat(measuring.maxHeld.get()).isLessThanOrEqualTo(32 * 1024 + 64 * 1024);

            origin.enqueue(stream(size, 20000, "casino"));
            RawHttp.Reply early = Wire.get(proxy, origin.baseUrl() + "/stream");
            assertThat(early.status()).isEqualTo(403);
        }
    }

    @Test
    void keywordListsLoadFromFiles(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path words = dir.resolve("words.txt");
        java.nio.file.Files.writeString(words, "# gambling\ncasino\n\n  online poker  # phrase\n");
        KeywordFilter filter = KeywordFilter.builder().bodyKeywordsFrom(words).urlKeywordsFrom(words).build();
        assertThat(filter.toString()).contains("2 body keywords, 2 URL keywords");
        try (ProxyServer proxy = proxy(filter, null)) {
            assertThat(Wire.get(proxy, origin.baseUrl() + "/casino").status()).isEqualTo(403);
            assertThat(Wire.get(proxy, origin.baseUrl() + "/x?q=online%20poker").bodyText()).contains("URL blocked");
        }
        assertThatThrownBy(() -> KeywordFilter.builder().bodyKeywordsFrom(dir.resolve("missing.txt")))
                .hasMessageContaining("missing.txt");
    }

    @Test
    void builderValidatesArguments() {
        assertThatThrownBy(() -> KeywordFilter.blockPagesContaining("ok", " ")).hasMessageContaining("' '");
        assertThatThrownBy(() -> KeywordFilter.builder().build()).hasMessageContaining("no keywords");
        assertThatThrownBy(() -> KeywordFilter.builder().holdUpTo(DataSize.gibibytes(1))).hasMessageContaining("1GiB");
        assertThatThrownBy(() -> KeywordFilter.builder().maxDecodedSize(DataSize.bytes(10))).hasMessageContaining("10B");
    }

    /** The body of {@code reply}, de-chunked when it came chunked. */
    static byte[] body(RawHttp.Reply reply) {
        String te = reply.headers().get("transfer-encoding");
        return te != null && te.contains("chunked") ? dechunk(reply.body()) : reply.body();
    }

    /** Decodes a chunked body as RawHttp returns it raw. */
    static byte[] dechunk(byte[] raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int p = 0;
        while (p < raw.length) {
            int eol = indexOf(raw, p);
            int len = Integer.parseInt(new String(raw, p, eol - p, StandardCharsets.US_ASCII).split(";")[0].trim(), 16);
            if (len == 0) {
                break;
            }
            out.write(raw, eol + 2, len);
            p = eol + 2 + len + 2;
        }
        return out.toByteArray();
    }

    private static int indexOf(byte[] b, int from) {
        for (int i = from; i < b.length - 1; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n') {
                return i;
            }
        }
        throw new AssertionError("no CRLF after " + from);
    }
}
