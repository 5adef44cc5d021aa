package io.github.gatehouse.cache.testing;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.time.Duration;
import java.util.function.UnaryOperator;

/** A forward proxy with a {@link SharedCache} in front of a {@link MockOrigin}, and raw HTTP helpers. */
public final class CacheProxy implements AutoCloseable {
    public final MutableClock clock = MutableClock.atWholeSecond();
    public final MockOrigin origin;
    public final SharedCache cache;
    /** What the proxy calls: {@link #cache}, counting its lookups. */
    public final ObservedCache observed;
    public final ProxyServer proxy;
    /** The access-log lines of client exchanges; the cache's background exchanges go to {@link #background}. */
    public final RecordingAccessLog log = new RecordingAccessLog();
    /** The access-log lines of background exchanges (client {@code -}): the cache's own revalidations. */
    public final RecordingAccessLog background = new RecordingAccessLog();
    private final io.github.gatehouse.core.AccessLog split = entry -> ("-".equals(entry.clientAddress()) ? background : log).log(entry);

    private CacheProxy(UnaryOperator<HttpCaches.Builder> config, UnaryOperator<ProxyServer.Builder> proxyConfig)
            throws Exception {
        origin = MockOrigin.named("origin").datesFrom(clock).start();
        cache = config.apply(HttpCaches.builder().clock(clock)).build();
        observed = new ObservedCache(cache);
        proxy = proxyConfig.apply(ProxyServer.builder().forward().allowAllInternalDestinations().cache(observed).accessLog(split)
                .upstreamTimeout(Duration.ofSeconds(5))).build().start();
    }

    public static CacheProxy memory() throws Exception {
        return with(b -> b.memory(DataSize.mebibytes(16)));
    }

    public static CacheProxy with(UnaryOperator<HttpCaches.Builder> config) throws Exception {
        return new CacheProxy(config, b -> b);
    }

    public static CacheProxy with(UnaryOperator<HttpCaches.Builder> config, UnaryOperator<ProxyServer.Builder> proxyConfig)
            throws Exception {
        return new CacheProxy(config, proxyConfig);
    }

    /** {@code METHOD http://origin/path} through the proxy with extra header lines such as {@code "Accept: x"}. */
    public RawHttp.Reply send(String method, String path, String... headers) throws Exception {
        return sendBody(method, path, null, headers);
    }

    public RawHttp.Reply sendBody(String method, String path, String body, String... headers) throws Exception {
        StringBuilder sb = new StringBuilder(method + " " + origin.url(path) + " HTTP/1.1\r\nHost: 127.0.0.1:"
                + origin.port() + "\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        if (body != null) {
            sb.append("Content-Length: ").append(body.length()).append("\r\n");
        }
        sb.append("Connection: close\r\n\r\n");
        if (body != null) {
            sb.append(body);
        }
        RawHttp.Reply reply = RawHttp.exchange(proxy.port(), sb.toString());
        io.github.gatehouse.core.AccessLogEntry entry = log.take();
        statuses.add(String.valueOf(entry.cacheStatus()));
        return reply;
    }

    public RawHttp.Reply get(String path, String... headers) throws Exception {
        return send("GET", path, headers);
    }

    /**
     * The cache status the access log recorded for the next finished exchange. Every {@link #sendBody} waits for its
     * exchange's log line (written once the cache writer completed), so what one request stored is visible to the
     * next.
     */
    public String loggedCacheStatus() throws Exception {
        String s = statuses.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        if (s == null) {
            throw new AssertionError("no access log line within 5 s");
        }
        return s;
    }

    private final java.util.concurrent.BlockingQueue<String> statuses = new java.util.concurrent.LinkedBlockingQueue<>();

    public void advance(Duration d) {
        clock.advance(d);
    }

    @Override
    public void close() throws Exception {
        proxy.close();
        cache.close();
        origin.close();
    }
}
