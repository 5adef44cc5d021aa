package io.github.gatehouse.cache;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.cache.internal.CacheEngine;
import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.ResponseHead;
import java.net.URI;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The cache {@link HttpCaches} builds: an RFC 9111 shared cache that is the {@link HttpCache} you hand to
 * {@code ProxyServer.Builder.cache(...)}, and the handle for its purges and {@link #stats()}. It is the only cache type
 * users hold: {@link HttpCache} is the SPI core calls (implement it only to write a cache of your own), and
 * {@link HttpCaches} is where one is made ({@link HttpCaches#memory} or {@link HttpCaches#builder()}).
 *
 * <pre>{@code
 * SharedCache cache = HttpCaches.memory(DataSize.mebibytes(256));
 * ProxyServer proxy = ProxyServer.builder().listen(3128).forward().cache(cache).build().start();
 * cache.purgeTag("product-42", PurgeMode.SOFT);
 * }</pre>
 *
 * <p>It stores responses to {@code GET} that RFC 9111 §3 lets a shared cache store, serves them while fresh
 * (s-maxage, max-age, Expires, or 10% of the Last-Modified age where a heuristic is allowed), honours the request's
 * and the response's {@code Cache-Control} directives, keeps {@code Vary} variants side by side, revalidates stale
 * entries with {@code If-None-Match} / {@code If-Modified-Since} and updates them from 304s, answers clients'
 * conditional and range requests from stored entries (several ranges as {@code multipart/byteranges}), stores
 * single-range 206 responses that carry a strong {@code ETag} and combines the ranges of one representation (RFC 9111
 * §3.3, §3.4), and invalidates after unsafe methods. Concurrent
 * misses for one key are collapsed onto one upstream request; {@code stale-while-revalidate} revalidates in the
 * background and {@code stale-if-error} serves stale entries when the upstream fails. Every response it touches
 *  carries a {@code Cache-Status} member (RFC 9211) and {@link Exchange#cacheStatus()} is one of {@code HIT},
 * {@code MISS}, {@code STALE}, {@code REFRESH_UNMODIFIED}, {@code REFRESH_MODIFIED} (and {@code PURGE}).
 *
 * <p><b>Privacy.</b> What one client's request caused is not handed to another: a response that sets a cookie is
 * stored only when the origin marks it {@code public} or gives it {@code s-maxage} (or keeps the cookie out with a
 * qualified {@code private} / {@code no-cache}), and the stored copy's {@code Set-Cookie} is withheld from every
 * response served from the cache unless {@link HttpCaches.Builder#replaySetCookie} says otherwise. The fields named
 * by {@code private="..."} and {@code no-cache="..."} are never stored (RFC 9111 §5.2.2.4, §5.2.2.7). A {@code GET}
 * or {@code HEAD} that carries a body is neither answered from the cache nor stored (its answer may depend on the
 * body, which the key does not cover); it goes upstream with {@code Cache-Status: ...; fwd=bypass;
 * detail=request-body}.
 *
 * <p><b>Cache rules.</b> For origins that describe neither freshness nor validators (package mirrors, artefact
 * stores), {@link CacheRule}s added with {@link HttpCaches.Builder#rule} say how long matching URLs stay fresh, as
 * Squid's {@code refresh_pattern} does; explicit freshness from the origin still wins unless a rule overrides it.
 *
 * <p><b>Fills.</b> When the client whose request is filling an entry goes away, the fill goes on while collapsed
 * requests still read it, so they get the whole body; when nobody waits any more it goes on only within
 * {@link HttpCaches.Builder#finishWithoutClient}. Followers see an aborted body only when the origin's body broke
 * (or the body outgrew {@link HttpCaches.Builder#maxObjectSize}).
 *
 * <p>Purges remove entries ({@link PurgeMode#HARD}) or mark them stale ({@link PurgeMode#SOFT}), by URL, by key
 * prefix, or by a tag listed in the {@code Surrogate-Key} response header (configurable); a purge by tag goes
 * through an index of tags, so it costs in proportion to the entries that have the tag.
 *
 * <p><b>Threading.</b> Thread-safe; the {@link HttpCache} methods are called from I/O threads and never block. The
 * purge methods and {@link #stats()} may be called from any thread; they walk the store's in-memory index.
 */
public final class SharedCache implements HttpCache, AutoCloseable {
    private final CacheEngine engine;
    private final String description;

    SharedCache(CacheEngine engine, String description) {
        this.engine = engine;
        this.description = description;
    }

    @Override
    public CompletionStage<CacheLookup> lookup(Exchange exchange) {
        return engine.lookup(exchange);
    }

    @Override
    public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
        return engine.onUpstreamResponse(exchange, lookup, response);
    }

    /** Background revalidations ({@code stale-while-revalidate}) go through {@code relay}; the proxy calls this. */
    @Override
    public void attach(io.github.gatehouse.core.RelayAccess relay) {
        engine.attach(relay);
    }

    @Override
    public Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
        return engine.onUpstreamFailure(exchange, lookup, failure);
    }

    /** A snapshot of the counters. */
    public CacheStats stats() {
        return engine.stats();
    }

    /** The counters metrics and the admin page read (core's stats SPI): hits, misses, stale, evictions, size. */
    @Override
    public Optional<io.github.gatehouse.core.CacheCounters> counters() {
        return Optional.of(engine.counters());
    }

    /**
     * Purges every variant stored for {@code url} (an absolute {@code http} or {@code https} URI, compared in the
     * normal form of {@link CacheKeyPolicy#normalize}).
     *
     * @return the number of entries purged
     */
    public long purge(URI url, PurgeMode mode) {
        requireNonNull(url, "url");
        requireNonNull(mode, "mode");
        if (!url.isAbsolute()) {
            throw new IllegalArgumentException("url: " + url + " (expected: an absolute http or https URI)");
        }
        return engine.purgeUrl(url, mode);
    }

    /**
     * Purges every entry whose URL starts with {@code prefix}, such as {@code http://shop.example/img/} (the
     * default port is filled in, so {@code http://shop.example:80/img/} is the same prefix).
     *
     * @return the number of entries purged
     */
    public long purgePrefix(URI prefix, PurgeMode mode) {
        requireNonNull(prefix, "prefix");
        requireNonNull(mode, "mode");
        if (!prefix.isAbsolute()) {
            throw new IllegalArgumentException("prefix: " + prefix + " (expected: an absolute http or https URI)");
        }
        String normal = CacheKeyPolicy.normalize(prefix, true);
        return engine.purgePrefix(normal, mode);
    }

    /**
     * Purges every entry whose tag header (by default {@code Surrogate-Key}, space-separated tags) lists {@code tag}.
     *
     * @return the number of entries purged
     */
    public long purgeTag(String tag, PurgeMode mode) {
        requireNonNull(tag, "tag");
        requireNonNull(mode, "mode");
        return engine.purgeTag(tag, mode);
    }

    /**
     * Runs {@code listener} after each entry became servable, on the thread that stored it: for tests in this package
     * that await a store instead of polling {@link #stats()} (package-private: not API).
     */
    void onStored(Runnable listener) {
        engine.onStored(listener);
    }

    /**
     * Where this instance's hits came from and the cluster's members, when the cache is shared
     * ({@link HttpCaches.Builder#cluster}); empty otherwise.
     */
    public java.util.Optional<SharedTierStats> sharedTier() {
        CacheStore store = engine.store();
        if (!(store instanceof io.github.gatehouse.cache.internal.SharedTier)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(((io.github.gatehouse.cache.internal.SharedTier) store).stats());
    }

    /** The store (tests in this package). */
    CacheStore store() {
        return engine.store();
    }

    /** Stops background work and closes the store (a disk store keeps its files for the next start). */
    @Override
    public void close() {
        engine.close();
    }

    @Override
    public String toString() {
        return "SharedCache{" + description + "}";
    }
}
