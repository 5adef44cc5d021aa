package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.SubmissionPublisher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Exercises the cache SPI with a minimal cache written against it (the real one is proxy-cache). */
class CacheSpiTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("c")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/status", req -> {
                MockResponse status = MockResponse.status(Integer.parseInt(req.queryParameter("code").orElseThrow()));
                return req.queryParameter("etag").map(etag -> status.header("ETag", etag)).orElse(status);
            })
            .dispatcher(req -> MockResponse.ok("origin c " + req.path()));

    /** Stores every 200 GET whole (tests only), serves it afterwards; serves stale copies when the upstream fails. */
    static final class MapCache implements HttpCache {
        record Entry(int status, HttpHeaders headers, byte[] body) {
        }

        final Map<String, Entry> entries = new ConcurrentHashMap<>();

        @Override
        public CompletionStage<CacheLookup> lookup(Exchange exchange) {
            Entry e = entries.get(exchange.request().uri().toString());
            if (e != null && exchange.request().headers().get("X-Revalidate") == null) {
                HttpCache.recordStatus(exchange, CacheStatus.HIT);
                return CompletableFuture.completedFuture(CacheLookup.hit(response(e)));
            }
            if (e != null) {
                return CompletableFuture.completedFuture(CacheLookup.revalidate(new HttpHeaders().add("If-None-Match", "\"v1\""), e));
            }
            HttpCache.recordStatus(exchange, CacheStatus.MISS);
            return CompletableFuture.completedFuture(CacheLookup.miss());
        }

        @Override
        public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
            if (lookup.kind() == CacheLookup.Kind.REVALIDATE && response.status() == 304) {
                HttpCache.recordStatus(exchange, CacheStatus.REFRESH_UNMODIFIED);
                return CacheDecision.serve(response(lookup.state(Entry.class).orElseThrow()));
            }
            if (response.status() != 200 || !exchange.request().method().equals("GET")) {
                return CacheDecision.pass();
            }
            String key = exchange.request().uri().toString();
            HttpHeaders headers = new HttpHeaders(response.headers());
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            return CacheDecision.store(new CacheWriter() {
                @Override
                public void write(ByteBuffer chunk) {
                    byte[] b = new byte[chunk.remaining()];
                    chunk.get(b);
                    body.write(b, 0, b.length);
                }

                @Override
                public void complete() {
                    entries.put(key, new Entry(200, headers, body.toByteArray()));
                }

                @Override
                public void abort(Throwable cause) {
                }
            });
        }

        @Override
        public java.util.Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
            Entry e = entries.get(exchange.request().uri().toString());
            return java.util.Optional.ofNullable(e).map(MapCache::response);
        }

        static CachedResponse response(Entry e) {
            SubmissionPublisher<ByteBuffer> publisher = new SubmissionPublisher<>();
            CachedResponse r = new CachedResponse(e.status(), e.headers(), subscriber -> {
                publisher.subscribe(subscriber);
                publisher.submit(ByteBuffer.wrap(e.body()));
                publisher.close();
            });
            return r;
        }
    }

    private RawHttp.Reply get(ProxyServer proxy, String path, String... headers) throws Exception {
        StringBuilder sb = new StringBuilder("GET " + origin.baseUrl() + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        return RawHttp.exchange(proxy.port(), sb.append("Connection: close\r\n\r\n").toString());
    }

    @Test
    void secondRequestIsServedFromTheCacheWithoutTheOrigin() throws Exception {
        MapCache cache = new MapCache();
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache).build().start()) {
            assertThat(get(proxy, "/hello").bodyText()).isEqualTo("hello");
            assertThat(origin.requestCount()).isEqualTo(1);

            RawHttp.Reply hit = get(proxy, "/hello");
            assertThat(hit.status()).isEqualTo(200);
            assertThat(hit.bodyText()).isEqualTo("hello");
            assertThat(hit.headers().get("via")).endsWith(proxy.viaName());
            assertThat(origin.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void revalidationAddsConditionalHeadersAndServesTheStoredBodyOn304() throws Exception {
        MapCache cache = new MapCache();
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache).build().start()) {
            get(proxy, "/status?code=200");
            cache.entries.put(origin.baseUrl() + "/status?code=304",
                    new MapCache.Entry(200, new HttpHeaders().add("Content-Length", "6"), "stored".getBytes()));

            RawHttp.Reply reply = get(proxy, "/status?code=304", "X-Revalidate: 1");

            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.bodyText()).isEqualTo("stored");
            origin.takeRequest();
            assertThat(origin.takeRequest().headers().get("If-None-Match")).isEqualTo("\"v1\"");
        }
    }

    @Test
    void cacheCanServeAStoredResponseWhenTheUpstreamFails() throws Exception {
        MapCache cache = new MapCache();
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        cache.entries.put("http://127.0.0.1:" + closed + "/page",
                new MapCache.Entry(200, new HttpHeaders().add("Content-Length", "5"), "stale".getBytes()));
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().cache(cache).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "GET http://127.0.0.1:" + closed + "/page HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + closed + "\r\nX-Revalidate: 1\r\nConnection: close\r\n\r\n");

            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.bodyText()).isEqualTo("stale");
        }
    }
}
