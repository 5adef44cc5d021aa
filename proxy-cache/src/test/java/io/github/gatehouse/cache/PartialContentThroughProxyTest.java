package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.Ranges;
import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Partial content through the wire (RFC 9111 §3.3, §3.4; RFC 9110 §14): an origin that answers single ranges with
 * 206, a strong ETag and freshness; the cache stores the ranges, combines those of the same representation, answers
 * later range requests (one range or several, as {@code multipart/byteranges}) from what it holds, and becomes a
 * complete entry once every byte is there.
 */
class PartialContentThroughProxyTest {
    /** 1,000 bytes: "000 001 002 ..." so that any range names its own offsets. */
    private static final byte[] BODY = body("v1");
    private CacheProxy t;

    @AfterEach
    void stop() throws Exception {
        if (t != null) {
            t.close();
        }
    }

    private static byte[] body(String version) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 1000; i++) {
            sb.append(version).append(':').append(String.format("%04d", i)).append(' ');
        }
        return sb.substring(0, 1000).getBytes(StandardCharsets.US_ASCII);
    }

    /** An origin that serves single ranges of {@code body} with {@code etag} (strong unless given W/). */
    private static Function<RecordedRequest, MockResponse> rangeOrigin(AtomicReference<byte[]> body, AtomicReference<String> etag) {
        return r -> {
            byte[] b = body.get();
            String range = r.headers().get("Range");
            long[] one = range == null ? null : Ranges.single(range, b.length);
            if (one == null || one == Ranges.UNSATISFIABLE) {
                return MockResponse.status(200).body(b).header("ETag", etag.get()).header("Cache-Control", "max-age=3600");
            }
            byte[] part = Arrays.copyOfRange(b, (int) one[0], (int) (one[0] + one[1]));
            return MockResponse.status(206).body(part).header("ETag", etag.get()).header("Cache-Control", "max-age=3600")
                    .header("Content-Type", "text/plain")
                    .header("Content-Range", "bytes " + one[0] + "-" + (one[0] + one[1] - 1) + "/" + b.length);
        };
    }

    private static String slice(byte[] b, int first, int last) {
        return new String(b, first, last - first + 1, StandardCharsets.US_ASCII);
    }

    @Test
    void aStoredRangeAnswersTheSameRangeAndRangesWithinIt() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));

        RawHttp.Reply miss = t.get("/f", "Range: bytes=100-299");
        assertThat(miss.status()).isEqualTo(206);
        assertThat(miss.headers().get("cache-status")).isEqualTo("gatehouse; fwd=uri-miss; fwd-status=206; stored");
        assertThat(t.loggedCacheStatus()).isEqualTo("MISS");

        RawHttp.Reply hit = t.get("/f", "Range: bytes=100-299");
        assertThat(hit.status()).isEqualTo(206);
        assertThat(hit.headers().get("content-range")).isEqualTo("bytes 100-299/1000");
        assertThat(hit.headers().get("content-length")).isEqualTo("200");
        assertThat(hit.headers().get("etag")).isEqualTo("\"v1\"");
        assertThat(hit.headers().get("cache-status")).startsWith("gatehouse; hit; ttl=").endsWith("; detail=partial");
        assertThat(hit.headers()).doesNotContainKey("gatehouse-stored-ranges");
        assertThat(hit.bodyText()).isEqualTo(slice(BODY, 100, 299));
        assertThat(t.loggedCacheStatus()).isEqualTo("HIT");

        RawHttp.Reply inside = t.get("/f", "Range: bytes=150-159");
        assertThat(inside.status()).isEqualTo(206);
        assertThat(inside.headers().get("content-range")).isEqualTo("bytes 150-159/1000");
        assertThat(inside.bodyText()).isEqualTo(slice(BODY, 150, 159));
        assertThat(t.origin.requestCount("/f")).as("the stored range answered both").isEqualTo(1);

        RawHttp.Reply beyond = t.get("/f", "Range: bytes=250-349");
        assertThat(beyond.status()).isEqualTo(206);
        assertThat(beyond.bodyText()).isEqualTo(slice(BODY, 250, 349));
        assertThat(t.origin.requestCount("/f")).as("bytes 300-349 were not stored: the request went upstream").isEqualTo(2);

        RawHttp.Reply whole = t.get("/f");
        assertThat(whole.status()).as("a partial entry never answers a request for the whole").isEqualTo(200);
        assertThat(whole.body()).isEqualTo(BODY);
        assertThat(t.origin.requestCount("/f")).isEqualTo(3);
    }

    @Test
    void rangesOfTheSameRepresentationCombineIntoACompleteEntry() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));
        t.get("/f", "Range: bytes=0-399");
        t.get("/f", "Range: bytes=700-");
        t.get("/f", "Range: bytes=300-799"); // overlaps both: the union is every byte

        RawHttp.Reply spanning = t.get("/f", "Range: bytes=350-750");
        assertThat(spanning.status()).isEqualTo(206);
        assertThat(spanning.bodyText()).isEqualTo(slice(BODY, 350, 750));
        RawHttp.Reply whole = t.get("/f");
        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.headers().get("content-length")).isEqualTo("1000");
        assertThat(whole.headers()).doesNotContainKey("content-range");
        assertThat(whole.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(whole.body()).isEqualTo(BODY);
        assertThat(t.origin.requestCount("/f")).as("three ranges from the origin, then everything from the cache").isEqualTo(3);
        assertThat(t.cache.stats().entries()).as("the ranges became one complete entry").isEqualTo(1);
    }

    @Test
    void severalRangesAreAnsweredAsMultipartByterangesFromStoredRanges() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));
        t.get("/f", "Range: bytes=0-99");
        t.get("/f", "Range: bytes=500-599");

        RawHttp.Reply multi = t.get("/f", "Range: bytes=500-509, 10-19");
        assertThat(multi.status()).isEqualTo(206);
        assertThat(t.origin.requestCount("/f")).isEqualTo(2);
        assertThat(multi.headers().get("content-length")).isEqualTo(Integer.toString(multi.body().length));
        List<Part> parts = multipart(multi);
        assertThat(parts).extracting(Part::contentRange).containsExactly("bytes 10-19/1000", "bytes 500-509/1000");
        assertThat(parts).extracting(Part::contentType).containsOnly("text/plain");
        assertThat(parts).extracting(Part::body).containsExactly(slice(BODY, 10, 19), slice(BODY, 500, 509));

        RawHttp.Reply notAll = t.get("/f", "Range: bytes=10-19, 200-209");
        assertThat(notAll.status()).as("200-209 is not stored: forwarded, and the origin answers").isIn(200, 206);
        assertThat(t.origin.requestCount("/f")).isEqualTo(3);
    }

    @Test
    void aNewRepresentationReplacesTheStoredRangesInsteadOfMixingWithThem() throws Exception {
        t = CacheProxy.memory();
        AtomicReference<byte[]> body = new AtomicReference<>(BODY);
        AtomicReference<String> etag = new AtomicReference<>("\"v1\"");
        t.origin.serve("/f", rangeOrigin(body, etag));
        t.get("/f", "Range: bytes=0-499");
        byte[] v2 = body("v2");
        body.set(v2);
        etag.set("\"v2\"");
        t.get("/f", "Range: bytes=500-999"); // "v2" bytes: must not be combined with the "v1" ones

        RawHttp.Reply whole = t.get("/f");
        assertThat(whole.body()).isEqualTo(v2);
        assertThat(t.origin.requestCount("/f")).as("no complete entry was made of two representations").isEqualTo(3);
        RawHttp.Reply first = t.get("/f", "Range: bytes=0-9");
        assertThat(first.bodyText()).isEqualTo(slice(v2, 0, 9));
    }

    @Test
    void rangesWithoutAStrongValidatorAreNotStored() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/weak", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("W/\"v1\"")));
        RawHttp.Reply first = t.get("/weak", "Range: bytes=0-9");
        assertThat(first.headers().get("cache-status")).isEqualTo("gatehouse; fwd=uri-miss; fwd-status=206");
        t.get("/weak", "Range: bytes=0-9");
        assertThat(t.origin.requestCount("/weak")).isEqualTo(2);

        t.origin.serve("/none", r -> MockResponse.status(206).body("0123456789").header("Cache-Control", "max-age=60")
                .header("Content-Range", "bytes 0-9/1000"));
        t.get("/none", "Range: bytes=0-9");
        t.get("/none", "Range: bytes=0-9");
        assertThat(t.origin.requestCount("/none")).isEqualTo(2);
    }

    @Test
    void aStoredRangeIsNotUsedWhenIfRangeNamesAnotherRepresentation() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));
        t.get("/f", "Range: bytes=0-99");
        t.get("/f", "Range: bytes=0-99", "If-Range: \"v1\"");
        assertThat(t.origin.requestCount("/f")).as("If-Range matches: served from the stored range").isEqualTo(1);
        t.get("/f", "Range: bytes=0-99", "If-Range: \"v0\"");
        assertThat(t.origin.requestCount("/f")).as("If-Range names another representation: the origin decides").isEqualTo(2);
    }

    @Test
    void severalRangesOfACompleteEntryAreMultipartAndTooManyAreAWhole200() throws Exception {
        t = CacheProxy.memory();
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));
        t.get("/f");

        RawHttp.Reply multi = t.get("/f", "Range: bytes=0-4,900-904");
        assertThat(multi.status()).isEqualTo(206);
        assertThat(multi.headers().get("content-type")).startsWith("multipart/byteranges; boundary=");
        assertThat(multipart(multi)).extracting(Part::body).containsExactly(slice(BODY, 0, 4), slice(BODY, 900, 904));

        RawHttp.Reply coalesced = t.get("/f", "Range: bytes=10-19,15-29");
        assertThat(coalesced.status()).isEqualTo(206);
        assertThat(coalesced.headers().get("content-range")).as("overlapping ranges coalesce into one part")
                .isEqualTo("bytes 10-29/1000");

        StringBuilder many = new StringBuilder("Range: bytes=");
        for (int i = 0; i < 17; i++) { // 17 ranges 58 bytes apart: coalesced into one part, as they nearly touch
            many.append(i == 0 ? "" : ",").append(i * 58).append('-').append(i * 58 + 1);
        }
        assertThat(t.get("/f", many.toString()).headers().get("content-range")).isEqualTo("bytes 0-929/1000");
        byte[] big = new byte[17 * 200];
        Arrays.fill(big, (byte) 'x');
        t.origin.serve("/big", rangeOrigin(new AtomicReference<>(big), new AtomicReference<>("\"b\"")));
        t.get("/big");
        StringBuilder apart = new StringBuilder("Range: bytes=");
        for (int i = 0; i < 17; i++) {
            apart.append(i == 0 ? "" : ",").append(i * 200).append('-').append(i * 200 + 1);
        }
        RawHttp.Reply tooMany = t.get("/big", apart.toString());
        assertThat(tooMany.status()).as("17 parts are not worth it").isEqualTo(200);
        assertThat(tooMany.body()).isEqualTo(big);
        RawHttp.Reply sixteen = t.get("/big", apart.substring(0, apart.lastIndexOf(",")));
        assertThat(multipart(sixteen)).hasSize(16);
        assertThat(t.origin.requestCount("/f")).isEqualTo(1);
        assertThat(t.origin.requestCount("/big")).isEqualTo(1);
    }

    @Test
    void aMultipartAnswerFromTheOriginIsPassedOnAndNotStored() throws Exception {
        t = CacheProxy.memory();
        String mp = "--B\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n--B\r\nContent-Range: bytes 5-6/10\r\n\r\n56\r\n--B--\r\n";
        t.origin.serve("/m", MockResponse.status(206).body(mp).header("ETag", "\"m\"").header("Cache-Control", "max-age=60")
                .header("Content-Type", "multipart/byteranges; boundary=B"));
        RawHttp.Reply first = t.get("/m", "Range: bytes=0-1,5-6");
        assertThat(first.bodyText()).isEqualTo(mp);
        t.get("/m", "Range: bytes=0-1,5-6");
        assertThat(t.origin.requestCount("/m")).isEqualTo(2);
    }

    @TempDir
    Path dir;

    @Test
    void onTheDiskStoreRangesCombineToo() throws Exception {
        t = CacheProxy.with(b -> b.disk(dir, DataSize.mebibytes(64)));
        Semaphore stored = new Semaphore(0);
        t.cache.onStored(stored::release);
        t.origin.serve("/f", rangeOrigin(new AtomicReference<>(BODY), new AtomicReference<>("\"v1\"")));
        t.get("/f", "Range: bytes=0-599");
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).isTrue();
        t.get("/f", "Range: bytes=600-999");
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).isTrue();

        RawHttp.Reply whole = t.get("/f");
        assertThat(whole.status()).isEqualTo(200);
        assertThat(whole.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(whole.body()).isEqualTo(BODY);
        assertThat(t.get("/f", "Range: bytes=590-609").bodyText()).isEqualTo(slice(BODY, 590, 609));
        assertThat(t.origin.requestCount("/f")).isEqualTo(2);
    }

    private record Part(String contentType, String contentRange, String body) {
    }

    /** Splits a {@code multipart/byteranges} body by the boundary its Content-Type names. */
    private static List<Part> multipart(RawHttp.Reply reply) {
        String type = reply.headers().get("content-type");
        assertThat(type).startsWith("multipart/byteranges; boundary=");
        String boundary = type.substring(type.indexOf("boundary=") + 9);
        String text = new String(reply.body(), StandardCharsets.ISO_8859_1);
        assertThat(text).endsWith("\r\n--" + boundary + "--\r\n");
        List<Part> parts = new ArrayList<>();
        for (String chunk : text.substring(0, text.length() - ("\r\n--" + boundary + "--\r\n").length())
                .split("(\r\n)?--" + java.util.regex.Pattern.quote(boundary) + "\r\n")) {
            if (chunk.isEmpty()) {
                continue;
            }
            int blank = chunk.indexOf("\r\n\r\n");
            String ct = null;
            String cr = null;
            for (String line : chunk.substring(0, blank).split("\r\n")) {
                String[] nv = line.split(":", 2);
                if (nv[0].equalsIgnoreCase("Content-Type")) {
                    ct = nv[1].trim();
                } else if (nv[0].equalsIgnoreCase("Content-Range")) {
                    cr = nv[1].trim();
                }
            }
            parts.add(new Part(ct, cr, chunk.substring(blank + 4)));
        }
        return parts;
    }
}
