package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.internal.Ranges;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testing.SettableClock;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Range requests that stored ranges answer only in part (RFC 9111 §3.3, §3.4), through the wire in both modes: the
 * cache asks the origin for the one missing run only ({@code Range} for it, {@code If-Range} with the stored strong
 * {@code ETag}), through the relay (the proxy's {@code Via}, the route's {@code Host}), answers the client from stored
 * and fetched bytes and stores the combination; a changed representation (If-Range fails) answers with its new 200,
 * which replaces the stored ranges. Stale stored ranges are revalidated, and a {@code HEAD} is never answered from
 * stored ranges.
 */
class MissingRangeThroughProxyTest {
    /** 1,000 bytes: "v1:0000 v1:0001 ..." so that any range names its own offsets. */
    private static final byte[] V1 = body("v1");
    private static final byte[] V2 = body("v2");

    @RegisterExtension
    final MockOrigin origin = MockOrigin.create();
    private final SettableClock clock = SettableClock.atWholeSecond();
    private final AtomicReference<byte[]> current = new AtomicReference<>(V1);
    private final AtomicReference<String> etag = new AtomicReference<>("\"v1\"");
    private final RecordingAccessLog log = new RecordingAccessLog();
    private final Semaphore stored = new Semaphore(0);
    private SharedCache cache;
    private ProxyServer proxy;
    private Mode mode;

    enum Mode { FORWARD, REVERSE }

    @AfterEach
    void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (cache != null) {
            cache.close();
        }
    }

    private static byte[] body(String version) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 1000; i++) {
            sb.append(version).append(':').append(String.format("%04d", i)).append(' ');
        }
        return sb.substring(0, 1000).getBytes(StandardCharsets.US_ASCII);
    }

    private static String slice(byte[] b, int first, int last) {
        return new String(b, first, last - first + 1, StandardCharsets.US_ASCII);
    }

    /**
     * Starts the origin (single ranges with 206, If-Range and If-None-Match against the current ETag, max-age=60) and
     * a proxy in {@code mode} with a cache from {@code store}.
     */
    private void start(Mode mode, UnaryOperator<HttpCaches.Builder> store) {
        this.mode = mode;
        origin.datesFrom(clock);
        origin.dispatcher(this::answer);
        origin.start();
        cache = store.apply(HttpCaches.builder().clock(clock)).build();
        cache.onStored(stored::release);
        ProxyServer.Builder b = ProxyServer.builder().via("edge").cache(cache).accessLog(log)
                .upstreamTimeout(Duration.ofSeconds(5));
        b = mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.host("shop.test").to(UpstreamPool.of(origin.baseUrl())));
        proxy = b.build().start();
    }

    private void start(Mode mode) {
        start(mode, b -> b.memory(DataSize.mebibytes(4)));
    }

    private MockResponse answer(RecordedRequest r) {
        byte[] b = current.get();
        String tag = etag.get();
        if (r.header("If-None-Match").filter(tag::equals).isPresent()) {
            return MockResponse.status(304).header("ETag", tag).header("Cache-Control", "max-age=60");
        }
        String range = r.header("Range").orElse(null);
        boolean ifRangeFails = r.header("If-Range").filter(v -> !v.equals(tag)).isPresent();
        long[] one = range == null || ifRangeFails ? null : Ranges.single(range, b.length);
        if (one == null || one == Ranges.UNSATISFIABLE) {
            return MockResponse.ok().body(b).header("ETag", tag).header("Cache-Control", "max-age=60")
                    .header("Content-Type", "text/plain");
        }
        byte[] part = Arrays.copyOfRange(b, (int) one[0], (int) (one[0] + one[1]));
        return MockResponse.status(206).body(part).header("ETag", tag).header("Cache-Control", "max-age=60")
                .header("Content-Type", "text/plain")
                .header("Content-Range", "bytes " + one[0] + "-" + (one[0] + one[1] - 1) + "/" + b.length);
    }

    private RawHttp.Reply send(String method, String... headers) throws Exception {
        StringBuilder sb = new StringBuilder(method).append(' ')
                .append(mode == Mode.FORWARD ? origin.url("/f") : "/f").append(" HTTP/1.1\r\n")
                .append("Host: ").append(mode == Mode.FORWARD ? origin.authority() : "shop.test").append("\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        sb.append("Connection: close\r\n\r\n");
        return RawHttp.exchange(proxy.port(), sb.toString());
    }

    private RawHttp.Reply get(String... headers) throws Exception {
        return send("GET", headers);
    }

    private void awaitStored() throws InterruptedException {
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("an entry was stored").isTrue();
    }

    private RecordedRequest take() throws InterruptedException {
        RecordedRequest r = origin.takeRequest(Duration.ofSeconds(5));
        assertThat(r).as("the origin got a request").isNotNull();
        return r;
    }

    /** The next access-log line of a background exchange (client {@code -}), skipping the clients' lines. */
    private AccessLogEntry backgroundLine() throws InterruptedException {
        for (int i = 0; i < 10; i++) {
            AccessLogEntry e = log.take();
            if ("-".equals(e.clientAddress())) {
                return e;
            }
        }
        throw new AssertionError("no background line among the next 10");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void onlyTheMissingTailIsAskedForAndTheClientGetsStoredAndFetchedBytes(Mode mode) throws Exception {
        start(mode);
        RawHttp.Reply first = get("Range: bytes=0-499");
        assertThat(first.status()).isEqualTo(206);
        RecordedRequest fill = take();
        assertThat(fill.header("Range")).hasValue("bytes=0-499");
        awaitStored();

        RawHttp.Reply reply = get("Range: bytes=0-999");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.headers().get("content-range")).isEqualTo("bytes 0-999/1000");
        assertThat(reply.headers().get("content-length")).isEqualTo("1000");
        assertThat(reply.headers().get("etag")).isEqualTo("\"v1\"");
        assertThat(reply.headers().get("cache-status")).isEqualTo("gatehouse; fwd=partial; fwd-status=206; stored");
        assertThat(reply.headers()).doesNotContainKey("gatehouse-stored-ranges");
        assertThat(reply.body()).isEqualTo(V1);
        assertThat(reply.closedCleanly()).isTrue();

        RecordedRequest gap = take();
        assertThat(gap.method()).isEqualTo("GET");
        assertThat(gap.header("Range")).as("only the bytes the cache lacks").hasValue("bytes=500-999");
        assertThat(gap.header("If-Range")).hasValue("\"v1\"");
        assertThat(gap.header("Via")).as("sent through the relay").hasValue("1.1 edge");
        assertThat(gap.header("Host")).as("the route's Host policy, as for the client's own request")
                .isEqualTo(fill.header("Host"));
        assertThat(gap.target()).isEqualTo(fill.target());
        AccessLogEntry background = backgroundLine();
        assertThat(background.background()).as("the cache's own exchange, not a client's").isTrue();
        assertThat(background.status()).isEqualTo(206);
        assertThat(background.cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.MISS);
        awaitStored();

        RawHttp.Reply whole = get();
        assertThat(whole.status()).as("the ranges combined into a complete entry").isEqualTo(200);
        assertThat(whole.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(whole.body()).isEqualTo(V1);
        assertThat(origin.requestCount()).isEqualTo(2);
    }

    @TempDir
    Path dir;

    @Test
    void aGapBetweenStoredRangesIsFetchedAloneAndSplicedFromTheDiskStore() throws Exception {
        start(Mode.FORWARD, b -> b.disk(dir, DataSize.mebibytes(16)));
        get("Range: bytes=0-199");
        awaitStored();
        get("Range: bytes=600-999");
        awaitStored();
        take();
        take();

        RawHttp.Reply reply = get("Range: bytes=100-899");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.headers().get("content-range")).isEqualTo("bytes 100-899/1000");
        assertThat(reply.bodyText()).isEqualTo(slice(V1, 100, 899));
        assertThat(take().header("Range")).hasValue("bytes=200-599");
        awaitStored();

        assertThat(get().body()).as("every byte is stored now").isEqualTo(V1);
        assertThat(origin.requestCount()).isEqualTo(3);
    }

    @Test
    void aMissingHeadIsFetchedBeforeTheStoredTail() throws Exception {
        start(Mode.REVERSE);
        get("Range: bytes=500-999");
        take();
        awaitStored();

        RawHttp.Reply reply = get("Range: bytes=300-");
        assertThat(reply.headers().get("content-range")).isEqualTo("bytes 300-999/1000");
        assertThat(reply.bodyText()).isEqualTo(slice(V1, 300, 999));
        assertThat(take().header("Range")).hasValue("bytes=300-499");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aChangedRepresentationAnswersWithItsNew200WhichReplacesTheStoredRanges(Mode mode) throws Exception {
        start(mode);
        get("Range: bytes=0-499");
        take();
        awaitStored();
        current.set(V2);
        etag.set("\"v2\"");

        RawHttp.Reply reply = get("Range: bytes=0-999");
        RecordedRequest gap = take();
        assertThat(gap.header("Range")).hasValue("bytes=500-999");
        assertThat(gap.header("If-Range")).hasValue("\"v1\"");
        assertThat(reply.status()).as("If-Range failed: the new representation, whole").isEqualTo(200);
        assertThat(reply.headers()).doesNotContainKey("content-range");
        assertThat(reply.body()).as("never v1 bytes mixed with v2 ones").isEqualTo(V2);
        assertThat(backgroundLine().cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.REFRESH_MODIFIED);
        awaitStored();

        RawHttp.Reply later = get("Range: bytes=0-9");
        assertThat(later.status()).isEqualTo(206);
        assertThat(later.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(later.bodyText()).isEqualTo(slice(V2, 0, 9));
        assertThat(origin.requestCount()).isEqualTo(2);
    }

    @Test
    void whenTheFetchFailsTheClientsOwnRequestGoesUpstream() throws Exception {
        start(Mode.FORWARD);
        get("Range: bytes=0-499");
        take();
        awaitStored();
        origin.enqueue(MockResponse.status(503).body("busy").header("Cache-Control", "no-store"));

        RawHttp.Reply reply = get("Range: bytes=0-999");
        assertThat(take().header("Range")).hasValue("bytes=500-999");
        assertThat(take().header("Range")).as("the client's own range, after the fetch failed").hasValue("bytes=0-999");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.headers().get("content-range")).isEqualTo("bytes 0-999/1000");
        assertThat(reply.body()).isEqualTo(V1);
    }

    @Test
    void aFetchedRunThatBreaksOffNeverLooksCompleteToTheClientAndIsNotStored() throws Exception {
        start(Mode.FORWARD);
        get("Range: bytes=0-499");
        take();
        awaitStored();
        origin.enqueue(MockResponse.status(206).body(Arrays.copyOfRange(V1, 500, 1000)).header("ETag", "\"v1\"")
                .header("Cache-Control", "max-age=60").header("Content-Range", "bytes 500-999/1000").abortAfter(100));

        RawHttp.Reply reply = get("Range: bytes=0-999");
        assertThat(take().header("Range")).hasValue("bytes=500-999");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.headers().get("content-length")).isEqualTo("1000");
        assertThat(reply.body().length).as("the stored 500 bytes, the 100 that came, then the end").isLessThan(1000);
        assertThat(new String(reply.body(), StandardCharsets.US_ASCII)).startsWith(slice(V1, 0, 599));

        RawHttp.Reply again = get("Range: bytes=0-999");
        assertThat(take().header("Range")).as("nothing of the broken run was stored").hasValue("bytes=500-999");
        assertThat(again.body()).isEqualTo(V1);
    }

    @Test
    void twoGapsSendTheWholeRangeUpstream() throws Exception {
        start(Mode.FORWARD);
        get("Range: bytes=100-199");
        take();
        awaitStored();
        get("Range: bytes=500-599");
        take();
        awaitStored();

        RawHttp.Reply reply = get("Range: bytes=0-999");
        assertThat(reply.body()).isEqualTo(V1);
        assertThat(take().header("Range")).as("not one contiguous gap: the client's range as it is")
                .hasValue("bytes=0-999");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void staleStoredRangesAreRevalidatedAndA304AnswersTheRangeFromThem(Mode mode) throws Exception {
        start(mode);
        get("Range: bytes=0-499");
        take();
        awaitStored();
        clock.advance(Duration.ofSeconds(120));

        RawHttp.Reply reply = get("Range: bytes=100-199");
        RecordedRequest validation = take();
        assertThat(validation.header("If-None-Match")).hasValue("\"v1\"");
        assertThat(validation.header("Range")).as("the client's range goes along").hasValue("bytes=100-199");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.headers().get("content-range")).isEqualTo("bytes 100-199/1000");
        assertThat(reply.headers().get("cache-status")).isEqualTo("gatehouse; fwd=stale; fwd-status=304");
        assertThat(reply.bodyText()).isEqualTo(slice(V1, 100, 199));
        assertThat(log.take().cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.MISS);
        assertThat(log.take().cacheStatus()).isEqualTo(io.github.gatehouse.core.CacheStatus.REFRESH_UNMODIFIED);

        RawHttp.Reply fresh = get("Range: bytes=0-99");
        assertThat(fresh.headers().get("cache-status")).as("the 304 freshened the stored ranges")
                .startsWith("gatehouse; hit");
        assertThat(fresh.bodyText()).isEqualTo(slice(V1, 0, 99));
        assertThat(origin.requestCount()).isEqualTo(2);
    }

    @Test
    void staleStoredRangesOfAChangedRepresentationAreReplacedByTheOriginsAnswer() throws Exception {
        start(Mode.FORWARD);
        get("Range: bytes=0-499");
        take();
        awaitStored();
        clock.advance(Duration.ofSeconds(120));
        current.set(V2);
        etag.set("\"v2\"");

        RawHttp.Reply reply = get("Range: bytes=100-199");
        assertThat(take().header("If-None-Match")).hasValue("\"v1\"");
        assertThat(reply.status()).isEqualTo(206);
        assertThat(reply.bodyText()).isEqualTo(slice(V2, 100, 199));
        awaitStored();

        RawHttp.Reply again = get("Range: bytes=120-129");
        assertThat(again.headers().get("cache-status")).startsWith("gatehouse; hit");
        assertThat(again.bodyText()).isEqualTo(slice(V2, 120, 129));
        assertThat(get("Range: bytes=0-9").bodyText()).as("no v1 range is left to answer from").isEqualTo(slice(V2, 0, 9));
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aHeadIsNeverAnsweredFromStoredRanges(Mode mode) throws Exception {
        start(mode);
        get("Range: bytes=0-499");
        take();
        awaitStored();

        RawHttp.Reply head = send("HEAD");
        RecordedRequest forwarded = take();
        assertThat(forwarded.method()).as("RFC 9111 §3.3: an incomplete response answers only a range within it")
                .isEqualTo("HEAD");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.headers().get("content-length")).isEqualTo("1000");
        assertThat(head.headers()).doesNotContainKey("content-range");
        assertThat(head.body()).isEmpty();
    }
}
