package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.CacheStatus;
import io.github.gatehouse.cache.CacheRule;
import io.github.gatehouse.cache.CacheStats;
import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RelayAccess;
import io.github.gatehouse.core.RequestHead;
import io.github.gatehouse.core.ResponseHead;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RFC 9111 shared cache behind {@code SharedCache}: the lookup (freshness, request directives, stale serving,
 * the choice between hit, revalidation and miss), the upstream's answer (validation and 304 updates, storing or not,
 * stale-if-error) and background revalidation. The other concerns live in their own classes:
 * <ul>
 *   <li>{@link Collapser} and {@link EntryWriter}: request collapsing, fills and writing entries;</li>
 *   <li>{@link Storability}: what may be stored, the governing directives, cache rules;</li>
 *   <li>{@link Responder} and {@link PartialContent}: serving, conditionals and ranges;</li>
 *   <li>{@link VariantIndex}: the variants of each URL;</li>
 *   <li>{@link Invalidation}: purges, the tag index, invalidation after unsafe methods.</li>
 * </ul>
 * Each exchange's outcome is a {@link CacheStatus}, which the access log prints and the counters count.
 *
 * <p><b>Threading.</b> Thread-safe and non-blocking: called concurrently from I/O threads. Shared state is the store
 * (thread-safe), the indexes and the fill map (concurrent maps) and the counters ({@code LongAdder}s); each
 * exchange's own state travels in {@link CacheLookup#state()} as a {@link Pending}.
 */
public final class CacheEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.class);
    /** Separates the primary key from the secondary (variant) key in store keys. */
    public static final char VARIANT_SEPARATOR = VariantIndex.SEPARATOR;
    private static final Set<String> NOT_UPDATED_BY_304 = Set.of("content-length", "via", "cache-status",
            "transfer-encoding", "connection", "keep-alive", "age");
    /** The error responses that stale-if-error covers (RFC 5861 §4); others pass on to the client as they are. */
    private static final Set<Integer> STALE_IF_ERROR_STATUSES = Set.of(500, 502, 503, 504);

    private final CacheConfig config;
    private final CacheStore store;
    /** The shared tier when the store is one (several instances), else null: lookups read it before the index. */
    private final SharedTier grid;
    private final Counters counters = new Counters();
    private final VariantIndex variants;
    private final Storability storability;
    private final Responder responder;
    private final Invalidation invalidation;
    private final Collapser collapser;
    private final PartialContent partial;
    private final Set<String> revalidating = ConcurrentHashMap.newKeySet();
    /**
     * Primary keys whose last answer could not be stored ("hit-for-miss", as Varnish calls it), for
     * {@link #HIT_FOR_MISS}: their misses go upstream at once, side by side, instead of waiting for each other's fill
     * (and, in a cluster, without a grid read, a fill lease and its release announced to every member). An answer
     * that can be stored is still stored, and ends the mark.
     */
    private final com.github.benmanes.caffeine.cache.Cache<String, Boolean> hitForMiss;
    /** How long a key stays marked after an answer that could not be stored (Varnish's default). */
    static final java.time.Duration HIT_FOR_MISS = java.time.Duration.ofSeconds(120);
    /** How background revalidations reach the upstream: the proxy's relay, once it attached this cache; else null. */
    private volatile RelayAccess relay;
    /** Run after each entry became servable; empty but in tests that await a store (see {@link #onStored}). */
    private final List<Runnable> storeListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** An engine over {@code config}'s store, indexing the entries the store already holds (a reopened disk store). */
    public CacheEngine(CacheConfig config) {
        this.config = config;
        this.store = config.store();
        this.grid = store instanceof SharedTier ? (SharedTier) store : null;
        this.variants = new VariantIndex(store);
        this.storability = new Storability(config);
        this.responder = new Responder(config, counters);
        this.invalidation = new Invalidation(config, variants, responder, counters, grid);
        this.collapser = new Collapser(config, grid);
        java.time.Clock clock = config.clock();
        this.hitForMiss = com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(10_000)
                .expireAfterWrite(HIT_FOR_MISS).ticker(() -> {
                    Instant t = clock.instant();
                    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
                }).build();
        for (String key : store.keys()) {
            variants.index(key);
            store.get(key).ifPresent(e -> invalidation.indexTags(key, e.head()));
        }
        this.partial = new PartialContent(store, config.maxObjectBytes(), new PartialContent.Committed() {
            @Override
            public void committed(String exchangeId, String key, EntryHead head, long length) {
                entryCommitted(exchangeId, key, head, length);
            }

            @Override
            public void removed(String key) {
                variants.remove(key);
            }
        });
    }

    /** Indexes and counts an entry that just became servable, and tells the listeners. */
    private void entryCommitted(String exchangeId, String key, EntryHead head, long length) {
        if (!key.endsWith(PartialContent.SUFFIX)) {
            variants.remove(key + PartialContent.SUFFIX); // a complete representation supersedes the stored ranges
        }
        variants.index(key);
        invalidation.indexTags(key, head);
        int separator = key.indexOf(VariantIndex.SEPARATOR);
        hitForMiss.invalidate(separator < 0 ? key : key.substring(0, separator));
        variants.sweepIfLarge();
        counters.stores.increment();
        counters.bytesStored.add(length);
        storeListeners.forEach(Runnable::run);
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} stored {} ({} bytes)", exchangeId, key, length);
        }
    }

    /** Records {@code outcome} for the access log and counts it. */
    private void served(Exchange exchange, CacheStatus outcome) {
        counters.count(outcome);
        HttpCache.recordStatus(exchange, outcome);
    }

    private static Pending.Storing storing(boolean requestNoStore) {
        return requestNoStore ? Pending.Storing.REQUEST_NO_STORE : Pending.Storing.ALLOWED;
    }

    CacheConfig config() {
        return config;
    }

    /** The store this engine keeps its entries in. */
    public CacheStore store() {
        return store;
    }

    /** See {@link Storability#targeted}. */
    List<String> targeted(Exchange exchange) {
        return storability.targeted(exchange);
    }

    /**
     * Runs {@code listener} after each entry became servable (counted in {@code stores}), on the thread that stored
     * it (it must not block): lets a test await a store instead of polling {@link #stats()}. Not for library code.
     */
    public void onStored(Runnable listener) {
        storeListeners.add(java.util.Objects.requireNonNull(listener, "listener"));
    }

    /** See {@link Invalidation#purgeUrl}. */
    public long purgeUrl(URI url, PurgeMode mode) {
        return invalidation.purgeUrl(url, mode);
    }

    /** See {@link Invalidation#purgePrefix}. */
    public long purgePrefix(String prefix, PurgeMode mode) {
        return invalidation.purgePrefix(prefix, mode);
    }

    /** See {@link Invalidation#purgeTag}. */
    public long purgeTag(String tag, PurgeMode mode) {
        return invalidation.purgeTag(tag, mode);
    }

    // ---- lookup -------------------------------------------------------------------------------------------

    /** See {@link io.github.gatehouse.core.HttpCache#lookup}. */
    public CompletionStage<CacheLookup> lookup(Exchange exchange) {
        RequestHead request = exchange.request();
        String method = request.method();
        Instant now = config.clock().instant();
        if (method.equals("PURGE") && !config.purgeFrom().isEmpty()) {
            if (grid != null) { // a cluster-wide purge waits on the grid: not on the I/O thread
                return CompletableFuture.supplyAsync(() -> invalidation.purgeMethod(exchange), grid.executor());
            }
            return CompletableFuture.completedFuture(invalidation.purgeMethod(exchange));
        }
        boolean safe = method.equals("GET") || method.equals("HEAD");
        if (!safe) {
            boolean unsafe = !(method.equals("OPTIONS") || method.equals("TRACE"));
            return CompletableFuture.completedFuture(CacheLookup.miss(
                    Pending.unkeyed(unsafe ? Pending.Kind.UNSAFE : Pending.Kind.SAFE_OTHER, now)));
        }
        if (request.hasBody()) {
            // "Fat GET" cache poisoning: the answer may depend on a body the key does not cover, so such a request
            // is neither answered from the cache nor stored, nor collapsed with clean requests for the same key
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} {} with a request body bypasses the cache", exchange.id(), method);
            }
            if (request.headers().containsToken("Cache-Control", "only-if-cached")) {
                return CompletableFuture.completedFuture(onlyIfCached(exchange)); // no stored response may answer it
            }
            return miss(exchange, Pending.unkeyed(Pending.Kind.BYPASS, now));
        }
        HttpHeaders reqHeaders = request.headers();
        Directives rcc = Directives.of(reqHeaders, "Cache-Control");
        CacheRule rule = storability.ruleFor(exchange);
        boolean ignoreReload = rule != null && rule.has(CacheRule.Option.IGNORE_RELOAD);
        if (ignoreReload) {
            rcc = rcc.without("no-cache", "max-age"); // the rule says a client's reload does not reach the origin
        }
        boolean noCache = !config.ignoreClientNoCache() && !ignoreReload && (rcc.has("no-cache")
                || (!reqHeaders.contains("Cache-Control") && reqHeaders.containsToken("Pragma", "no-cache")));
        boolean noStore = rcc.has("no-store");
        String primary = config.keyPolicy().primaryKey(exchange);
        boolean uncacheableLately = hitForMiss.getIfPresent(primary) != null;
        if (grid != null && !uncacheableLately) {
            // the shared tier: what another instance stored becomes visible to select() (one grid read, unless the
            // near tier holds the variants already)
            Directives finalRcc = rcc;
            return grid.load(primary).thenCompose(keys -> {
                indexLoaded(keys);
                return lookupKeyed(exchange, primary, finalRcc, noCache, noStore, now, rule, method, reqHeaders, false);
            });
        }
        return lookupKeyed(exchange, primary, rcc, noCache, noStore, now, rule, method, reqHeaders, uncacheableLately);
    }

    /** Indexes the variants (and their tags) a grid read put in the near tier. */
    private void indexLoaded(List<String> keys) {
        for (String k : keys) {
            variants.index(k);
            store.get(k).ifPresent(e -> invalidation.indexTags(k, e.head()));
        }
    }

    private CompletionStage<CacheLookup> lookupKeyed(Exchange exchange, String primary, Directives rcc, boolean noCache,
            boolean noStore, Instant now, CacheRule rule, String method, HttpHeaders reqHeaders, boolean uncacheableLately) {
        StoredEntry entry = variants.select(primary, reqHeaders);
        if (entry != null) {
            return lookupStored(exchange, primary, entry, rcc, noCache, noStore, now, rule);
        }
        if (method.equals("GET") && reqHeaders.contains("Range") && !noCache) {
            CompletionStage<CacheLookup> fromRanges = fromPartial(exchange, primary, rcc, now, rule, noStore);
            if (fromRanges != null) {
                return fromRanges;
            }
        }
        if (rcc.has("only-if-cached")) {
            return CompletableFuture.completedFuture(onlyIfCached(exchange));
        }
        // a key whose home is another instance (cache-peer routing) is filled there: nothing to collapse or lease here
        if (config.collapsing() && !uncacheableLately && method.equals("GET") && exchange.cachePeer().isEmpty() && !noCache && !noStore
                && !reqHeaders.contains("Authorization")
                && !reqHeaders.contains("Range") && !reqHeaders.contains("If-None-Match")
                && !reqHeaders.contains("If-Modified-Since")) {
            Collapser.Fill existing = collapser.existing(primary);
            if (existing != null) {
                return follow(exchange, existing, primary, rcc, now);
            }
            Collapser.Fill fill = collapser.lead(primary);
            if (fill != null && grid != null) {
                return claimOrWait(exchange, fill, primary, rcc, now, rule);
            }
            if (fill != null) {
                return miss(exchange, new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, null, fill, Pending.Storing.ALLOWED,
                        null));
            }
            Collapser.Fill raced = collapser.existing(primary);
            if (raced != null) {
                return follow(exchange, raced, primary, rcc, now);
            }
        }
        return miss(exchange, new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, null, null, storing(noStore), null));
    }

    /**
     * This instance leads the fill of {@code primary}: it goes upstream if it wins the cluster-wide fill lease (or
     * the grid does not answer); otherwise it waits for the instance that holds the lease to release it (or the
     * collapse timeout), then answers from the grid, this instance's own followers too, or goes upstream itself.
     */
    private CompletionStage<CacheLookup> claimOrWait(Exchange exchange, Collapser.Fill fill, String primary, Directives rcc,
            Instant now, CacheRule rule) {
        return grid.claimFill(primary, config.collapseTimeout()).thenCompose(won -> {
            if (won) {
                fill.claimed = true;
                return miss(exchange, new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, null, fill,
                        Pending.Storing.ALLOWED, null));
            }
            return grid.awaitRelease(primary, config.collapseTimeout())
                    .thenCompose(v -> grid.load(primary))
                    .thenCompose(keys -> {
                        indexLoaded(keys);
                        StoredEntry entry = variants.select(primary, exchange.request().headers());
                        if (entry != null) {
                            collapser.completeFromStored(fill, entry);
                            return lookupStored(exchange, primary, entry, rcc, false, false, config.clock().instant(), rule);
                        }
                        return miss(exchange, new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, null, fill,
                                Pending.Storing.ALLOWED, null));
                    });
        });
    }

    private CompletionStage<CacheLookup> miss(Exchange exchange, Pending state) {
        served(exchange, CacheStatus.MISS);
        return CompletableFuture.completedFuture(CacheLookup.miss(state));
    }

    private CompletionStage<CacheLookup> lookupStored(Exchange exchange, String primary, StoredEntry entry, Directives rcc,
            boolean noCache, boolean noStore, Instant now, CacheRule rule) {
        EntryHead head = entry.head();
        HttpHeaders stored = head.headers();
        Directives cc = storability.responseDirectives(stored, storability.targeted(exchange));
        Duration age = Freshness.currentAge(stored, head.requestTime(), head.responseTime(), now);
        Duration lifetime = Freshness.lifetime(head.status(), stored, cc, head.responseTime(), config.forcedTtl(),
                config.heuristicCap(), rule);
        boolean fresh = !head.invalidated() && lifetime.compareTo(age) > 0;
        Duration staleness = age.minus(lifetime);
        boolean originNoCache = storability.originNoCache(cc, rule, head.status());
        boolean mustValidate = noCache || head.invalidated() || originNoCache;
        boolean requestAllows = requestAllows(rcc, age, lifetime);
        boolean revalidateWhenStale = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage");

        if (!mustValidate && requestAllows) {
            if (fresh) {
                served(exchange, CacheStatus.HIT);
                return CompletableFuture.completedFuture(
                        CacheLookup.hit(responder.respond(exchange, entry, now, ttlParam("hit", lifetime, age), true)));
            }
            String maxStale = rcc.value("max-stale");
            if (maxStale != null && !revalidateWhenStale
                    && (maxStale.isEmpty() || staleness.compareTo(Duration.ofSeconds(Directives.parseDelta(maxStale))) <= 0)) {
                served(exchange, CacheStatus.STALE);
                return CompletableFuture.completedFuture(CacheLookup.hit(
                        responder.respond(exchange, entry, now, ttlParam("hit", lifetime, age) + "; detail=max-stale", true)));
            }
        }
        long swr = cc.seconds("stale-while-revalidate");
        if (swr >= 0 && !fresh && !noCache && requestAllows && !revalidateWhenStale
                && !originNoCache
                && staleness.compareTo(Duration.ofSeconds(swr)) <= 0 && config.backgroundRevalidation() && relay != null) {
            served(exchange, CacheStatus.STALE);
            revalidateInBackground(exchange, entry, rule);
            return CompletableFuture.completedFuture(CacheLookup.hit(responder.respond(exchange, entry, now,
                    ttlParam("hit", lifetime, age) + "; detail=stale-while-revalidate", true)));
        }
        if (rcc.has("only-if-cached")) {
            return CompletableFuture.completedFuture(onlyIfCached(exchange));
        }
        HttpHeaders conditional = Responder.validators(head);
        Pending state = new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, entry, null, storing(noStore),
                new HttpHeaders(exchange.request().headers()));
        if (conditional.isEmpty()) {
            served(exchange, CacheStatus.MISS);
            return CompletableFuture.completedFuture(CacheLookup.miss(state));
        }
        HttpHeaders reqHeaders = exchange.request().headers();
        Collapser.Fill leaderFill = null;
        if (config.collapsing() && exchange.request().method().equals("GET") && !noCache && !noStore
                && !reqHeaders.contains("Authorization") && !reqHeaders.contains("Range")
                && !reqHeaders.contains("If-None-Match") && !reqHeaders.contains("If-Modified-Since")) {
            Collapser.Fill existing = collapser.existing(primary);
            if (existing != null) {
                return follow(exchange, existing, primary, rcc, now, entry);
            }
            leaderFill = collapser.lead(primary);
        }
        // We answer the client's own conditional and range requests from the validated entry.
        reqHeaders.remove("If-None-Match");
        reqHeaders.remove("If-Modified-Since");
        reqHeaders.remove("If-Range");
        reqHeaders.remove("Range");
        counters.revalidations.increment();
        HttpCache.recordStatus(exchange, CacheStatus.MISS); // counted as a revalidation
        return CompletableFuture.completedFuture(CacheLookup.revalidate(conditional,
                new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, entry, leaderFill, storing(noStore),
                        state.clientHeaders())));
    }

    /**
     * A range request that the variant's stored ranges (RFC 9111 §3.3, §3.4) can answer, in whole or in part:
     * <ul>
     *   <li>they hold every byte and are fresh: a hit;</li>
     *   <li>they hold every byte but may not be used without validation (stale, {@code no-cache}, the request's
     *       {@code max-age}): a revalidation with the stored validators, the client's range kept; a 304 is answered
     *       from the stored ranges ({@link #onUpstreamResponse});</li>
     *   <li>they hold all but one contiguous run of the one range asked for: that run is fetched through the relay
     *       ({@link #fetchMissing}) and the client is answered from stored and fetched bytes.</li>
     * </ul>
     * {@code null} otherwise: the request goes upstream as it is, and its 206 is combined with what is stored.
     */
    private CompletionStage<CacheLookup> fromPartial(Exchange exchange, String primary, Directives rcc, Instant now,
            CacheRule rule, boolean noStore) {
        HttpHeaders req = exchange.request().headers();
        if (req.contains("If-None-Match") || req.contains("If-Modified-Since") || req.contains("If-Match")
                || req.contains("If-Unmodified-Since")) {
            return null;
        }
        StoredEntry entry = variants.selectPartial(primary, req);
        PartialContent.Layout layout = entry == null ? null : PartialContent.Layout.of(entry.head());
        if (layout == null || (req.contains("If-Range") && !Responder.ifRangeMatches(req, entry.head()))) {
            return null;
        }
        List<Ranges.Span> wanted = Ranges.parse(req.get("Range"), layout.completeLength());
        if (wanted == null || wanted.isEmpty() || wanted.size() > Ranges.MAX_PARTS) {
            return null;
        }
        List<Ranges.Span> missing = new java.util.ArrayList<>();
        for (Ranges.Span s : wanted) {
            missing.addAll(Ranges.missing(s, layout.spans()));
        }
        if (!missing.isEmpty()) {
            if (wanted.size() != 1 || missing.size() != 1 || missing.get(0).equals(wanted.get(0)) || noStore
                    || rcc.has("only-if-cached") || relay == null
                    || missing.get(0).length() > PartialContent.MAX_PART_BYTES) {
                return null; // nothing stored of it, or not one contiguous gap: the whole range goes upstream
            }
            return fetchMissing(exchange, primary, entry, layout, wanted.get(0), missing.get(0), rcc, now, rule);
        }
        EntryHead head = entry.head();
        Directives cc = storability.responseDirectives(head.headers(), storability.targeted(exchange));
        Duration age = Freshness.currentAge(head.headers(), head.requestTime(), head.responseTime(), now);
        Duration lifetime = Freshness.lifetime(head.status(), head.headers(), cc, head.responseTime(), config.forcedTtl(),
                config.heuristicCap(), rule);
        if (!head.invalidated() && lifetime.compareTo(age) > 0 && !storability.originNoCache(cc, rule, head.status())
                && requestAllows(rcc, age, lifetime)) {
            served(exchange, CacheStatus.HIT);
            return CompletableFuture.completedFuture(CacheLookup.hit(
                    answerPartial(entry, layout, wanted, now, ttlParam("hit", lifetime, age) + "; detail=partial")));
        }
        if (rcc.has("only-if-cached")) {
            return null; // the caller answers 504
        }
        // RFC 9111 §4.3.1: validate the stored ranges; the client's Range and If-Range go along, so a changed
        // representation answers the range itself (a 206, or a 200 when If-Range fails)
        counters.revalidations.increment();
        HttpCache.recordStatus(exchange, CacheStatus.MISS); // counted as a revalidation
        return CompletableFuture.completedFuture(CacheLookup.revalidate(Responder.validators(head),
                new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, entry, null, storing(noStore), null)));
    }

    /** {@code wanted} (covered) from the stored ranges of {@code entry}, with its headers as served at {@code now}. */
    private CachedResponse answerPartial(StoredEntry entry, PartialContent.Layout layout, List<Ranges.Span> wanted,
            Instant now, String cacheStatus) {
        EntryHead head = entry.head();
        Duration age = Freshness.currentAge(head.headers(), head.requestTime(), head.responseTime(), now);
        HttpHeaders headers = responder.clientHeaders(head, age);
        responder.addCacheStatus(headers, config.name() + "; " + cacheStatus);
        return PartialContent.answer(headers, wanted, layout.completeLength(),
                s -> counters.counting(entry.body(layout.offsetOf(s), s.length())));
    }

    /**
     * Serves {@code entry} to the exchange's client: a complete entry answers as {@link Responder#respond} does;
     * stored ranges answer the client's range (which they cover: the lookup checked), else nothing is served.
     */
    private Optional<CachedResponse> respondStored(Exchange exchange, Pending st, StoredEntry entry, Instant now,
            String cacheStatus, HttpHeaders own) {
        PartialContent.Layout layout = PartialContent.Layout.of(entry.head());
        if (layout == null) {
            return Optional.of(responder.respond(exchange, clientRequestHeaders(st, exchange), entry, now, cacheStatus,
                    true, own));
        }
        List<Ranges.Span> wanted = Ranges.parse(clientRequestHeaders(st, exchange).get("Range"), layout.completeLength());
        if (wanted == null || wanted.isEmpty() || wanted.stream().anyMatch(w -> layout.offsetOf(w) < 0)) {
            return Optional.empty();
        }
        return Optional.of(answerPartial(entry, layout, wanted, now, cacheStatus));
    }

    private static HttpHeaders clientRequestHeaders(Pending st, Exchange exchange) {
        return st.clientHeaders() != null ? st.clientHeaders() : exchange.request().headers();
    }

    private static boolean requestAllows(Directives rcc, Duration age, Duration lifetime) {
        long maxAge = rcc.seconds("max-age");
        // max-age=0 asks for a validated response: treat it as no-cache even when the age rounds to zero
        if (maxAge == 0 || (maxAge > 0 && age.compareTo(Duration.ofSeconds(maxAge)) > 0)) {
            return false;
        }
        long minFresh = rcc.seconds("min-fresh");
        return minFresh < 0 || lifetime.minus(age).compareTo(Duration.ofSeconds(minFresh)) >= 0;
    }

    private static String ttlParam(String prefix, Duration lifetime, Duration age) {
        return prefix + "; ttl=" + lifetime.minus(age).getSeconds();
    }

    private CacheLookup onlyIfCached(Exchange exchange) {
        served(exchange, CacheStatus.MISS);
        return CacheLookup.hit(responder.synthetic(504, "not in cache (only-if-cached)",
                config.name() + "; fwd=miss; detail=only-if-cached"));
    }

    private CompletionStage<CacheLookup> follow(Exchange exchange, Collapser.Fill fill, String primary, Directives rcc, Instant now) {
        return follow(exchange, fill, primary, rcc, now, null);
    }

    /** Waits for {@code fill}'s head; serves it if it suits this request, else goes upstream ({@code stale} kept for errors). */
    private CompletionStage<CacheLookup> follow(Exchange exchange, Collapser.Fill fill, String primary, Directives rcc, Instant now,
            StoredEntry stale) {
        counters.collapsed.increment();
        return fill.head.thenApply(fh -> {
            if (fh != null && fh.secondary().equals(VariantIndex.secondaryKey(fh.head(), exchange.request().headers()))) {
                Instant at = config.clock().instant();
                Directives cc = storability.responseDirectives(fh.head().headers(), storability.targeted(exchange));
                Duration age = Freshness.currentAge(fh.head().headers(), fh.head().requestTime(), fh.head().responseTime(), at);
                CacheRule rule = storability.ruleFor(exchange);
                Duration lifetime = Freshness.lifetime(fh.head().status(), fh.head().headers(), cc, fh.head().responseTime(),
                        config.forcedTtl(), config.heuristicCap(), rule);
                boolean mustValidate = storability.originNoCache(cc, rule, fh.head().status());
                if (!mustValidate && lifetime.compareTo(age) > 0 && requestAllows(rcc, age, lifetime)) {
                    served(exchange, CacheStatus.HIT);
                    HttpHeaders headers = responder.clientHeaders(fh.head(), age);
                    long length = fh.length().getAsLong();
                    if (length < 0) {
                        String cl = fh.head().header("Content-Length");
                        headers.remove("Content-Length");
                        if (cl != null) {
                            headers.set("Content-Length", cl);
                        }
                    } else {
                        headers.set("Content-Length", Long.toString(length));
                    }
                    responder.addCacheStatus(headers, config.name() + "; fwd=uri-miss; collapsed; ttl=" + lifetime.minus(age).getSeconds());
                    return CacheLookup.hit(new CachedResponse(fh.head().status(), headers,
                            Collapser.following(fill, counters.counting(fh.body().get()))));
                }
            }
            served(exchange, CacheStatus.MISS);
            return CacheLookup.miss(new Pending(Pending.Kind.CACHEABLE, primary, now, rcc, stale, null,
                    Pending.Storing.ALLOWED, null));
        });
    }


    // ---- the upstream response ----------------------------------------------------------------------------

    /** See {@link io.github.gatehouse.core.HttpCache#onUpstreamResponse}. */
    public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
        if (lookup.state().orElse(null) instanceof Revalidation revalidation) {
            return revalidated(exchange, revalidation, response);
        }
        if (lookup.state().orElse(null) instanceof MissingRange fetch) {
            return missingRangeAnswered(exchange, fetch, response);
        }
        if (!(lookup.state().orElse(null) instanceof Pending st)) {
            return CacheDecision.pass();
        }
        int status = response.status();
        Instant responseTime = config.clock().instant();
        HttpHeaders headers = response.headers();
        if (!headers.contains("Date")) {
            headers.add("Date", HttpDates.format(responseTime)); // RFC 9110 §6.6.1: a caching recipient adds one
        }
        if (st.kind() == Pending.Kind.UNSAFE) {
            if (status >= 200 && status < 400) {
                invalidation.invalidateAfterUnsafe(exchange, headers);
            }
            return CacheDecision.pass();
        }
        if (st.kind() == Pending.Kind.BYPASS) {
            responder.addCacheStatus(headers, config.name() + "; fwd=bypass; fwd-status=" + status + "; detail=request-body");
            responder.stripTagHeader(headers);
            return CacheDecision.pass();
        }
        if (exchange.cachePeer().isPresent()) {
            // the key's home answered (cache-peer routing): it stored what it may, so the body is not held here too
            collapser.release(st.fill());
            responder.appendCacheStatus(headers, config.name() + "; fwd=uri-miss; fwd-status=" + status + "; detail=peer");
            responder.stripTagHeader(headers);
            return CacheDecision.pass();
        }
        try {
            if (st.stored() != null && lookup.kind() == CacheLookup.Kind.REVALIDATE && status == 304) {
                StoredEntry updated = freshen(st.stored(), headers, st.requestTime(), responseTime, storability.targeted(exchange));
                if (st.fill() != null) {
                    collapser.completeFromStored(st.fill(), updated);
                }
                Optional<CachedResponse> validated = respondStored(exchange, st, updated, responseTime,
                        "fwd=stale; fwd-status=304", storability.notStoredFields(headers, storability.targeted(exchange)));
                if (validated.isPresent()) {
                    served(exchange, CacheStatus.REFRESH_UNMODIFIED);
                    return CacheDecision.serve(validated.get());
                }
                // stored ranges that no longer cover the client's range (replaced meanwhile): a 304 cannot answer it
                return CacheDecision.serve(responder.synthetic(502, "the stored ranges changed while they were validated",
                        config.name() + "; fwd=stale; fwd-status=304"));
            }
            if (st.stored() != null && STALE_IF_ERROR_STATUSES.contains(status)
                    && staleIfErrorAllows(st.stored(), st.requestDirectives(), responseTime, storability.targeted(exchange), storability.ruleFor(exchange))) {
                Optional<CachedResponse> stale = respondStored(exchange, st, st.stored(), responseTime,
                        "hit; fwd=stale; fwd-status=" + status + "; detail=stale-if-error", null);
                if (stale.isPresent()) {
                    collapser.release(st.fill());
                    served(exchange, CacheStatus.STALE);
                    return CacheDecision.serve(stale.get());
                }
            }
            if (st.stored() != null && status == 200 && exchange.request().method().equals("HEAD")) {
                headFreshens(exchange, st, headers, responseTime);
            }
            if (st.stored() != null && lookup.kind() == CacheLookup.Kind.REVALIDATE) {
                served(exchange, CacheStatus.REFRESH_MODIFIED);
            }
            Forward fwd = st.forward();
            String reason = storability.reason(exchange, st, status, headers);
            if (reason != null) {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} not storing {} {}: {}", exchange.id(), status, st.primary(), reason);
                }
                collapser.release(st.fill());
                if (st.fill() != null && status < 500) {
                    // the fill's answer cannot be stored: its key's next misses need not wait for one another (an
                    // origin's 5xx may pass, so misses after one still collapse and spare the origin)
                    hitForMiss.put(st.primary(), Boolean.TRUE);
                }
                if (status < 400 && st.stored() != null && status != 304 && status != 206
                        && exchange.request().method().equals("GET")) {
                    variants.remove(st.stored().key()); // the origin sent a new, uncacheable answer: the old one is outdated
                }
                responder.addCacheStatus(headers, config.name() + "; fwd=" + fwd + "; fwd-status=" + status);
                responder.stripTagHeader(headers);
                return CacheDecision.pass();
            }
            HttpHeaders storedHeaders = storability.headersToStore(headers, true, storability.targeted(exchange));
            EntryHead head = new EntryHead(status, storedHeaders, st.requestTime(), responseTime, false);
            String secondary = VariantIndex.secondaryKey(head, exchange.request().headers());
            String key = st.primary() + VariantIndex.SEPARATOR + secondary;
            if (status == 206) {
                collapser.release(st.fill());
                responder.addCacheStatus(headers, config.name() + "; fwd=" + fwd + "; fwd-status=206; stored");
                responder.stripTagHeader(headers);
                return CacheDecision.store(partial.writer(exchange.id(), key + PartialContent.SUFFIX, head));
            }
            if (st.stored() != null && !st.stored().key().equals(key)) {
                variants.remove(st.stored().key());
            }
            responder.addCacheStatus(headers, config.name() + "; fwd=" + fwd + "; fwd-status=" + status + "; stored");
            responder.stripTagHeader(headers);
            return CacheDecision.store(new EntryWriter(config, collapser, this::entryCommitted, exchange.id(), key, secondary, head, st.fill()));
        } catch (RuntimeException e) {
            collapser.release(st.fill());
            throw e;
        }
    }

    /**
     * A 200 to HEAD updates the stored GET response it describes, or invalidates it when a validator or the length
     * differs (RFC 9111 §4.3.5).
     */
    private void headFreshens(Exchange exchange, Pending st, HttpHeaders headers, Instant responseTime) {
        EntryHead stored = st.stored().head();
        boolean differs = false;
        for (String name : List.of("ETag", "Last-Modified", "Content-Length")) {
            String now = headers.get(name);
            String before = stored.header(name);
            if (now != null && before != null && !now.trim().equals(before.trim())) {
                differs = true;
            }
        }
        if (differs) {
            variants.remove(st.stored().key());
        } else {
            freshen(st.stored(), headers, st.requestTime(), responseTime, storability.targeted(exchange));
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} HEAD {} the stored response", exchange.id(), differs ? "invalidated" : "freshened");
        }
    }

    /** See {@link io.github.gatehouse.core.HttpCache#onUpstreamFailure}. */
    public Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
        if (!(lookup.state().orElse(null) instanceof Pending st)) {
            return Optional.empty();
        }
        collapser.release(st.fill());
        Instant now = config.clock().instant();
        if (st.stored() != null && staleIfErrorAllows(st.stored(), st.requestDirectives(), now, storability.targeted(exchange), storability.ruleFor(exchange))) {
            Optional<CachedResponse> stale = respondStored(exchange, st, st.stored(), now,
                    "hit; fwd=stale; detail=stale-if-error", null);
            if (stale.isPresent()) {
                served(exchange, CacheStatus.STALE);
                LOG.info("{} upstream failed; serving a stale response for {}", exchange.id(), st.primary());
                return stale;
            }
        }
        if (st.stored() != null && storability.mustRevalidate(st.stored(), storability.targeted(exchange))) {
            // RFC 9111 §5.2.2.2: a stale must-revalidate response that cannot be validated gets a 504
            return Optional.of(responder.synthetic(504, "the stored response must be revalidated and the upstream failed",
                    config.name() + "; fwd=stale; detail=must-revalidate"));
        }
        return Optional.empty();
    }


    private boolean staleIfErrorAllows(StoredEntry entry, Directives rcc, Instant now, List<String> targeted,
            CacheRule rule) {
        EntryHead head = entry.head();
        HttpHeaders h = head.headers();
        Directives cc = storability.responseDirectives(h, targeted);
        if (cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage")
                || storability.originNoCache(cc, rule, head.status())) {
            return false;
        }
        Duration age = Freshness.currentAge(h, head.requestTime(), head.responseTime(), now);
        Duration lifetime = Freshness.lifetime(head.status(), h, cc, head.responseTime(), config.forcedTtl(),
                config.heuristicCap(), rule);
        Duration staleness = age.minus(lifetime);
        long window = Math.max(cc.seconds("stale-if-error"), rcc.seconds("stale-if-error"));
        Duration allowed = window >= 0 ? Duration.ofSeconds(window) : config.defaultStaleIfError();
        String maxStale = rcc.value("max-stale");
        if (maxStale != null) {
            Duration ms = maxStale.isEmpty() ? Duration.ofSeconds(Directives.MAX_DELTA_SECONDS)
                    : Duration.ofSeconds(Directives.parseDelta(maxStale));
            allowed = ms.compareTo(allowed) > 0 ? ms : allowed;
        }
        return staleness.compareTo(allowed) <= 0;
    }

    /** Updates a stored entry's head from a 304 (RFC 9111 §3.2, §4.3.4). */
    private StoredEntry freshen(StoredEntry entry, HttpHeaders notModified, Instant requestTime, Instant responseTime,
            List<String> targeted) {
        EntryHead old = entry.head();
        HttpHeaders merged = old.headers();
        HttpHeaders fresh = new HttpHeaders(notModified);
        Storability.removeLastVia(fresh);
        Directives cc = storability.responseDirectives(fresh, targeted);
        Set<String> skip = new java.util.HashSet<>(NOT_UPDATED_BY_304);
        skip.addAll(storability.privateFieldNames(cc));
        Set<String> replaced = new java.util.HashSet<>();
        for (HttpHeaders.Field f : fresh) {
            String lower = f.name().toLowerCase(Locale.ROOT);
            if (skip.contains(lower)) {
                continue;
            }
            if (replaced.add(lower)) {
                merged.remove(f.name());
            }
            merged.add(f.name(), f.value());
        }
        String ageValue = fresh.get("Age");
        merged.remove("Age");
        if (ageValue != null) {
            merged.add("Age", ageValue);
        }
        EntryHead head = new EntryHead(old.status(), merged, requestTime, responseTime, false);
        if (store.updateHead(entry.key(), head)) {
            invalidation.indexTags(entry.key(), head); // a 304 may list other tags
        }
        return new UpdatedEntry(entry, head);
    }

    // ---- background revalidation --------------------------------------------------------------------------

    /** See {@link io.github.gatehouse.core.HttpCache#attach}: background revalidations go through {@code relay}. */
    public void attach(RelayAccess relay) {
        this.relay = java.util.Objects.requireNonNull(relay, "relay");
    }

    /**
     * Sends a conditional {@code GET} for {@code entry} through the relay, as a background exchange: the client's
     * request as the filters left it, without its own conditionals and ranges, with the entry's validators. Its
     * answer comes back to {@link #onUpstreamResponse} with a {@link Revalidation} state ({@link #revalidated}).
     */
    private void revalidateInBackground(Exchange exchange, StoredEntry entry, CacheRule rule) {
        RelayAccess r = relay;
        if (r == null || !revalidating.add(entry.key())) {
            return;
        }
        counters.revalidations.increment();
        String id = exchange.id(); // the exchange itself must not be kept past its end
        Revalidation state = new Revalidation(entry, config.clock().instant(), storability.targeted(exchange), rule);
        CompletionStage<Integer> sent;
        try {
            sent = r.send(RevalidationRequest.of(exchange.request()), exchange,
                    CacheLookup.revalidate(Responder.validators(entry.head()), state));
        } catch (RuntimeException e) {
            revalidating.remove(entry.key());
            LOG.warn("{} background revalidation of {} could not start: {}", id, entry.key(), e.toString());
            return;
        }
        sent.whenComplete((status, failure) -> {
            revalidating.remove(entry.key());
            if (failure != null) {
                LOG.info("{} background revalidation of {} failed: {}", id, entry.key(),
                        failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                                ? failure.getCause().getMessage() : failure.getMessage());
            } else if (LOG.isDebugEnabled()) {
                LOG.debug("{} background revalidation of {} answered {}", id, entry.key(), status);
            }
        });
    }

    /**
     * A background revalidation's answer: a 304 freshens the entry, a storable response replaces it (streamed into
     * the store as the relay reads it), another one that is not an error drops it. Nothing is served: no client waits.
     */
    private CacheDecision revalidated(Exchange background, Revalidation r, ResponseHead response) {
        int status = response.status();
        HttpHeaders headers = response.headers();
        if (!headers.contains("Date")) {
            headers.add("Date", HttpDates.format(config.clock().instant()));
        }
        if (status == 304) {
            counters.unmodified.increment();
            freshen(r.entry(), headers, r.requestTime(), config.clock().instant(), r.targeted());
            HttpCache.recordStatus(background, CacheStatus.REFRESH_UNMODIFIED);
            return CacheDecision.pass();
        }
        HttpCache.recordStatus(background, CacheStatus.REFRESH_MODIFIED);
        EntryWriter writer = backgroundStore(background.id(), r.entry(), background.request().headers(), status, headers,
                r.requestTime(), r.targeted(), r.rule(), null);
        return writer == null ? CacheDecision.pass() : CacheDecision.store(writer);
    }

    /**
     * Starts storing a background exchange's full response, which replaces {@code old}, sharing it with the followers
     * of {@code fill} (may be null); null when it may not be stored.
     */
    private EntryWriter backgroundStore(String exchangeId, StoredEntry old, HttpHeaders requestHeaders, int status,
            HttpHeaders headers, Instant requestTime, List<String> targeted, CacheRule rule, Collapser.Fill fill) {
        Directives cc = storability.responseDirectives(headers, targeted);
        boolean storable = status >= 200 && status != 206 && status != 304 && !cc.has("no-store")
                && !cc.isUnqualified("private")
                && !Storability.cookieForbidsStoring(cc, headers)
                && headers.getTokens("Vary").stream().noneMatch("*"::equals)
                && storability.freshnessKnowable(status, headers, cc, rule);
        if (!storable) {
            if (status < 500) {
                variants.remove(old.key()); // a new answer that may not be stored: the old one is outdated
            }
            return null;
        }
        EntryHead head = new EntryHead(status, storability.headersToStore(headers, true, targeted), requestTime,
                config.clock().instant(), false);
        String key = old.key().substring(0, old.key().indexOf(VariantIndex.SEPARATOR) + 1)
                + VariantIndex.secondaryKey(head, requestHeaders);
        return new EntryWriter(config, collapser, this::entryCommitted, exchangeId, key,
                key.substring(key.indexOf(VariantIndex.SEPARATOR) + 1), head, fill);
    }

    /** The cache's state for one background revalidation, carried by its lookup through the relay. */
    record Revalidation(StoredEntry entry, Instant requestTime, List<String> targeted, CacheRule rule) {
    }

    /** An entry whose head was just updated, when the store no longer holds it (evicted meanwhile). */
    private record UpdatedEntry(StoredEntry delegate, EntryHead head) implements StoredEntry {
        @Override
        public String key() {
            return delegate.key();
        }

        @Override
        public long bodyLength() {
            return delegate.bodyLength();
        }

        @Override
        public Flow.Publisher<ByteBuffer> body(long offset, long length) {
            return delegate.body(offset, length);
        }
    }

    // ---- missing ranges -----------------------------------------------------------------------------------

    /**
     * Fetches the one run of bytes ({@code missing}) that the stored ranges lack for the client's range
     * ({@code wanted}), through the relay as a background exchange ({@link RelayAccess#send}: the route's pool, its
     * retries, {@code Via}, the destination policy): a {@code GET} with {@code Range} for that run and
     * {@code If-Range} with the stored strong {@code ETag}. The client's lookup completes when that exchange's head
     * arrives ({@link #missingRangeAnswered}): with the stored bytes and the fetched ones as they stream in, or, if the
     * representation changed, with its new 200 as a collapsed follower of its fill; when the fetch cannot answer
     * (another status, a failure), the client's own request goes upstream as a miss.
     */
    private CompletionStage<CacheLookup> fetchMissing(Exchange exchange, String primary, StoredEntry entry,
            PartialContent.Layout layout, Ranges.Span wanted, Ranges.Span missing, Directives rcc, Instant now,
            CacheRule rule) {
        RelayAccess r = relay;
        String etag = PartialContent.strongEtag(entry.head());
        RevalidationRequest request = RevalidationRequest.of(exchange.request());
        request.headers().set("Range", "bytes=" + missing);
        request.headers().set("If-Range", etag);
        MissingRange state = new MissingRange(exchange, primary, entry, layout, wanted, missing, now, rcc,
                storability.targeted(exchange), rule);
        String id = exchange.id();
        CompletionStage<Integer> sent;
        try {
            sent = r.send(request, exchange, CacheLookup.miss(state));
        } catch (RuntimeException e) {
            LOG.warn("{} fetching the missing range {} of {} could not start: {}", id, missing, entry.key(), e.toString());
            return null;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} stored {} of {}: asks the upstream for {} only", id, Ranges.format(layout.spans()),
                    wanted, missing);
        }
        sent.whenComplete((status, failure) -> {
            if (failure != null) {
                LOG.info("{} fetching the missing range {} failed: {}", id, missing,
                        failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                                ? failure.getCause().getMessage() : failure.getMessage());
            }
            state.answer(() -> missingRangeMiss(state)); // nothing, if the head answered the client already
        });
        return state.client;
    }

    /** The client of a missing-range fetch that could not be answered from it goes upstream itself. */
    private CacheLookup missingRangeMiss(MissingRange m) {
        served(m.exchange, CacheStatus.MISS);
        return CacheLookup.miss(new Pending(Pending.Kind.CACHEABLE, m.primary, m.requestTime, m.requestDirectives, null,
                null, Pending.Storing.ALLOWED, null));
    }

    /**
     * The head of a missing-range fetch ({@code background} is its exchange): a 206 of the same representation that
     * covers the run is spliced between the stored bytes for the waiting client, and combined with the stored ranges
     * (when storable); a 200 (If-Range failed: a new representation) replaces the stored ranges and is served to the
     * client as it streams (a 200 answers a range request, RFC 9110 §14.2); anything else lets the client go upstream.
     */
    private CacheDecision missingRangeAnswered(Exchange background, MissingRange m, ResponseHead response) {
        int status = response.status();
        HttpHeaders headers = response.headers();
        Instant responseTime = config.clock().instant();
        if (!headers.contains("Date")) {
            headers.add("Date", HttpDates.format(responseTime));
        }
        Pending asFill = new Pending(Pending.Kind.CACHEABLE, m.primary, m.requestTime, m.requestDirectives, null, null,
                Pending.Storing.ALLOWED, null);
        String partialKey = m.entry.key();
        if (status == 206) {
            HttpCache.recordStatus(background, CacheStatus.MISS);
            EntryHead head = new EntryHead(206, storability.headersToStore(headers, true, m.targeted), m.requestTime,
                    responseTime, false);
            Ranges.ContentRange cr = Ranges.contentRange(headers.get("Content-Range"));
            String etag = PartialContent.strongEtag(head);
            boolean splices = cr != null && cr.completeLength() == m.layout.completeLength()
                    && cr.span().covers(m.missing) && cr.span().length() <= PartialContent.MAX_PART_BYTES
                    && etag != null && !etag.startsWith("W/") && etag.equals(PartialContent.strongEtag(m.entry.head()));
            String unstorable = storability.reason(background, asFill, 206, headers);
            if (!splices) {
                // another representation, or bytes the cache cannot splice: stored as any 206, the client asks itself
                m.answer(() -> missingRangeMiss(m));
                return unstorable == null ? CacheDecision.store(partial.writer(background.id(), partialKey, head))
                        : CacheDecision.pass();
            }
            PartialContent.Writer writer = partial.fetchWriter(background.id(), partialKey, head, unstorable == null);
            if (unstorable != null && LOG.isDebugEnabled()) {
                LOG.debug("{} not storing the fetched range {}: {}", background.id(), cr.span(), unstorable);
            }
            m.answer(() -> {
                served(m.exchange, CacheStatus.MISS);
                return CacheLookup.hit(spliced(m, head, writer, unstorable == null));
            });
            return CacheDecision.store(writer);
        }
        if (status == 200) {
            HttpCache.recordStatus(background, CacheStatus.REFRESH_MODIFIED);
            Collapser.Fill fill = config.collapsing() ? collapser.lead(m.primary) : null;
            EntryWriter writer = backgroundStore(background.id(), m.entry, background.request().headers(), 200, headers,
                    m.requestTime, m.targeted, m.rule, fill);
            if (writer == null) {
                collapser.release(fill);
                variants.remove(partialKey); // a new representation: the stored ranges are outdated
                m.answer(() -> missingRangeMiss(m));
                return CacheDecision.pass();
            }
            if (fill == null) {
                m.answer(() -> missingRangeMiss(m));
            } else if (m.claim()) {
                follow(m.exchange, fill, m.primary, m.requestDirectives, m.requestTime).whenComplete((l, f) -> {
                    if (f != null) {
                        m.client.complete(missingRangeMiss(m));
                    } else {
                        m.client.complete(l);
                    }
                });
            }
            return CacheDecision.store(writer);
        }
        HttpCache.recordStatus(background, CacheStatus.MISS);
        m.answer(() -> missingRangeMiss(m));
        return CacheDecision.pass();
    }

    /** The client's range: the stored bytes before and after the fetched run, and the run as it arrives. */
    private CachedResponse spliced(MissingRange m, EntryHead head, PartialContent.Writer writer, boolean stored) {
        Duration age = Freshness.currentAge(head.headers(), head.requestTime(), head.responseTime(),
                config.clock().instant());
        HttpHeaders headers = responder.clientHeaders(head, age);
        responder.addCacheStatus(headers, config.name() + "; fwd=" + Forward.PARTIAL + "; fwd-status=206"
                + (stored ? "; stored" : ""));
        List<java.util.function.Supplier<Flow.Publisher<ByteBuffer>>> parts = new java.util.ArrayList<>();
        Ranges.Span wanted = m.wanted;
        Ranges.Span missing = m.missing;
        if (wanted.start() < missing.start()) {
            parts.add(storedPart(m, new Ranges.Span(wanted.start(), missing.start())));
        }
        parts.add(() -> writer.range(missing));
        parts.add(writer::settled);
        if (missing.end() < wanted.end()) {
            parts.add(storedPart(m, new Ranges.Span(missing.end(), wanted.end())));
        }
        return PartialContent.answer(headers, List.of(wanted), m.layout.completeLength(), s -> new ConcatPublisher(parts));
    }

    /**
     * Stored bytes of a spliced answer, opened now ({@link EarlySubscription}): the combined entry replaces the one
     * they come from once the fetched run is in, possibly before the client reads them.
     */
    private java.util.function.Supplier<Flow.Publisher<ByteBuffer>> storedPart(MissingRange m, Ranges.Span span) {
        Flow.Publisher<ByteBuffer> early = new EarlySubscription(
                counters.counting(m.entry.body(m.layout.offsetOf(span), span.length())));
        return () -> early;
    }

    /**
     * The cache's state for one missing-range fetch, carried by its background lookup: the client's exchange waiting
     * on {@link #client}, which is completed once ({@link #answer}, {@link #claim}).
     */
    static final class MissingRange {
        final CompletableFuture<CacheLookup> client = new CompletableFuture<>();
        /** The client's exchange: in progress until {@link #client} completes (it waits on its lookup). */
        final Exchange exchange;
        final String primary;
        final StoredEntry entry;
        final PartialContent.Layout layout;
        final Ranges.Span wanted;
        final Ranges.Span missing;
        final Instant requestTime;
        final Directives requestDirectives;
        final List<String> targeted;
        final CacheRule rule;
        private final java.util.concurrent.atomic.AtomicBoolean claimed = new java.util.concurrent.atomic.AtomicBoolean();

        MissingRange(Exchange exchange, String primary, StoredEntry entry, PartialContent.Layout layout,
                Ranges.Span wanted, Ranges.Span missing, Instant requestTime, Directives requestDirectives,
                List<String> targeted, CacheRule rule) {
            this.exchange = exchange;
            this.primary = primary;
            this.entry = entry;
            this.layout = layout;
            this.wanted = wanted;
            this.missing = missing;
            this.requestTime = requestTime;
            this.requestDirectives = requestDirectives;
            this.targeted = targeted;
            this.rule = rule;
        }

        /** Whether this call is the one that answers the client (then it must complete {@link #client}). */
        boolean claim() {
            return claimed.compareAndSet(false, true);
        }

        /** Completes the client's lookup with {@code lookup}'s, unless it was answered already. */
        void answer(java.util.function.Supplier<CacheLookup> lookup) {
            if (claim()) {
                CacheLookup l;
                try {
                    l = lookup.get();
                } catch (RuntimeException e) {
                    client.completeExceptionally(e);
                    throw e;
                }
                client.complete(l);
            }
        }
    }

    // ---- stats and lifecycle ------------------------------------------------------------------------------

    /** The counters core reads through {@link io.github.gatehouse.core.HttpCache#counters()}. */
    public io.github.gatehouse.core.CacheCounters counters() {
        Counters c = counters;
        return new io.github.gatehouse.core.CacheCounters(c.hits.sum(), c.misses.sum(), c.staleServed.sum(),
                c.revalidations.sum(), c.bytesStored.sum(), store.evictions(), store.entryCount(), store.sizeBytes(),
                store.capacityBytes());
    }

    /** A snapshot of the counters and the store's size. */
    public CacheStats stats() {
        Counters c = counters;
        return new CacheStats(c.hits.sum(), c.misses.sum(), c.revalidations.sum(), c.unmodified.sum(),
                c.staleServed.sum(), c.collapsed.sum(), c.stores.sum(), c.bytesServed.sum(), c.bytesStored.sum(),
                c.purged.sum(), store.entryCount(),
                store.sizeBytes());
    }

    @Override
    public void close() {
        store.close();
    }
}
