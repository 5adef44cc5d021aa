package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheKeyPolicy;
import io.github.gatehouse.cache.CacheRule;
import io.github.gatehouse.cache.CacheStats;
import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.CacheWriter;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import io.github.gatehouse.core.ResponseHead;
import io.github.gatehouse.core.internal.Cidr;
import java.net.InetAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RFC 9111 shared cache behind {@code GatehouseCache}: lookup (freshness, request directives, variants,
 * conditional and range requests from stored entries), storing decisions, validation and 304 updates, invalidation,
 * request collapsing, stale-while-revalidate and stale-if-error, purges and counters.
 *
 * <p><b>Threading.</b> Thread-safe and non-blocking: called concurrently from I/O threads. Shared state is the store
 * (thread-safe), the variant index and the fill map (concurrent maps) and the counters ({@code LongAdder}s); each
 * exchange's own state travels in {@link CacheLookup#state()}.
 */
public final class CacheEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.class);
    /** Separates the primary key from the secondary (variant) key in store keys. */
    public static final char VARIANT_SEPARATOR = '\u0001';
    private static final Set<String> NOT_UPDATED_BY_304 = Set.of("content-length", "via", "cache-status",
            "transfer-encoding", "connection", "keep-alive", "age");
    /** The error responses that stale-if-error covers (RFC 5861 §4); others pass on to the client as they are. */
    private static final Set<Integer> STALE_IF_ERROR_STATUSES = Set.of(500, 502, 503, 504);
    /** {@link State#fwd} of a request the cache does not handle (a GET or HEAD with a body). */
    private static final String BYPASS = "bypass";

    private final CacheConfig config;
    private final CacheStore store;
    private final MemoryStore memoryStore;
    /** The shared tier when the store is one (several instances), else null: lookups read it before the index. */
    private final SharedTier grid;
    private final ConcurrentHashMap<String, Set<String>> variants = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Fill> fills = new ConcurrentHashMap<>();
    /**
     * Purge tag to the keys whose stored head listed it when stored: a superset (entries evicted, removed or replaced
     * since stay until a purge or a sweep checks them), so a purge by tag touches only the entries that may have it.
     */
    private final ConcurrentHashMap<String, Set<String>> tagged = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong taggedRefs = new java.util.concurrent.atomic.AtomicLong();
    private final Set<String> revalidating = ConcurrentHashMap.newKeySet();
    private final BackgroundRevalidator revalidator;

    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder revalidations = new LongAdder();
    private final LongAdder unmodified = new LongAdder();
    private final LongAdder staleServed = new LongAdder();
    private final LongAdder collapsed = new LongAdder();
    private final LongAdder stores = new LongAdder();
    private final LongAdder bytesServed = new LongAdder();
    private final LongAdder bytesStored = new LongAdder();
    private final LongAdder purged = new LongAdder();
    /** Run after each entry became servable; empty but in tests that await a store (see {@link #onStored}). */
    private final List<Runnable> storeListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** An engine over {@code config}'s store, indexing the entries the store already holds (a reopened disk store). */
    public CacheEngine(CacheConfig config) {
        this.config = config;
        this.store = config.store();
        this.memoryStore = store instanceof MemoryStore ? (MemoryStore) store : null;
        this.grid = store instanceof SharedTier ? (SharedTier) store : null;
        for (String key : store.keys()) {
            indexVariant(key);
            store.get(key).ifPresent(e -> indexTags(key, e.head()));
        }
        this.revalidator = config.backgroundRevalidation() ? new BackgroundRevalidator(this, config.revalidationTimeout()) : null;
    }

    CacheConfig config() {
        return config;
    }

    /** The store this engine keeps its entries in. */
    public CacheStore store() {
        return store;
    }

    /**
     * Runs {@code listener} after each entry became servable (counted in {@code stores}), on the thread that stored
     * it (it must not block): lets a test await a store instead of polling {@link #stats()}. Not for library code.
     */
    public void onStored(Runnable listener) {
        storeListeners.add(java.util.Objects.requireNonNull(listener, "listener"));
    }

    // ---- lookup -------------------------------------------------------------------------------------------

    /** See {@link io.github.gatehouse.core.HttpCache#lookup}. */
    public CompletionStage<CacheLookup> lookup(Exchange exchange) {
        RequestHead request = exchange.request();
        String method = request.method();
        Instant now = config.clock().instant();
        if (method.equals("PURGE") && !config.purgeFrom().isEmpty()) {
            if (grid != null) { // a cluster-wide purge waits on the grid: not on the I/O thread
                return CompletableFuture.supplyAsync(() -> purgeMethod(exchange), grid.executor());
            }
            return CompletableFuture.completedFuture(purgeMethod(exchange));
        }
        boolean safe = method.equals("GET") || method.equals("HEAD");
        if (!safe) {
            boolean unsafe = !(method.equals("OPTIONS") || method.equals("TRACE"));
            return CompletableFuture.completedFuture(CacheLookup.miss(
                    new State(null, now, Directives.NONE, null, null, false, unsafe, "method", null)));
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
            return miss(exchange, new State(null, now, Directives.NONE, null, null, true, false, BYPASS, null));
        }
        HttpHeaders reqHeaders = request.headers();
        Directives rcc = Directives.of(reqHeaders, "Cache-Control");
        CacheRule rule = ruleFor(exchange);
        boolean ignoreReload = rule != null && rule.has(CacheRule.Option.IGNORE_RELOAD);
        if (ignoreReload) {
            rcc = rcc.without("no-cache", "max-age"); // the rule says a client's reload does not reach the origin
        }
        boolean noCache = !config.ignoreClientNoCache() && !ignoreReload && (rcc.has("no-cache")
                || (!reqHeaders.contains("Cache-Control") && reqHeaders.containsToken("Pragma", "no-cache")));
        boolean noStore = rcc.has("no-store");
        String primary = config.keyPolicy().primaryKey(exchange);
        if (grid != null) {
            // the shared tier: what another instance stored becomes visible to select() (one grid read, unless the
            // near tier holds the variants already)
            Directives finalRcc = rcc;
            return grid.load(primary).thenCompose(keys -> {
                for (String k : keys) {
                    indexVariant(k);
                    store.get(k).ifPresent(e -> indexTags(k, e.head()));
                }
                return lookupKeyed(exchange, primary, finalRcc, noCache, noStore, now, rule, method, reqHeaders);
            });
        }
        return lookupKeyed(exchange, primary, rcc, noCache, noStore, now, rule, method, reqHeaders);
    }

    private CompletionStage<CacheLookup> lookupKeyed(Exchange exchange, String primary, Directives rcc, boolean noCache,
            boolean noStore, Instant now, CacheRule rule, String method, HttpHeaders reqHeaders) {
        StoredEntry entry = select(primary, reqHeaders);
        if (entry != null) {
            return lookupStored(exchange, primary, entry, rcc, noCache, noStore, now, rule);
        }
        if (rcc.has("only-if-cached")) {
            return CompletableFuture.completedFuture(onlyIfCached(exchange));
        }
        if (config.collapsing() && method.equals("GET") && !noCache && !noStore && !reqHeaders.contains("Authorization")
                && !reqHeaders.contains("Range") && !reqHeaders.contains("If-None-Match")
                && !reqHeaders.contains("If-Modified-Since")) {
            Fill existing = fills.get(primary);
            if (existing != null) {
                return follow(exchange, existing, primary, rcc, now);
            }
            Fill fill = new Fill(primary);
            if (fills.putIfAbsent(primary, fill) == null) {
                armTimeout(fill);
                if (grid != null) {
                    return claimOrWait(exchange, fill, primary, rcc, now, rule);
                }
                return miss(exchange, new State(primary, now, rcc, null, fill, false, false, "uri-miss", null));
            }
            Fill raced = fills.get(primary);
            if (raced != null) {
                return follow(exchange, raced, primary, rcc, now);
            }
        }
        return miss(exchange, new State(primary, now, rcc, null, null, noStore, false, "uri-miss", null));
    }

    /**
     * This instance leads the fill of {@code primary}: it goes upstream if it wins the cluster-wide fill lease (or
     * the grid does not answer); otherwise it waits for the instance that holds the lease to release it (or the
     * collapse timeout), then answers from the grid, this instance's own followers too, or goes upstream itself.
     */
    private CompletionStage<CacheLookup> claimOrWait(Exchange exchange, Fill fill, String primary, Directives rcc,
            Instant now, CacheRule rule) {
        return grid.claimFill(primary, config.collapseTimeout()).thenCompose(won -> {
            if (won) {
                fill.claimed = true;
                return miss(exchange, new State(primary, now, rcc, null, fill, false, false, "uri-miss", null));
            }
            return grid.awaitRelease(primary, config.collapseTimeout())
                    .thenCompose(v -> grid.load(primary))
                    .thenCompose(keys -> {
                        for (String k : keys) {
                            indexVariant(k);
                            store.get(k).ifPresent(e -> indexTags(k, e.head()));
                        }
                        StoredEntry entry = select(primary, exchange.request().headers());
                        if (entry != null) {
                            String key = entry.key();
                            fill.head.complete(FillHead.stored(key.substring(key.indexOf(VARIANT_SEPARATOR) + 1), entry));
                            unfill(fill);
                            return lookupStored(exchange, primary, entry, rcc, false, false, config.clock().instant(), rule);
                        }
                        return miss(exchange, new State(primary, now, rcc, null, fill, false, false, "uri-miss", null));
                    });
        });
    }

    /** Takes {@code fill} out of the map; gives up its cluster-wide lease, if it held one. */
    private void unfill(Fill fill) {
        if (fills.remove(fill.primary, fill) && fill.claimed && grid != null) {
            grid.releaseFill(fill.primary);
        }
    }

    /** Followers stop waiting after the collapse timeout; a fill that ends without a storable head leaves the map. */
    private void armTimeout(Fill fill) {
        fill.head.completeOnTimeout(null, config.collapseTimeout().toMillis(), TimeUnit.MILLISECONDS);
        fill.head.whenComplete((h, f) -> {
            if (h == null) {
                unfill(fill);
            }
        });
    }

    private CompletionStage<CacheLookup> miss(Exchange exchange, State state) {
        misses.increment();
        exchange.cacheStatus("MISS");
        return CompletableFuture.completedFuture(CacheLookup.miss(state));
    }

    private CompletionStage<CacheLookup> lookupStored(Exchange exchange, String primary, StoredEntry entry, Directives rcc,
            boolean noCache, boolean noStore, Instant now, CacheRule rule) {
        EntryHead head = entry.head();
        HttpHeaders stored = head.headers();
        Directives cc = responseDirectives(stored, targeted(exchange));
        Duration age = Freshness.currentAge(stored, head.requestTime(), head.responseTime(), now);
        Duration lifetime = Freshness.lifetime(head.status(), stored, cc, head.responseTime(), config.forcedTtl(),
                config.heuristicCap(), rule);
        boolean fresh = !head.invalidated() && lifetime.compareTo(age) > 0;
        Duration staleness = age.minus(lifetime);
        boolean originNoCache = originNoCache(cc, rule, head.status());
        boolean mustValidate = noCache || head.invalidated() || originNoCache;
        boolean requestAllows = requestAllows(rcc, age, lifetime);
        boolean revalidateWhenStale = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage");

        if (!mustValidate && requestAllows) {
            if (fresh) {
                hits.increment();
                exchange.cacheStatus("HIT");
                return CompletableFuture.completedFuture(
                        CacheLookup.hit(respond(exchange, entry, now, ttlParam("hit", lifetime, age), true)));
            }
            String maxStale = rcc.value("max-stale");
            if (maxStale != null && !revalidateWhenStale
                    && (maxStale.isEmpty() || staleness.compareTo(Duration.ofSeconds(Directives.parseDelta(maxStale))) <= 0)) {
                hits.increment();
                staleServed.increment();
                exchange.cacheStatus("STALE");
                return CompletableFuture.completedFuture(CacheLookup.hit(
                        respond(exchange, entry, now, ttlParam("hit", lifetime, age) + "; detail=max-stale", true)));
            }
        }
        long swr = cc.seconds("stale-while-revalidate");
        if (swr >= 0 && !fresh && !noCache && requestAllows && !revalidateWhenStale
                && !originNoCache
                && staleness.compareTo(Duration.ofSeconds(swr)) <= 0 && revalidator != null) {
            hits.increment();
            staleServed.increment();
            exchange.cacheStatus("STALE");
            revalidateInBackground(exchange, entry, rule);
            return CompletableFuture.completedFuture(CacheLookup.hit(respond(exchange, entry, now,
                    ttlParam("hit", lifetime, age) + "; detail=stale-while-revalidate", true)));
        }
        if (rcc.has("only-if-cached")) {
            return CompletableFuture.completedFuture(onlyIfCached(exchange));
        }
        HttpHeaders conditional = validators(head);
        State state = new State(primary, now, rcc, entry, null, noStore, false, "stale",
                new HttpHeaders(exchange.request().headers()));
        if (conditional.isEmpty()) {
            misses.increment();
            exchange.cacheStatus("MISS");
            return CompletableFuture.completedFuture(CacheLookup.miss(state));
        }
        HttpHeaders reqHeaders = exchange.request().headers();
        Fill leaderFill = null;
        if (config.collapsing() && exchange.request().method().equals("GET") && !noCache && !noStore
                && !reqHeaders.contains("Authorization") && !reqHeaders.contains("Range")
                && !reqHeaders.contains("If-None-Match") && !reqHeaders.contains("If-Modified-Since")) {
            Fill existing = fills.get(primary);
            if (existing != null) {
                return follow(exchange, existing, primary, rcc, now, entry);
            }
            Fill fill = new Fill(primary);
            if (fills.putIfAbsent(primary, fill) == null) {
                armTimeout(fill);
                leaderFill = fill;
            }
        }
        // We answer the client's own conditional and range requests from the validated entry.
        reqHeaders.remove("If-None-Match");
        reqHeaders.remove("If-Modified-Since");
        reqHeaders.remove("If-Range");
        reqHeaders.remove("Range");
        revalidations.increment();
        exchange.cacheStatus("MISS");
        return CompletableFuture.completedFuture(CacheLookup.revalidate(conditional,
                new State(primary, now, rcc, entry, leaderFill, noStore, false, "stale", state.clientHeaders())));
    }

    private static HttpHeaders clientHeaders(State st, Exchange exchange) {
        return st.clientHeaders != null ? st.clientHeaders : exchange.request().headers();
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

    static HttpHeaders validators(EntryHead head) {
        HttpHeaders conditional = new HttpHeaders();
        String etag = head.header("ETag");
        if (etag != null) {
            conditional.add("If-None-Match", etag);
        }
        String lastModified = head.header("Last-Modified");
        if (lastModified != null && HttpDates.parse(lastModified) != null) {
            conditional.add("If-Modified-Since", lastModified);
        }
        return conditional;
    }

    private CacheLookup onlyIfCached(Exchange exchange) {
        exchange.cacheStatus("MISS");
        misses.increment();
        return CacheLookup.hit(synthetic(504, "not in cache (only-if-cached)",
                config.name() + "; fwd=miss; detail=only-if-cached"));
    }

    private CompletionStage<CacheLookup> follow(Exchange exchange, Fill fill, String primary, Directives rcc, Instant now) {
        return follow(exchange, fill, primary, rcc, now, null);
    }

    /** Waits for {@code fill}'s head; serves it if it suits this request, else goes upstream ({@code stale} kept for errors). */
    private CompletionStage<CacheLookup> follow(Exchange exchange, Fill fill, String primary, Directives rcc, Instant now,
            StoredEntry stale) {
        collapsed.increment();
        return fill.head.thenApply(fh -> {
            if (fh != null && fh.secondary.equals(secondaryKey(fh.head, exchange.request().headers()))) {
                Instant at = config.clock().instant();
                Directives cc = responseDirectives(fh.head.headers(), targeted(exchange));
                Duration age = Freshness.currentAge(fh.head.headers(), fh.head.requestTime(), fh.head.responseTime(), at);
                CacheRule rule = ruleFor(exchange);
                Duration lifetime = Freshness.lifetime(fh.head.status(), fh.head.headers(), cc, fh.head.responseTime(),
                        config.forcedTtl(), config.heuristicCap(), rule);
                boolean mustValidate = originNoCache(cc, rule, fh.head.status());
                if (!mustValidate && lifetime.compareTo(age) > 0 && requestAllows(rcc, age, lifetime)) {
                    hits.increment();
                    exchange.cacheStatus("HIT");
                    HttpHeaders headers = clientHeaders(fh.head, age);
                    long length = fh.length.getAsLong();
                    if (length < 0) {
                        String cl = fh.head.header("Content-Length");
                        headers.remove("Content-Length");
                        if (cl != null) {
                            headers.set("Content-Length", cl);
                        }
                    } else {
                        headers.set("Content-Length", Long.toString(length));
                    }
                    addCacheStatus(headers, config.name() + "; fwd=uri-miss; collapsed; ttl=" + lifetime.minus(age).getSeconds());
                    return CacheLookup.hit(new CachedResponse(fh.head.status(), headers,
                            following(fill, counting(fh.body.get()))));
                }
            }
            misses.increment();
            exchange.cacheStatus("MISS");
            return CacheLookup.miss(new State(primary, now, rcc, stale, null, false, false, stale == null ? "uri-miss" : "stale",
                    null));
        });
    }

    // ---- the upstream response ----------------------------------------------------------------------------

    /** See {@link io.github.gatehouse.core.HttpCache#onUpstreamResponse}. */
    public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
        if (!(lookup.state() instanceof State)) {
            return CacheDecision.pass();
        }
        State st = (State) lookup.state();
        int status = response.status();
        Instant responseTime = config.clock().instant();
        HttpHeaders headers = response.headers();
        if (!headers.contains("Date")) {
            headers.add("Date", HttpDates.format(responseTime)); // RFC 9110 §6.6.1: a caching recipient adds one
        }
        if (st.unsafe) {
            if (status >= 200 && status < 400) {
                invalidateAfterUnsafe(exchange, headers);
            }
            return CacheDecision.pass();
        }
        if (BYPASS.equals(st.fwd)) {
            addCacheStatus(headers, config.name() + "; fwd=bypass; fwd-status=" + status + "; detail=request-body");
            stripTagHeader(headers);
            return CacheDecision.pass();
        }
        try {
            if (st.entry != null && lookup.kind() == CacheLookup.Kind.REVALIDATE && status == 304) {
                StoredEntry updated = freshen(st.entry, headers, st.requestTime, responseTime, targeted(exchange));
                if (st.fill != null) {
                    String key = updated.key();
                    st.fill.head.complete(FillHead.stored(key.substring(key.indexOf(VARIANT_SEPARATOR) + 1), updated));
                    unfill(st.fill);
                }
                unmodified.increment();
                hits.increment();
                exchange.cacheStatus("REFRESH_UNMODIFIED");
                return CacheDecision.serve(respond(exchange, clientHeaders(st, exchange), updated, responseTime,
                        "fwd=stale; fwd-status=304", true, notStoredFields(headers, targeted(exchange))));
            }
            if (st.entry != null && STALE_IF_ERROR_STATUSES.contains(status)
                    && staleIfErrorAllows(st.entry, st.rcc, responseTime, targeted(exchange), ruleFor(exchange))) {
                release(st.fill);
                staleServed.increment();
                hits.increment();
                exchange.cacheStatus("STALE");
                return CacheDecision.serve(respond(exchange, clientHeaders(st, exchange), st.entry, responseTime,
                        "hit; fwd=stale; fwd-status=" + status + "; detail=stale-if-error", true));
            }
            if (st.entry != null && status == 200 && exchange.request().method().equals("HEAD")) {
                headFreshens(exchange, st, headers, responseTime);
            }
            if (st.entry != null && lookup.kind() == CacheLookup.Kind.REVALIDATE) {
                exchange.cacheStatus("REFRESH_MODIFIED");
            }
            String fwd = st.entry != null ? "stale" : st.fwd;
            String reason = storability(exchange, st, status, headers);
            if (reason != null) {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} not storing {} {}: {}", exchange.id(), status, st.primary, reason);
                }
                release(st.fill);
                if (status < 400 && st.entry != null && status != 304 && status != 206
                        && exchange.request().method().equals("GET")) {
                    removeKey(st.entry.key()); // the origin sent a new, uncacheable answer: the old one is outdated
                }
                addCacheStatus(headers, config.name() + "; fwd=" + fwd + "; fwd-status=" + status);
                stripTagHeader(headers);
                return CacheDecision.pass();
            }
            HttpHeaders storedHeaders = headersToStore(headers, true, targeted(exchange));
            EntryHead head = new EntryHead(status, storedHeaders, st.requestTime, responseTime, false);
            String secondary = secondaryKey(head, exchange.request().headers());
            String key = st.primary + VARIANT_SEPARATOR + secondary;
            if (st.entry != null && !st.entry.key().equals(key)) {
                removeKey(st.entry.key());
            }
            addCacheStatus(headers, config.name() + "; fwd=" + fwd + "; fwd-status=" + status + "; stored");
            stripTagHeader(headers);
            return CacheDecision.store(new EntryWriter(exchange.id(), key, secondary, head, st.fill));
        } catch (RuntimeException e) {
            release(st.fill);
            throw e;
        }
    }

    /**
     * A 200 to HEAD updates the stored GET response it describes, or invalidates it when a validator or the length
     * differs (RFC 9111 §4.3.5).
     */
    private void headFreshens(Exchange exchange, State st, HttpHeaders headers, Instant responseTime) {
        EntryHead stored = st.entry.head();
        boolean differs = false;
        for (String name : List.of("ETag", "Last-Modified", "Content-Length")) {
            String now = headers.get(name);
            String before = stored.header(name);
            if (now != null && before != null && !now.trim().equals(before.trim())) {
                differs = true;
            }
        }
        if (differs) {
            removeKey(st.entry.key());
        } else {
            freshen(st.entry, headers, st.requestTime, responseTime, targeted(exchange));
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} HEAD {} the stored response", exchange.id(), differs ? "invalidated" : "freshened");
        }
    }

    /** See {@link io.github.gatehouse.core.HttpCache#onUpstreamFailure}. */
    public Optional<CachedResponse> onUpstreamFailure(Exchange exchange, CacheLookup lookup, Throwable failure) {
        if (!(lookup.state() instanceof State)) {
            return Optional.empty();
        }
        State st = (State) lookup.state();
        release(st.fill);
        Instant now = config.clock().instant();
        if (st.entry != null && staleIfErrorAllows(st.entry, st.rcc, now, targeted(exchange), ruleFor(exchange))) {
            staleServed.increment();
            hits.increment();
            exchange.cacheStatus("STALE");
            LOG.info("{} upstream failed; serving a stale response for {}", exchange.id(), st.primary);
            return Optional.of(respond(exchange, clientHeaders(st, exchange), st.entry, now,
                    "hit; fwd=stale; detail=stale-if-error", true));
        }
        if (st.entry != null && mustRevalidate(st.entry, targeted(exchange))) {
            // RFC 9111 §5.2.2.2: a stale must-revalidate response that cannot be validated gets a 504
            return Optional.of(synthetic(504, "the stored response must be revalidated and the upstream failed",
                    config.name() + "; fwd=stale; detail=must-revalidate"));
        }
        return Optional.empty();
    }

    private boolean mustRevalidate(StoredEntry entry, List<String> targeted) {
        Directives cc = responseDirectives(entry.head().headers(), targeted);
        return cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage");
    }

    private boolean staleIfErrorAllows(StoredEntry entry, Directives rcc, Instant now, List<String> targeted,
            CacheRule rule) {
        EntryHead head = entry.head();
        HttpHeaders h = head.headers();
        Directives cc = responseDirectives(h, targeted);
        if (cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage")
                || originNoCache(cc, rule, head.status())) {
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

    /** Why the response may not be stored (RFC 9111 §3), or {@code null} if it may. */
    private String storability(Exchange exchange, State st, int status, HttpHeaders headers) {
        RequestHead request = exchange.request();
        if (!request.method().equals("GET")) {
            return "method " + request.method();
        }
        if (st.noStore) {
            return "request no-store";
        }
        if (status < 200 || status == 206 || status == 304 || status > 599) {
            return "status " + status;
        }
        Directives cc = responseDirectives(headers, targeted(exchange));
        if (cc.has("must-understand")) {
            if (!Freshness.HEURISTICALLY_CACHEABLE.contains(status) || status == 206) {
                return "must-understand with status " + status;
            }
        } else if (cc.has("no-store")) {
            return "no-store";
        }
        if (cc.isUnqualified("private")) {
            return "private";
        }
        if (request.headers().contains("Authorization")
                && !(cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate"))) {
            return "request has Authorization";
        }
        if (cookieForbidsStoring(cc, headers)) {
            // conservative default (as Varnish's): a cookie is usually one user's; the origin opts in with
            // public or s-maxage when the response really is shared
            return "Set-Cookie without public or s-maxage";
        }
        for (String v : headers.getTokens("Vary")) {
            if (v.equals("*")) {
                return "Vary: *";
            }
        }
        String cl = headers.get("Content-Length");
        if (cl != null) {
            try {
                if (Long.parseLong(cl.trim()) > config.maxObjectBytes()) {
                    return "larger than maxObjectSize";
                }
            } catch (NumberFormatException e) {
                return "invalid Content-Length";
            }
        }
        return freshnessKnowable(status, headers, cc, ruleFor(exchange)) ? null
                : "no explicit freshness and status " + status + " not heuristically cacheable";
    }

    /**
     * Whether a response's freshness can be known without guessing beyond RFC 9110 §15.1: explicit freshness
     * ({@code max-age}, {@code s-maxage}, {@code Expires} unless a targeted field governs), a heuristically cacheable
     * status, or a configured TTL for the status. {@code public} alone is not enough: a 500, 503 or 302 is stored only
     * with explicit freshness.
     */
    private boolean freshnessKnowable(int status, HttpHeaders headers, Directives cc, CacheRule rule) {
        if (Freshness.ruleApplies(rule, status, config.forcedTtl()) && rule.max().isZero()
                && !Freshness.hasExplicitFreshness(headers, cc) && headers.get("ETag") == null
                && HttpDates.parse(headers.get("Last-Modified")) == null) {
            return false; // a rule with MAX 0 and nothing to revalidate with: a stored copy could never be reused
        }
        return Freshness.hasExplicitFreshness(headers, cc) || Freshness.HEURISTICALLY_CACHEABLE.contains(status)
                || config.forcedTtl().containsKey(status);
    }

    /** Whether the origin's unqualified {@code no-cache} forces a revalidation (unless a rule overrides it). */
    private boolean originNoCache(Directives cc, CacheRule rule, int status) {
        return cc.isUnqualified("no-cache") && !(Freshness.ruleApplies(rule, status, config.forcedTtl())
                && rule.has(CacheRule.Option.OVERRIDE_NO_CACHE));
    }

    /**
     * The first cache rule whose pattern is found in the request's full URL {@code scheme://host[:port]/path?query}
     * (port only when not the default), or {@code null}.
     */
    CacheRule ruleFor(Exchange exchange) {
        List<CacheRule> rules = config.rules();
        if (rules.isEmpty()) {
            return null;
        }
        String url = ruleUrl(exchange.request().uri());
        for (CacheRule r : rules) {
            if (r.matches(url)) {
                return r;
            }
        }
        return null;
    }

    /** {@code scheme://host[:port]/path[?query]}: lower-case scheme and host, the port only when not the default. */
    static String ruleUrl(URI uri) {
        String scheme = uri.getScheme() == null ? "http" : uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        int port = uri.getPort();
        boolean defaultPort = port < 0 || port == (scheme.equals("https") ? 443 : 80);
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return scheme + "://" + host + (defaultPort ? "" : ":" + port) + path
                + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
    }

    /**
     * Whether a response that sets a cookie may not be stored: unless the origin says it is shared ({@code public},
     * {@code s-maxage}) or keeps the cookie out of the stored copy itself ({@code private="Set-Cookie"},
     * {@code no-cache="Set-Cookie"}).
     */
    private static boolean cookieForbidsStoring(Directives cc, HttpHeaders headers) {
        return headers.contains("Set-Cookie") && !(cc.has("public") || cc.has("s-maxage"))
                && !names(cc.fieldNames("private"), "Set-Cookie") && !names(cc.fieldNames("no-cache"), "Set-Cookie");
    }

    private static boolean names(List<String> fields, String name) {
        for (String f : fields) {
            if (f.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The fields of a 304 that the cache does not keep in the stored copy ({@code private} and {@code no-cache}
     * qualified names, and {@code Set-Cookie} unless replayed): they still go to the client whose request the 304
     * answered, as they would on a miss. Empty when there are none.
     */
    private HttpHeaders notStoredFields(HttpHeaders notModified, List<String> targeted) {
        Set<String> names = privateFieldNames(responseDirectives(notModified, targeted));
        HttpHeaders own = new HttpHeaders();
        for (HttpHeaders.Field f : notModified) {
            if (names.contains(f.name().toLowerCase(Locale.ROOT))) {
                own.add(f.name(), f.value());
            }
        }
        return own;
    }

    /** Lower-case names of the fields a stored copy must not hold (RFC 9111 §5.2.2.4, §5.2.2.7, and Set-Cookie). */
    private Set<String> privateFieldNames(Directives cc) {
        Set<String> names = new java.util.HashSet<>(4);
        cc.fieldNames("private").forEach(n -> names.add(n.toLowerCase(Locale.ROOT)));
        cc.fieldNames("no-cache").forEach(n -> names.add(n.toLowerCase(Locale.ROOT)));
        if (!config.replaySetCookie()) {
            names.add("set-cookie");
        }
        return names;
    }

    /** The targeted fields (RFC 9213) this cache honours for {@code exchange}'s mode, most specific first. */
    List<String> targeted(Exchange exchange) {
        return exchange.mode() == Exchange.Mode.REVERSE ? config.targetedReverse() : config.targetedForward();
    }

    /**
     * The directives that govern this cache: those of the first of {@code targeted} that is present and valid (RFC
     * 9213 §2.1: a Dictionary structured field), marked as targeted so that {@code Expires} is ignored too (§2.2);
     * else {@code Cache-Control}.
     */
    Directives responseDirectives(HttpHeaders headers, List<String> targeted) {
        for (String field : targeted) {
            List<String> lines = headers.getAll(field);
            if (lines.isEmpty()) {
                continue;
            }
            if (!TargetedFields.isValidDictionary(String.join(", ", lines))) {
                continue; // an invalid targeted field is ignored, as if absent
            }
            Directives directives = Directives.of(headers, field);
            if (!directives.isEmpty()) {
                return directives.fromTargetedField(field);
            }
        }
        return Directives.of(headers, "Cache-Control");
    }

    private HttpHeaders headersToStore(HttpHeaders response, boolean relayed, List<String> targeted) {
        HttpHeaders stored = new HttpHeaders(response);
        if (relayed) {
            removeLastVia(stored);
        }
        // private="..." fields MUST NOT be stored; no-cache="..." fields may not be served without revalidation,
        // which the cache meets by never keeping them; Set-Cookie stays with the client that caused it (unless replayed)
        for (String name : privateFieldNames(responseDirectives(response, targeted))) {
            stored.remove(name);
        }
        stored.remove("Transfer-Encoding");
        return stored;
    }

    /** The relay appends its own Via line to upstream responses; the cache adds it again when serving. */
    private static void removeLastVia(HttpHeaders headers) {
        List<HttpHeaders.Field> fields = headers.asList();
        int last = -1;
        for (int i = 0; i < fields.size(); i++) {
            if (fields.get(i).is("Via")) {
                last = i;
            }
        }
        if (last < 0) {
            return;
        }
        headers.clear();
        for (int i = 0; i < fields.size(); i++) {
            if (i != last) {
                headers.add(fields.get(i).name(), fields.get(i).value());
            }
        }
    }

    /** Updates a stored entry's head from a 304 (RFC 9111 §3.2, §4.3.4). */
    private StoredEntry freshen(StoredEntry entry, HttpHeaders notModified, Instant requestTime, Instant responseTime,
            List<String> targeted) {
        EntryHead old = entry.head();
        HttpHeaders merged = old.headers();
        HttpHeaders fresh = new HttpHeaders(notModified);
        removeLastVia(fresh);
        Directives cc = responseDirectives(fresh, targeted);
        Set<String> skip = new java.util.HashSet<>(NOT_UPDATED_BY_304);
        skip.addAll(privateFieldNames(cc));
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
            indexTags(entry.key(), head); // a 304 may list other tags
        }
        return new UpdatedEntry(entry, head);
    }

    // ---- serving stored responses -------------------------------------------------------------------------

    /** Serves {@code entry}; {@code cacheStatus} is this cache's Cache-Status parameters (without its name). */
    private CachedResponse respond(Exchange exchange, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals) {
        return respond(exchange, exchange.request().headers(), entry, now, cacheStatus, answerConditionals);
    }

    /** Serves {@code entry}, answering the conditional and range headers in {@code req} (the client's). */
    private CachedResponse respond(Exchange exchange, HttpHeaders req, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals) {
        return respond(exchange, req, entry, now, cacheStatus, answerConditionals, null);
    }

    /** As above, adding {@code own} (fields the origin just sent this client and the cache did not store), if any. */
    private CachedResponse respond(Exchange exchange, HttpHeaders req, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals, HttpHeaders own) {
        EntryHead head = entry.head();
        Duration age = Freshness.currentAge(head.headers(), head.requestTime(), head.responseTime(), now);
        HttpHeaders headers = clientHeaders(head, age);
        if (own != null) {
            own.forEachField(headers::add);
        }
        addCacheStatus(headers, config.name() + "; " + cacheStatus);
        RequestHead request = exchange.request();
        long length = entry.bodyLength();
        if (answerConditionals && head.status() == 200 && notModified(req, head)) {
            headers.remove("Content-Length");
            return new CachedResponse(304, headers, ChunkedBody.of(List.of()).publisher());
        }
        if (head.status() == 200 && request.method().equals("GET") && req.contains("Range") && ifRangeMatches(req, head)) {
            long[] range = Ranges.single(req.get("Range"), length);
            if (range == Ranges.UNSATISFIABLE) {
                HttpHeaders h = new HttpHeaders(headers);
                h.set("Content-Range", "bytes */" + length);
                h.set("Content-Length", "0");
                return new CachedResponse(416, h, ChunkedBody.of(List.of()).publisher());
            }
            if (range != null) {
                headers.set("Content-Range", "bytes " + range[0] + "-" + (range[0] + range[1] - 1) + "/" + length);
                headers.set("Content-Length", Long.toString(range[1]));
                return new CachedResponse(206, headers, counting(entry.body(range[0], range[1])));
            }
        }
        headers.set("Content-Length", Long.toString(length));
        return new CachedResponse(head.status(), headers, counting(entry.body(0, length)));
    }

    /** The stored fields as served from the cache to any client. */
    private HttpHeaders clientHeaders(EntryHead head, Duration age) {
        HttpHeaders headers = head.headers();
        if (!config.replaySetCookie()) {
            headers.remove("Set-Cookie"); // also for entries stored while replaying was on (a reopened disk store)
        }
        headers.set("Age", Long.toString(age.getSeconds()));
        if (config.tagHeader() != null) {
            headers.remove(config.tagHeader());
        }
        return headers;
    }

    private void stripTagHeader(HttpHeaders headers) {
        if (config.tagHeader() != null) {
            headers.remove(config.tagHeader());
        }
    }

    private void addCacheStatus(HttpHeaders headers, String member) {
        List<String> kept = new ArrayList<>();
        for (String m : headers.getTokens("Cache-Status")) {
            String name = m.split(";", 2)[0].trim();
            if (!name.equalsIgnoreCase(config.name())) {
                kept.add(m);
            }
        }
        kept.add(member);
        headers.set("Cache-Status", String.join(", ", kept));
    }

    /** Whether the client's If-None-Match / If-Modified-Since match the stored response (RFC 9110 §13.2.2). */
    static boolean notModified(HttpHeaders req, EntryHead head) {
        List<String> inm = req.getTokens("If-None-Match");
        if (!inm.isEmpty()) {
            String etag = head.header("ETag");
            for (String candidate : inm) {
                if (candidate.equals("*") || (etag != null && weakEquals(candidate, etag))) {
                    return true;
                }
            }
            return false;
        }
        Instant ims = HttpDates.parse(req.get("If-Modified-Since"));
        if (ims == null) {
            return false;
        }
        Instant lastModified = HttpDates.parse(head.header("Last-Modified"));
        if (lastModified == null) {
            lastModified = HttpDates.parse(head.header("Date"));
        }
        return lastModified != null && !lastModified.isAfter(ims);
    }

    private static boolean weakEquals(String a, String b) {
        return stripWeak(a.trim()).equals(stripWeak(b.trim()));
    }

    private static String stripWeak(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }

    private static boolean ifRangeMatches(HttpHeaders req, EntryHead head) {
        String ifRange = req.get("If-Range");
        if (ifRange == null) {
            return true;
        }
        String v = ifRange.trim();
        if (v.startsWith("\"") || v.startsWith("W/")) {
            String etag = head.header("ETag");
            return etag != null && !v.startsWith("W/") && !etag.startsWith("W/") && v.equals(etag.trim());
        }
        Instant date = HttpDates.parse(v);
        Instant lastModified = HttpDates.parse(head.header("Last-Modified"));
        return date != null && date.equals(lastModified);
    }

    private CachedResponse synthetic(int status, String text, String cacheStatus) {
        byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
        HttpHeaders h = new HttpHeaders()
                .add("Content-Type", "text/plain; charset=utf-8")
                .add("Content-Length", Integer.toString(body.length))
                .add("Cache-Control", "no-store")
                .add("Cache-Status", cacheStatus);
        return new CachedResponse(status, h, ChunkedBody.of(List.of(ByteBuffer.wrap(body))).publisher());
    }

    /**
     * {@code body} for one collapsed follower of {@code fill}: counted among the fill's followers from now until its
     * subscriber completes, fails or cancels (so the fill knows whether anyone still waits for it).
     */
    private static Flow.Publisher<ByteBuffer> following(Fill fill, Flow.Publisher<ByteBuffer> body) {
        fill.followers.incrementAndGet();
        AtomicBoolean left = new AtomicBoolean();
        Runnable leave = () -> {
            if (left.compareAndSet(false, true)) {
                fill.followers.decrementAndGet();
            }
        };
        return subscriber -> body.subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscriber.onSubscribe(new Flow.Subscription() {
                    @Override
                    public void request(long n) {
                        s.request(n);
                    }

                    @Override
                    public void cancel() {
                        leave.run();
                        s.cancel();
                    }
                });
            }

            @Override
            public void onNext(ByteBuffer item) {
                subscriber.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                leave.run();
                subscriber.onError(t);
            }

            @Override
            public void onComplete() {
                leave.run();
                subscriber.onComplete();
            }
        });
    }

    private Flow.Publisher<ByteBuffer> counting(Flow.Publisher<ByteBuffer> body) {
        return subscriber -> body.subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscriber.onSubscribe(s);
            }

            @Override
            public void onNext(ByteBuffer item) {
                bytesServed.add(item.remaining());
                subscriber.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                subscriber.onError(t);
            }

            @Override
            public void onComplete() {
                subscriber.onComplete();
            }
        });
    }

    // ---- variants -----------------------------------------------------------------------------------------

    /** The stored variant that matches the request's selecting headers (RFC 9111 §4.1), the newest if several. */
    private StoredEntry select(String primary, HttpHeaders reqHeaders) {
        Set<String> keys = variants.get(primary);
        if (keys == null) {
            return null;
        }
        StoredEntry best = null;
        for (String key : keys) {
            Optional<StoredEntry> found = store.get(key);
            if (found.isEmpty()) {
                keys.remove(key);
                continue;
            }
            StoredEntry e = found.get();
            if (e.head().headers().getTokens("Vary").contains("*")) {
                continue; // Vary: * (for instance from a 304 that updated the entry) never matches (RFC 9111 §4.1)
            }
            String secondary = key.substring(key.indexOf(VARIANT_SEPARATOR) + 1);
            if (!secondary.equals(secondaryKey(e.head(), reqHeaders))) {
                continue;
            }
            if (best == null || dateOf(e).isAfter(dateOf(best))) {
                best = e;
            }
        }
        if (keys.isEmpty()) {
            variants.remove(primary, keys);
        }
        return best;
    }

    private static Instant dateOf(StoredEntry e) {
        return Freshness.dateValue(e.head().headers(), e.head().responseTime());
    }

    /**
     * The secondary key: each field named by the response's Vary, with the request's normalised value: whitespace
     * folded, and for {@code Accept-Encoding} and {@code Accept-Language} also case, order and q-value spelling (see
     * {@link Variants#normalizeWeightedList}), so that equivalent requests share a variant.
     */
    static String secondaryKey(EntryHead head, HttpHeaders request) {
        List<String> vary = new ArrayList<>();
        for (String name : head.headers().getTokens("Vary")) {
            vary.add(name.toLowerCase(Locale.ROOT));
        }
        if (vary.isEmpty()) {
            return "";
        }
        TreeMap<String, String> values = new TreeMap<>();
        for (String name : vary) {
            List<String> lines = request.getAll(name);
            if (lines.isEmpty()) {
                values.put(name, "\u0000");
            } else if (name.equals("accept-encoding") || name.equals("accept-language")) {
                values.put(name, Variants.normalizeWeightedList(request.getTokens(name)));
            } else {
                values.put(name, String.join(",", request.getTokens(name)).replaceAll("\\s+", " ").trim());
            }
        }
        StringBuilder sb = new StringBuilder();
        values.forEach((k, v) -> sb.append(k).append('=').append(v).append('\u0002'));
        return sb.toString();
    }

    /** Drops index keys the store evicted on its own, once the index has grown well past the store. */
    private void sweepIndexIfLarge() {
        if (variants.size() <= 2 * store.entryCount() + 1024) {
            return;
        }
        variants.forEach((primary, keys) -> {
            keys.removeIf(k -> store.get(k).isEmpty());
            if (keys.isEmpty()) {
                variants.remove(primary, keys);
            }
        });
    }

    private void indexVariant(String key) {
        int sep = key.indexOf(VARIANT_SEPARATOR);
        if (sep < 0) {
            return;
        }
        variants.computeIfAbsent(key.substring(0, sep), k -> ConcurrentHashMap.newKeySet()).add(key);
    }

    // ---- invalidation and purge ---------------------------------------------------------------------------

    private void invalidateAfterUnsafe(Exchange exchange, HttpHeaders response) {
        URI target = exchange.request().uri();
        int n = removePrimary(config.keyPolicy().primaryKey(exchange), PurgeMode.HARD);
        n += removePrimary(CacheKeyPolicy.normalize(target, true), PurgeMode.HARD);
        for (String name : List.of("Location", "Content-Location")) {
            String value = response.get(name);
            if (value == null) {
                continue;
            }
            try {
                URI resolved = target.resolve(value.trim());
                if (sameOrigin(target, resolved)) {
                    n += removePrimary(CacheKeyPolicy.normalize(resolved, true), PurgeMode.HARD);
                }
            } catch (IllegalArgumentException e) {
                LOG.debug("{} ignoring invalid {}: {}", exchange.id(), name, value);
            }
        }
        if (n > 0 && LOG.isDebugEnabled()) {
            LOG.debug("{} {} invalidated {} entries", exchange.id(), exchange.request().method(), n);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() > 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private int removePrimary(String primary, PurgeMode mode) {
        int n = 0;
        Set<String> keys = variants.get(primary);
        if (keys != null) {
            for (String key : List.copyOf(keys)) {
                if (apply(key, mode)) {
                    n++;
                }
            }
        }
        return n;
    }

    private boolean apply(String key, PurgeMode mode) {
        if (mode == PurgeMode.HARD) {
            return removeKey(key);
        }
        Optional<StoredEntry> e = store.get(key);
        return e.isPresent() && store.updateHead(key, e.get().head().invalidate());
    }

    private boolean removeKey(String key) {
        boolean removed = store.remove(key);
        int sep = key.indexOf(VARIANT_SEPARATOR);
        if (sep >= 0) {
            Set<String> keys = variants.get(key.substring(0, sep));
            if (keys != null) {
                keys.remove(key);
            }
        }
        return removed;
    }

    /** Purges every variant of {@code url}'s normal-form key; returns how many. */
    public long purgeUrl(URI url, PurgeMode mode) {
        if (grid != null) {
            long n = grid.purgePrimary(CacheKeyPolicy.normalize(url, true), mode);
            purged.add(n);
            return n;
        }
        long n = removePrimary(CacheKeyPolicy.normalize(url, true), mode);
        purged.add(n);
        return n;
    }

    /** Purges every entry whose key starts with {@code prefix}; returns how many. */
    public long purgePrefix(String prefix, PurgeMode mode) {
        if (grid != null) {
            long n = grid.purgePrefix(prefix, mode);
            purged.add(n);
            return n;
        }
        long n = 0;
        for (String key : store.keys()) {
            if (key.startsWith(prefix) && apply(key, mode)) {
                n++;
            }
        }
        purged.add(n);
        return n;
    }

    /**
     * Purges every entry whose tag header lists {@code tag}; returns how many. Only the entries the tag index names
     * are looked at (each checked against its current head), so the time depends on the entries with the tag, not
     * on the size of the store.
     */
    public long purgeTag(String tag, PurgeMode mode) {
        long n = 0;
        if (config.tagHeader() == null) {
            return 0;
        }
        if (grid != null) {
            n = grid.purgeTag(config.tagHeader(), tag, mode);
            purged.add(n);
            return n;
        }
        Set<String> keys = tagged.get(tag);
        if (keys == null) {
            return 0;
        }
        for (String key : List.copyOf(keys)) {
            Optional<StoredEntry> e = store.get(key);
            if (e.isEmpty() || !hasTag(e.get().head(), tag)) {
                forgetTag(keys, key); // evicted, removed, or replaced by a version without the tag
                continue;
            }
            if (apply(key, mode)) {
                n++;
            }
            if (mode == PurgeMode.HARD) {
                forgetTag(keys, key);
            }
        }
        if (keys.isEmpty()) {
            tagged.remove(tag, keys);
        }
        purged.add(n);
        return n;
    }

    private void forgetTag(Set<String> keys, String key) {
        if (keys.remove(key)) {
            taggedRefs.decrementAndGet();
        }
    }

    /** Adds {@code key} under each tag {@code head} lists; sweeps the index once it is much larger than the store. */
    private void indexTags(String key, EntryHead head) {
        if (config.tagHeader() == null) {
            return;
        }
        for (String line : head.headerLines(config.tagHeader())) {
            for (String t : line.split("[\\s,]+")) {
                if (!t.isEmpty() && tagged.computeIfAbsent(t, x -> ConcurrentHashMap.newKeySet(4)).add(key)) {
                    taggedRefs.incrementAndGet();
                }
            }
        }
        if (taggedRefs.get() > 8 * store.entryCount() + 65_536) {
            sweepTags();
        }
    }

    /** Drops index entries for keys the store no longer holds, or whose current head no longer lists the tag. */
    private synchronized void sweepTags() {
        if (taggedRefs.get() <= 8 * store.entryCount() + 65_536) {
            return; // another thread swept meanwhile
        }
        tagged.forEach((tag, keys) -> {
            for (String key : List.copyOf(keys)) {
                Optional<StoredEntry> e = store.get(key);
                if (e.isEmpty() || !hasTag(e.get().head(), tag)) {
                    forgetTag(keys, key);
                }
            }
            if (keys.isEmpty()) {
                tagged.remove(tag, keys);
            }
        });
    }

    private boolean hasTag(EntryHead head, String tag) {
        for (String line : head.headerLines(config.tagHeader())) { // without copying the head or splitting the field
            if (listsTag(line, tag)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code tag} is one of the space- or comma-separated tags of {@code line}. */
    static boolean listsTag(String line, String tag) {
        if (tag.isEmpty()) {
            return false;
        }
        for (int from = 0, at; (at = line.indexOf(tag, from)) >= 0; from = at + 1) {
            int end = at + tag.length();
            if ((at == 0 || isTagSeparator(line.charAt(at - 1))) && (end == line.length() || isTagSeparator(line.charAt(end)))) {
                return true;
            }
        }
        return false;
    }

    private static boolean isTagSeparator(char c) {
        return c == ' ' || c == ',' || c == '\t';
    }

    private CacheLookup purgeMethod(Exchange exchange) {
        InetAddress client = exchange.clientAddress().getAddress();
        boolean allowed = false;
        for (Cidr cidr : config.purgeFrom()) {
            if (client != null && cidr.contains(client)) {
                allowed = true;
                break;
            }
        }
        if (!allowed) {
            LOG.info("{} PURGE {} refused for client {}", exchange.id(), exchange.request().uri(), client);
            return CacheLookup.hit(synthetic(403, "PURGE is not allowed from " + (client == null ? "this client"
                    : client.getHostAddress()), config.name() + "; detail=purge-denied"));
        }
        String modeHeader = exchange.request().headers().get("Purge-Mode");
        PurgeMode mode = modeHeader != null && modeHeader.trim().equalsIgnoreCase("soft") ? PurgeMode.SOFT : PurgeMode.HARD;
        long n = purgeUrl(exchange.request().uri(), mode);
        exchange.cacheStatus("PURGE");
        LOG.info("{} PURGE {} ({}) removed {} entries", exchange.id(), exchange.request().uri(), mode, n);
        return CacheLookup.hit(synthetic(n > 0 ? 200 : 404, (n > 0 ? "purged " : "not in cache: ") + n + " entries",
                config.name() + "; detail=purge"));
    }

    // ---- background revalidation --------------------------------------------------------------------------

    private void revalidateInBackground(Exchange exchange, StoredEntry entry, CacheRule rule) {
        if (!revalidating.add(entry.key())) {
            return;
        }
        revalidations.increment();
        String id = exchange.id(); // the exchange itself must not be kept past its end
        revalidator.revalidate(exchange, entry, config.clock().instant(), rule).whenComplete((r, f) -> {
            revalidating.remove(entry.key());
            if (f != null) {
                LOG.info("{} background revalidation of {} failed: {}", id, entry.key(), f.toString());
            }
        });
    }

    /** Applies a background revalidation's 304. */
    void backgroundNotModified(StoredEntry entry, HttpHeaders notModified, Instant requestTime, List<String> targeted) {
        unmodified.increment();
        freshen(entry, notModified, requestTime, config.clock().instant(), targeted);
    }

    /** Starts storing a background revalidation's full response; null when it may not be stored. */
    EntryWriter backgroundStore(StoredEntry old, String method, HttpHeaders requestHeaders, int status, HttpHeaders headers,
            Instant requestTime, List<String> targeted, CacheRule rule) {
        Directives cc = responseDirectives(headers, targeted);
        boolean storable = status >= 200 && status != 206 && status != 304 && !cc.has("no-store")
                && !cc.isUnqualified("private")
                && !cookieForbidsStoring(cc, headers)
                && headers.getTokens("Vary").stream().noneMatch("*"::equals)
                && freshnessKnowable(status, headers, cc, rule);
        if (!storable) {
            if (status < 500) {
                removeKey(old.key()); // a new answer that may not be stored: the old one is outdated
            }
            return null;
        }
        EntryHead head = new EntryHead(status, headersToStore(headers, false, targeted), requestTime, config.clock().instant(), false);
        String key = old.key().substring(0, old.key().indexOf(VARIANT_SEPARATOR) + 1) + secondaryKey(head, requestHeaders);
        return new EntryWriter("background", key, key.substring(key.indexOf(VARIANT_SEPARATOR) + 1), head, null);
    }

    // ---- fills and writers --------------------------------------------------------------------------------

    private void release(Fill fill) {
        if (fill != null) {
            fill.head.complete(null);
            unfill(fill);
        }
    }

    /** Streams one response into the store (and to collapsed followers); stops storing on any trouble. */
    final class EntryWriter implements CacheWriter {
        private final String exchangeId;
        private final String key;
        private final EntryHead head;
        private final Fill fill;
        private final ChunkedBody body;
        private final CacheStore.Writer storeWriter;
        private final AtomicBoolean ended = new AtomicBoolean();
        private long length;
        /** The length when the last waiting client went (-1 while someone waits or the first client is still there). */
        private long aloneSince = -1;

        EntryWriter(String exchangeId, String key, String secondary, EntryHead head, Fill fill) {
            this.exchangeId = exchangeId;
            this.key = key;
            this.head = head;
            // With the memory store the fill's chunks become the entry. With other stores a copy is kept on the heap
            // for collapsed followers only when the body is known to be small; larger ones are not shared, so a big
            // download never sits whole on the heap.
            boolean shareable = fill != null && (memoryStore != null || declaredLength(head) <= COLLAPSE_BUFFER_BYTES);
            this.fill = shareable ? fill : null;
            if (fill != null && !shareable) {
                release(fill);
            }
            this.body = memoryStore != null || shareable ? new ChunkedBody() : null;
            this.storeWriter = memoryStore != null ? null : store.begin(key, head);
            if (shareable) {
                fill.head.complete(FillHead.growing(secondary, head, body));
            }
        }

        @Override
        public void write(ByteBuffer chunk) {
            if (ended.get()) {
                return;
            }
            int n = chunk.remaining();
            length += n;
            if (length > config.maxObjectBytes()) {
                stop("larger than maxObjectSize " + config.maxObjectBytes());
                return;
            }
            byte[] copy = new byte[n];
            chunk.get(copy);
            ByteBuffer immutable = ByteBuffer.wrap(copy).asReadOnlyBuffer();
            if (body != null) {
                body.append(immutable);
            }
            if (storeWriter != null && !storeWriter.write(immutable.duplicate())) {
                stop("the store gave up");
            }
        }

        @Override
        public void complete() {
            if (!ended.compareAndSet(false, true)) {
                return;
            }
            String cl = head.header("Content-Length");
            if (cl != null && !cl.trim().equals(Long.toString(length))) {
                failAll(new IllegalStateException("body length " + length + " != Content-Length " + cl));
                return;
            }
            if (body != null) {
                body.complete();
            }
            if (memoryStore != null) {
                memoryStore.put(key, head, body);
                committed();
            } else {
                storeWriter.commit().whenComplete((v, f) -> {
                    if (f == null) {
                        committed();
                    } else {
                        // a store reports its own trouble (the disk store logs one WARN line per run of failures)
                        LOG.debug("{} could not commit cache entry {}: {}", exchangeId, key, f.toString());
                        dropFill();
                    }
                });
            }
        }

        private void committed() {
            indexVariant(key);
            indexTags(key, head);
            sweepIndexIfLarge();
            stores.increment();
            bytesStored.add(length);
            dropFill();
            storeListeners.forEach(Runnable::run);
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} stored {} ({} bytes)", exchangeId, key, length);
            }
        }

        private void dropFill() {
            if (fill != null) {
                unfill(fill);
            }
        }

        @Override
        public void abort(Throwable cause) {
            if (ended.compareAndSet(false, true)) {
                failAll(cause);
            }
        }

        /**
         * The first client went away: go on while collapsed followers still read this fill (up to maxObjectSize, which
         * {@link #write} enforces), else only while what remains is within the finish-without-client size: the rest of a
         * declared Content-Length, or what arrives from now on for a body of unknown length.
         */
        @Override
        public boolean continueWithoutClient() {
            if (ended.get()) {
                return false;
            }
            if (fill != null && fill.followers.get() > 0) {
                aloneSince = -1;
                return true;
            }
            if (aloneSince < 0) {
                aloneSince = length;
            }
            long budget = config.finishWithoutClientBytes();
            long declared = declaredLength(head);
            boolean go = declared != Long.MAX_VALUE ? declared - length <= budget : length - aloneSince <= budget;
            if (!go) {
                // no one is left to read this fill: take it out of the map now, so that no new follower joins a fill
                // that is about to be aborted (it goes upstream itself)
                dropFill();
                if (fill != null && fill.followers.get() > 0) {
                    return true; // one joined meanwhile
                }
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} gives up storing {} after its client left: {} bytes stored, {} declared, at most {} more"
                            + " read without a client", exchangeId, key, length,
                            declared == Long.MAX_VALUE ? "none" : declared, budget);
                }
            }
            return go;
        }

        private void stop(String why) {
            if (ended.compareAndSet(false, true)) {
                LOG.debug("{} stops storing {}: {}", exchangeId, key, why);
                failAll(new IllegalStateException("not stored: " + why));
            }
        }

        private void failAll(Throwable cause) {
            if (body != null) {
                body.fail(cause);
            }
            if (storeWriter != null) {
                storeWriter.abort();
            }
            dropFill();
        }
    }

    /** The most a fill for a non-memory store keeps on the heap to share with collapsed followers. */
    static final long COLLAPSE_BUFFER_BYTES = 8L * 1024 * 1024;

    /** The response's Content-Length, or {@code Long.MAX_VALUE} when absent or invalid. */
    private static long declaredLength(EntryHead head) {
        String cl = head.header("Content-Length");
        try {
            return cl == null ? Long.MAX_VALUE : Long.parseLong(cl.trim());
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    /** A fill in progress for one primary key: followers wait for its head, then stream its body. */
    static final class Fill {
        final String primary;
        final CompletableFuture<FillHead> head = new CompletableFuture<>();
        /** Collapsed followers currently reading (or about to read) this fill's body. */
        final java.util.concurrent.atomic.AtomicInteger followers = new java.util.concurrent.atomic.AtomicInteger();

        /** Whether this fill holds the cluster-wide fill lease (shared tier only). */
        volatile boolean claimed;

        Fill(String primary) {
            this.primary = primary;
        }
    }

    /**
     * What followers of a fill get: the head, a body source, and the body length once known (-1 while a new body is
     * still arriving).
     */
    record FillHead(String secondary, EntryHead head, Supplier<Flow.Publisher<ByteBuffer>> body, LongSupplier length) {
        static FillHead growing(String secondary, EntryHead head, ChunkedBody body) {
            return new FillHead(secondary, head, body::publisher, () -> body.isComplete() ? body.length() : -1);
        }

        static FillHead stored(String secondary, StoredEntry entry) {
            long length = entry.bodyLength();
            return new FillHead(secondary, entry.head(), () -> entry.body(0, length), () -> length);
        }
    }

    /** The cache's per-exchange state, handed back by the relay. */
    record State(String primary, Instant requestTime, Directives rcc, StoredEntry entry, Fill fill, boolean noStore,
            boolean unsafe, String fwd, HttpHeaders clientHeaders) {
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

    // ---- stats and lifecycle ------------------------------------------------------------------------------

    /** A snapshot of the counters and the store's size. */
    /** The counters core reads through {@link io.github.gatehouse.core.HttpCache#counters()}. */
    public io.github.gatehouse.core.CacheCounters counters() {
        return new io.github.gatehouse.core.CacheCounters(hits.sum(), misses.sum(), staleServed.sum(),
                revalidations.sum(), bytesStored.sum(), store.evictions(), store.entryCount(), store.sizeBytes(),
                store.capacityBytes());
    }

    public CacheStats stats() {
        return new CacheStats(hits.sum(), misses.sum(), revalidations.sum(), unmodified.sum(), staleServed.sum(),
                collapsed.sum(), stores.sum(), bytesServed.sum(), bytesStored.sum(), purged.sum(), store.entryCount(),
                store.sizeBytes());
    }

    @Override
    public void close() {
        if (revalidator != null) {
            revalidator.close();
        }
        store.close();
    }
}
