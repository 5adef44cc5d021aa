package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Header copying done once per exchange in each direction: {@link HeaderRules#clientRequestFields} (client request
 * to the exchange's {@link HttpHeaders}), {@link HeaderRules#upstreamResponseFields} (upstream response head), and
 * the copy of our {@link HttpHeaders} into Jetty's mutable fields that {@code UpstreamRelay.copyRequestHeaders} and
 * {@code RelayHandler.prepareResponse} do afterwards. Header sets are those of a typical browser request and of the
 * bench origin's (nginx) response.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class HeaderRulesBenchmark {
    private HttpFields browserRequest;
    private HttpFields connectionListedRequest;
    private HttpFields originResponse;
    private HttpHeaders requestHeaders;

    @Setup
    public void setUp() {
        browserRequest = HttpFields.build()
                .add(HttpHeader.HOST, "shop.example")
                .add(HttpHeader.USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
                .add(HttpHeader.ACCEPT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
                .add(HttpHeader.ACCEPT_LANGUAGE, "en-GB,en;q=0.5")
                .add(HttpHeader.ACCEPT_ENCODING, "gzip, deflate, br, zstd")
                .add(HttpHeader.REFERER, "https://shop.example/catalog?page=2")
                .add(HttpHeader.CONNECTION, "keep-alive")
                .add(HttpHeader.COOKIE, "session=0123456789abcdef; theme=dark")
                .add("Upgrade-Insecure-Requests", "1")
                .add("Sec-Fetch-Dest", "document")
                .add("Sec-Fetch-Mode", "navigate")
                .add("Sec-Fetch-Site", "same-origin")
                .add(HttpHeader.PRAGMA, "no-cache")
                .add(HttpHeader.CACHE_CONTROL, "no-cache")
                .asImmutable();
        connectionListedRequest = HttpFields.build(browserRequest)
                .put(HttpHeader.CONNECTION, "keep-alive, X-Trace-Hop, Upgrade")
                .add("X-Trace-Hop", "1")
                .add(HttpHeader.TE, "trailers")
                .asImmutable();
        originResponse = HttpFields.build()
                .add(HttpHeader.SERVER, "nginx")
                .add(HttpHeader.DATE, "Thu, 26 Nov 2026 18:00:00 GMT")
                .add(HttpHeader.CONTENT_TYPE, "application/octet-stream")
                .add(HttpHeader.CONTENT_LENGTH, "1024")
                .add(HttpHeader.LAST_MODIFIED, "Thu, 26 Nov 2026 17:00:00 GMT")
                .add(HttpHeader.CONNECTION, "keep-alive")
                .add(HttpHeader.ETAG, "\"6566f0c0-400\"")
                .add("X-Origin", "18080")
                .add(HttpHeader.CACHE_CONTROL, "max-age=3600")
                .add(HttpHeader.ACCEPT_RANGES, "bytes")
                .asImmutable();
        requestHeaders = HeaderRules.clientRequestFields(browserRequest, null);
    }

    @Benchmark
    public HttpHeaders clientRequestFields() {
        return HeaderRules.clientRequestFields(browserRequest, null);
    }

    @Benchmark
    public HttpHeaders clientRequestFieldsConnectionListed() {
        return HeaderRules.clientRequestFields(connectionListedRequest, "Authorization");
    }

    @Benchmark
    public HttpHeaders upstreamResponseFields() {
        return HeaderRules.upstreamResponseFields(originResponse);
    }

    @Benchmark
    public boolean acceptsTrailers() {
        return HeaderRules.acceptsTrailers(browserRequest);
    }

    /** What {@code UpstreamRelay.copyRequestHeaders} does first: our header list into Jetty's request fields. */
    @Benchmark
    public HttpFields.Mutable copyIntoJettyFields() {
        HttpFields.Mutable out = HttpFields.build();
        requestHeaders.forEachField(out::add);
        return out;
    }
}
