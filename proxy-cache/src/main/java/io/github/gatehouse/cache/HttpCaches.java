package io.github.gatehouse.cache;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.cache.internal.CacheConfig;
import io.github.gatehouse.cache.internal.CacheEngine;
import io.github.gatehouse.cache.internal.DiskStore;
import io.github.gatehouse.cache.internal.MemoryStore;
import io.github.gatehouse.cache.internal.TieredStore;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.internal.Cidr;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds {@link SharedCache}s: {@link #memory(DataSize)} for the common case, {@link #builder()} for the rest.
 *
 * <pre>{@code
 * SharedCache cache = HttpCaches.builder()
 *     .memory(DataSize.mebibytes(256))
 *     .maxObjectSize(DataSize.mebibytes(8))
 *     .purgeMethodFrom("127.0.0.1/32")
 *     .build();
 * ProxyServer proxy = ProxyServer.builder().listen(8080).route(route).cache(cache).build().start();
 * }</pre>
 *
 * <p><b>Threading.</b> The factories are thread-safe; a {@link Builder} is not.
 */
public final class HttpCaches {
    private HttpCaches() {
    }

    /** A shared cache on the heap holding at most {@code capacity} bytes, with the defaults of {@link #builder()}. */
    public static SharedCache memory(DataSize capacity) {
        return builder().memory(capacity).build();
    }

    /**
     * The targeted cache-control fields (RFC 9213) reverse routes honour unless the builder says otherwise:
     * {@code CDN-Cache-Control}, the field for the class of cache a reverse-proxy cache belongs to.
     */
    public static final List<String> DEFAULT_TARGETED_FIELDS = List.of("CDN-Cache-Control");

    /**
     * How much more of a response a fill reads from the origin, by default, once no client waits for it any more:
     * 1 MiB (see {@link Builder#finishWithoutClient}).
     */
    public static final DataSize DEFAULT_FINISH_WITHOUT_CLIENT = DataSize.mebibytes(1);

    /** A new builder: no store yet (choose {@link Builder#memory} or {@link Builder#disk}). */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Configures a {@link SharedCache}. Each setter checks its argument at once; {@link #build()} copies the
     * configuration. Defaults: objects up to 8 MiB (or the capacity, if smaller), the system UTC clock, the URI as
     * key, heuristic freshness capped at 1 day, request collapsing on (followers wait up to 30 s for the head),
     * {@code stale-while-revalidate} revalidated in the background, no {@code stale-if-error} without the directive,
     * client {@code no-cache} honoured, tags from {@code Surrogate-Key}, {@code PURGE} method off, Cache-Status name
     * {@code gatehouse}, stored {@code Set-Cookie} fields never replayed ({@link #replaySetCookie}), targeted
     * cache-control {@link HttpCaches#DEFAULT_TARGETED_FIELDS} honoured on reverse routes only, no cache rules, fills
     * finished for collapsed followers when their first client leaves, and finished without any client when at most
     * {@link HttpCaches#DEFAULT_FINISH_WITHOUT_CLIENT} remains.
     */
    public static final class Builder {
        private CacheStore store;
        private io.github.gatehouse.core.cluster.Cluster cluster;
        private String storeDescription;
        private Path diskDir;
        private DataSize diskCapacity;
        private DataSize memoryCapacity;
        private DataSize maxObjectSize = DataSize.mebibytes(8);
        private Clock clock = Clock.systemUTC();
        private CacheKeyPolicy keyPolicy = CacheKeyPolicy.uri();
        private final Map<Integer, Duration> forcedTtl = new LinkedHashMap<>();
        private Duration heuristicCap = Duration.ofDays(1);
        private boolean ignoreClientNoCache;
        private boolean collapsing = true;
        private Duration collapseTimeout = Duration.ofSeconds(30);
        private List<String> targetedForward = List.of();
        private List<String> targetedReverse = DEFAULT_TARGETED_FIELDS;
        private String tagHeader = "Surrogate-Key";
        private final List<Cidr> purgeFrom = new ArrayList<>();
        private String name = "gatehouse";
        private Duration staleIfError = Duration.ofSeconds(-1);
        private boolean backgroundRevalidation = true;
        private boolean replaySetCookie;
        private final List<CacheRule> rules = new ArrayList<>();
        private DataSize finishWithoutClient = DEFAULT_FINISH_WITHOUT_CLIENT;

        private Builder() {
        }

        /**
         * Stores entries on the heap, at most {@code capacity} bytes (bodies plus an estimate of the heads). With
         * {@link #disk} as well, the memory store is a hot tier in front of the disk store.
         */
        public Builder memory(DataSize capacity) {
            requireNonNull(capacity, "capacity");
            checkArgument(capacity.toBytes() > 0, "memory capacity: %s (expected: > 0)", capacity);
            checkState(store == null, "store was already set to %s", storeDescription);
            checkState(memoryCapacity == null, "memory was already set to %s", memoryCapacity);
            memoryCapacity = capacity;
            storeDescription = storeDescription == null ? "memory " + capacity : storeDescription + " + memory " + capacity;
            return this;
        }

        /**
         * Stores entries as files under {@code dir}, at most {@code capacity} bytes; the entries survive a restart.
         * The directory is created if needed.
         */
        public Builder disk(Path dir, DataSize capacity) {
            requireNonNull(dir, "dir");
            requireNonNull(capacity, "capacity");
            checkArgument(capacity.toBytes() > 0, "disk capacity: %s (expected: > 0)", capacity);
            checkState(store == null, "store was already set to %s", storeDescription);
            checkState(diskDir == null, "disk was already set to %s", diskDir);
            storeDescription = storeDescription == null ? "disk " + dir + " " + capacity
                    : storeDescription + " + disk " + dir + " " + capacity;
            diskDir = dir;
            diskCapacity = capacity;
            return this;
        }

        /**
         * Shares the cache with the other instances of {@code cluster}: entries live in the cluster's grid (a hit on
         * one instance for what another stored; a purge on one removes everywhere; concurrent misses for one URL on
         * several instances make one upstream request), with {@link #memory} (16 MiB when not given) as this
         * instance's near tier, which answers repeated hits without a network hop. Responses larger than
         * {@link #maxObjectSize} stay out of the grid. Not with {@link #disk}.
         *
         * <p>When the cluster does not answer within its operation timeout the request goes on as if the grid had
         * nothing: this instance serves from its near tier and the origin.
         */
        public Builder cluster(io.github.gatehouse.core.cluster.Cluster cluster) {
            requireNonNull(cluster, "cluster");
            checkState(this.cluster == null, "cluster was already set");
            checkState(store == null, "store was already set to %s", storeDescription);
            this.cluster = cluster;
            return this;
        }

        /** Stores entries in {@code store}, a {@link CacheStore} of your own. */
        public Builder store(CacheStore store) {
            requireNonNull(store, "store");
            checkState(storeDescription == null, "store was already set to %s", storeDescription);
            storeDescription = store.toString();
            this.store = store;
            return this;
        }

        /** Responses larger than {@code size} are not stored (8 MiB by default). */
        public Builder maxObjectSize(DataSize size) {
            requireNonNull(size, "size");
            checkArgument(size.toBytes() > 0, "maxObjectSize: %s (expected: > 0)", size);
            this.maxObjectSize = size;
            return this;
        }

        /** The clock for ages and freshness (tests pass a clock they move). */
        public Builder clock(Clock clock) {
            this.clock = requireNonNull(clock, "clock");
            return this;
        }

        /** How requests map to primary keys ({@link CacheKeyPolicy#uri()} by default). */
        public Builder keyPolicy(CacheKeyPolicy policy) {
            this.keyPolicy = requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Responses with {@code status} are stored (unless {@code no-store} or {@code private}) and fresh for
         * {@code ttl}, whatever their own freshness information says (like nginx {@code proxy_cache_valid} with
         * {@code proxy_ignore_headers}).
         */
        public Builder forceTtl(int status, Duration ttl) {
            checkArgument(status >= 200 && status <= 599, "status: %s (expected: 200..599)", status);
            requireNonNull(ttl, "ttl");
            checkArgument(!ttl.isNegative(), "ttl: %s (expected: >= 0)", ttl);
            forcedTtl.put(status, ttl);
            return this;
        }

        /** The largest heuristic freshness lifetime (1 day by default). */
        public Builder heuristicCap(Duration cap) {
            requireNonNull(cap, "cap");
            checkArgument(!cap.isNegative(), "heuristicCap: %s (expected: >= 0)", cap);
            this.heuristicCap = cap;
            return this;
        }

        /**
         * Serves fresh entries even when the client sends {@code Cache-Control: no-cache} or {@code Pragma:
         * no-cache} (a departure from RFC 9111 some accelerators want; off by default).
         */
        public Builder ignoreClientNoCache(boolean ignore) {
            this.ignoreClientNoCache = ignore;
            return this;
        }

        /** Whether concurrent misses for one key wait for one upstream request (on by default). */
        public Builder collapsing(boolean enabled) {
            this.collapsing = enabled;
            return this;
        }

        /** How long collapsed requests wait for the first one's response head before going upstream themselves. */
        public Builder collapseTimeout(Duration timeout) {
            requireNonNull(timeout, "timeout");
            checkArgument(timeout.compareTo(Duration.ZERO) > 0, "collapseTimeout: %s (expected: > 0)", timeout);
            this.collapseTimeout = timeout;
            return this;
        }

        /**
         * Honours these targeted cache-control fields (RFC 9213), most specific first (for example
         * {@code "Gatehouse-Cache-Control", "CDN-Cache-Control"}), on every route, forward and reverse: the first one a
         * response has, when it is a valid structured-field Dictionary, decides this cache's storage and freshness, and
         * {@code Cache-Control} and {@code Expires} are then ignored by this cache (RFC 9213 §2.2). The fields are
         * passed on downstream unchanged. Without this call, reverse routes honour {@link #DEFAULT_TARGETED_FIELDS}
         * and forward proxying honours none; see also {@link #targetedCacheControlOff}.
         *
         * @throws IllegalArgumentException when a name is not a header field name, or repeats
         */
        public Builder targetedCacheControl(String fieldName, String... moreSpecificFirst) {
            List<String> all = new ArrayList<>();
            all.add(fieldName);
            all.addAll(Arrays.asList(requireNonNull(moreSpecificFirst, "fieldNames")));
            for (String f : all) {
                requireNonNull(f, "fieldName");
                checkArgument(f.matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+"), "targeted field: '%s' (expected: a header name)", f);
                checkArgument(all.stream().filter(f::equalsIgnoreCase).count() == 1, "targeted field: '%s' is listed twice", f);
                checkArgument(!f.equalsIgnoreCase("Cache-Control"), "targeted field: '%s' (expected: a field other than Cache-Control)", f);
            }
            this.targetedForward = List.copyOf(all);
            this.targetedReverse = List.copyOf(all);
            return this;
        }

        /** Honours no targeted cache-control field on any route: {@code Cache-Control} alone decides. */
        public Builder targetedCacheControlOff() {
            this.targetedForward = List.of();
            this.targetedReverse = List.of();
            return this;
        }

        /** The response header listing purge tags ({@code Surrogate-Key} by default); it is not sent to clients. */
        public Builder tagHeader(String fieldName) {
            requireNonNull(fieldName, "fieldName");
            checkArgument(fieldName.matches("[A-Za-z0-9-]+"), "tag header: '%s' (expected: a header name)", fieldName);
            this.tagHeader = fieldName;
            return this;
        }

        /**
         * Accepts the {@code PURGE} method from clients in {@code cidrs} (such as {@code 127.0.0.1/32}): it purges
         * the target URL's entries ({@code Purge-Mode: soft} for a soft purge) and never reaches the upstream;
         * other clients get 403. Off by default (then {@code PURGE} is relayed like any unsafe method).
         */
        public Builder purgeMethodFrom(String... cidrs) {
            requireNonNull(cidrs, "cidrs");
            checkArgument(cidrs.length > 0, "purgeMethodFrom: no address (expected: at least one CIDR)");
            for (String c : cidrs) {
                purgeFrom.add(Cidr.parse(c));
            }
            return this;
        }

        /** The member name in {@code Cache-Status} ({@code gatehouse} by default). */
        public Builder name(String name) {
            requireNonNull(name, "name");
            checkArgument(name.matches("[A-Za-z][A-Za-z0-9._-]{0,63}"), "name: '%s' (expected: a token)", name);
            this.name = name;
            return this;
        }

        /**
         * Serves stale entries for up to {@code window} past their freshness when the upstream fails or answers
         * 5xx, for responses without their own {@code stale-if-error} (none by default).
         */
        public Builder staleIfError(Duration window) {
            requireNonNull(window, "window");
            checkArgument(!window.isNegative(), "staleIfError: %s (expected: >= 0)", window);
            this.staleIfError = window;
            return this;
        }

        /**
         * Whether {@code stale-while-revalidate} entries are revalidated in the background (on by default). The
         * revalidation goes through the proxy's relay, as a client's request would go past the cache: the route's
         * pool, retries, {@code Via} and forwarding fields, the relay's timeouts; its access-log line shows {@code -}
         * as the client. A cache used without a proxy (one that never attached it) serves no stale entry this way.
         */
        public Builder backgroundRevalidation(boolean enabled) {
            this.backgroundRevalidation = enabled;
            return this;
        }

        /**
         * Whether responses served from the cache repeat the stored response's {@code Set-Cookie} fields (off by
         * default).
         *
         * <p>A response that sets a cookie is stored only when the origin marks it {@code public} or gives it
         * {@code s-maxage} (or names {@code Set-Cookie} in a qualified {@code private} or {@code no-cache}, which
         * keeps the field out of the stored copy). Even then, by default the cookie goes only to the client whose
         * request reached the origin: {@code Set-Cookie} is not kept in the stored copy and is withheld from every
         * response served from the cache (hits, responses refreshed by a 304, stale responses, collapsed requests),
         * so one client's session cookie is never handed to another. A 304 that sets a cookie still passes its own
         * {@code Set-Cookie} to the client whose revalidation it answered.
         *
         * <p>{@code true} keeps RFC 9111's literal behaviour (§3.1: a cache stores and replays header fields it is not
         * told to omit), for origins that rely on a shared cache repeating a cookie that is the same for everyone.
         */
        public Builder replaySetCookie(boolean replay) {
            this.replaySetCookie = replay;
            return this;
        }

        /**
         * Adds a cache rule for URLs whose origins do not describe their freshness (Squid's {@code refresh_pattern}):
         * rules are tried in the order they were added and the first whose pattern is found in the request's URL
         * applies. See {@link CacheRule} for what a rule does.
         */
        public Builder rule(CacheRule rule) {
            rules.add(requireNonNull(rule, "rule"));
            return this;
        }

        /**
         * Adds a cache rule written in Squid's {@code refresh_pattern} syntax, such as
         * {@code "-i \.(deb|rpm)$ 43200 100% 43200 override-expire"} (see {@link CacheRule#parse}).
         *
         * @throws IllegalArgumentException naming the part of the rule that is wrong
         */
        public Builder rule(String squidSyntax) {
            return rule(CacheRule.parse(requireNonNull(squidSyntax, "rule")));
        }

        /**
         * How much more of a response body a fill still reads from the origin into the cache after the last client
         * waiting for it has gone ({@link #DEFAULT_FINISH_WITHOUT_CLIENT} by default; zero gives up at once). While
         * collapsed requests still wait on a fill, it always goes on when the client that started it leaves (up to
         * {@link #maxObjectSize}), as nginx's {@code proxy_cache_lock} and Varnish do; once nobody waits, it goes on
         * only when the rest of the body is known ({@code Content-Length}) to be at most {@code size}, or, for a body
         * of unknown length, for at most {@code size} more bytes (Squid's {@code quick_abort_min}).
         */
        public Builder finishWithoutClient(DataSize size) {
            requireNonNull(size, "size");
            checkArgument(size.toBytes() >= 0, "finishWithoutClient: %s (expected: >= 0)", size);
            this.finishWithoutClient = size;
            return this;
        }

        /**
         * Builds the cache (opening the disk store, if any).
         *
         * @throws IllegalStateException if no store was chosen
         * @throws UncheckedIOException if the disk store cannot be opened
         */
        public SharedCache build() {
            checkState(storeDescription != null || cluster != null,
                    "no store configured (expected: memory(...), disk(...), cluster(...) or store(...))");
            CacheStore s = store;
            long maxObject = maxObjectSize.toBytes();
            if (cluster != null) {
                checkState(diskDir == null, "cluster(...) and disk(...) do not combine (expected: memory(...) as the near tier)");
                long nearBytes = memoryCapacity == null ? DataSize.mebibytes(16).toBytes() : memoryCapacity.toBytes();
                maxObject = Math.min(maxObject, nearBytes);
                s = new io.github.gatehouse.cache.internal.GridStore(cluster, name,
                        new MemoryStore(nearBytes, maxObject), maxObject);
                storeDescription = "cluster " + cluster.config().name() + " (near tier: memory "
                        + DataSize.bytes(nearBytes) + ")";
            }
            if (s == null && diskDir != null) {
                DiskStore disk;
                try {
                    disk = DiskStore.open(diskDir, diskCapacity.toBytes(), maxObject);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot open the disk cache in " + diskDir, e);
                }
                s = memoryCapacity == null ? disk
                        : new TieredStore(new MemoryStore(memoryCapacity.toBytes(), maxObject), disk);
            } else if (s == null) {
                s = new MemoryStore(memoryCapacity.toBytes(), maxObject);
                maxObject = Math.min(maxObject, memoryCapacity.toBytes());
            }
            CacheConfig config = new CacheConfig(s, maxObject, clock, keyPolicy, Map.copyOf(forcedTtl), heuristicCap,
                    ignoreClientNoCache, collapsing, collapseTimeout, targetedForward, targetedReverse, tagHeader, List.copyOf(purgeFrom),
                    name, staleIfError.isNegative() ? Duration.ZERO.minusSeconds(1) : staleIfError,
                    backgroundRevalidation, replaySetCookie, List.copyOf(rules),
                    finishWithoutClient.toBytes());
            return new SharedCache(new CacheEngine(config), storeDescription);
        }
    }
}
