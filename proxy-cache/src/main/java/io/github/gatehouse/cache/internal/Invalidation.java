package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.CacheStatus;
import io.github.gatehouse.cache.CacheKeyPolicy;
import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.CacheLookup;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.internal.Cidr;
import java.net.InetAddress;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Purge and invalidation: invalidation after unsafe methods of the target and of same-origin {@code Location} and
 * {@code Content-Location} URLs (RFC 9111 §4.4); purges by URL, key prefix and tag (hard or soft), with the tag
 * index that lets a purge by tag touch only the entries that listed the tag; and the {@code PURGE} method.
 *
 * <p><b>Threading.</b> Thread-safe: the tag index is a concurrent map of concurrent sets (a sweep is serialized).
 */
final class Invalidation {
    private static final Logger LOG = LoggerFactory.getLogger(Invalidation.class);

    private final CacheConfig config;
    private final CacheStore store;
    private final VariantIndex variants;
    private final Responder responder;
    private final Counters counters;
    /** The shared tier purges go to (cluster-wide), or null (one instance). */
    private final SharedTier grid;
    /**
     * Purge tag to the keys whose stored head listed it when stored: a superset (entries evicted, removed or replaced
     * since stay until a purge or a sweep checks them), so a purge by tag touches only the entries that may have it.
     */
    private final ConcurrentHashMap<String, Set<String>> tagged = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong taggedRefs = new java.util.concurrent.atomic.AtomicLong();

    Invalidation(CacheConfig config, VariantIndex variants, Responder responder, Counters counters, SharedTier grid) {
        this.grid = grid;
        this.config = config;
        this.store = config.store();
        this.variants = variants;
        this.responder = responder;
        this.counters = counters;
    }


    void invalidateAfterUnsafe(Exchange exchange, HttpHeaders response) {
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
        for (String key : variants.keys(primary)) {
            if (apply(key, mode)) {
                n++;
            }
        }
        return n;
    }

    boolean apply(String key, PurgeMode mode) {
        if (mode == PurgeMode.HARD) {
            return variants.remove(key);
        }
        Optional<StoredEntry> e = store.get(key);
        return e.isPresent() && store.updateHead(key, e.get().head().invalidate());
    }

    /** Purges every variant of {@code url}'s normal-form key; returns how many. */
    public long purgeUrl(URI url, PurgeMode mode) {
        if (grid != null) {
            long n = grid.purgePrimary(CacheKeyPolicy.normalize(url, true), mode);
            counters.purged.add(n);
            return n;
        }
        long n = removePrimary(CacheKeyPolicy.normalize(url, true), mode);
        counters.purged.add(n);
        return n;
    }

    /** Purges every entry whose key starts with {@code prefix}; returns how many. */
    public long purgePrefix(String prefix, PurgeMode mode) {
        if (grid != null) {
            long n = grid.purgePrefix(prefix, mode);
            counters.purged.add(n);
            return n;
        }
        long n = 0;
        for (String key : store.keys()) {
            if (key.startsWith(prefix) && apply(key, mode)) {
                n++;
            }
        }
        counters.purged.add(n);
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
            counters.purged.add(n);
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
        counters.purged.add(n);
        return n;
    }

    private void forgetTag(Set<String> keys, String key) {
        if (keys.remove(key)) {
            taggedRefs.decrementAndGet();
        }
    }

    /** Adds {@code key} under each tag {@code head} lists; sweeps the index once it is much larger than the store. */
    void indexTags(String key, EntryHead head) {
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

    CacheLookup purgeMethod(Exchange exchange) {
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
            return CacheLookup.hit(responder.synthetic(403, "PURGE is not allowed from " + (client == null ? "this client"
                    : client.getHostAddress()), config.name() + "; detail=purge-denied"));
        }
        String modeHeader = exchange.request().headers().get("Purge-Mode");
        PurgeMode mode = modeHeader != null && modeHeader.trim().equalsIgnoreCase("soft") ? PurgeMode.SOFT : PurgeMode.HARD;
        long n = purgeUrl(exchange.request().uri(), mode);
        HttpCache.recordStatus(exchange, CacheStatus.PURGE);
        LOG.info("{} PURGE {} ({}) removed {} entries", exchange.id(), exchange.request().uri(), mode, n);
        return CacheLookup.hit(responder.synthetic(n > 0 ? 200 : 404, (n > 0 ? "purged " : "not in cache: ") + n + " entries",
                config.name() + "; detail=purge"));
    }
}
