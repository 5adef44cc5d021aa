package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheStore;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.HttpHeaders;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The variant index (RFC 9111 §4.1): primary key to the store keys of its variants (each the primary key,
 * {@link #SEPARATOR}, and the secondary key made of the request fields the response's {@code Vary} names), so that a
 * lookup reads only the variants of its URL and a purge or an invalidation finds them all.
 *
 * <p>The index is a superset of the store: entries the store evicted on its own stay until a lookup, a removal or a
 * sweep notices. <b>Threading.</b> Thread-safe (concurrent maps and sets).
 */
final class VariantIndex {
    /** Separates the primary key from the secondary (variant) key in store keys. */
    static final char SEPARATOR = '\u0001';

    private final CacheStore store;
    private final ConcurrentHashMap<String, Set<String>> variants = new ConcurrentHashMap<>();

    VariantIndex(CacheStore store) {
        this.store = store;
    }

    /** The stored variant that matches the request's selecting headers (RFC 9111 §4.1), the newest if several. */
    StoredEntry select(String primary, HttpHeaders reqHeaders) {
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
            String secondary = key.substring(key.indexOf(SEPARATOR) + 1);
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
    void sweepIfLarge() {
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

    void index(String key) {
        int sep = key.indexOf(SEPARATOR);
        if (sep < 0) {
            return;
        }
        variants.computeIfAbsent(key.substring(0, sep), k -> ConcurrentHashMap.newKeySet()).add(key);
    }

    /** The stored ranges of the variant that matches the request's selecting headers, or {@code null}. */
    StoredEntry selectPartial(String primary, HttpHeaders reqHeaders) {
        Set<String> keys = variants.get(primary);
        if (keys == null) {
            return null;
        }
        for (String key : keys) {
            if (!key.endsWith(PartialContent.SUFFIX)) {
                continue;
            }
            Optional<StoredEntry> found = store.get(key);
            if (found.isEmpty()) {
                continue;
            }
            String secondary = key.substring(key.indexOf(SEPARATOR) + 1, key.length() - PartialContent.SUFFIX.length());
            if (secondary.equals(secondaryKey(found.get().head(), reqHeaders))) {
                return found.get();
            }
        }
        return null;
    }

    /** The keys indexed under {@code primary} (a copy; empty when none). */
    List<String> keys(String primary) {
        Set<String> keys = variants.get(primary);
        return keys == null ? List.of() : List.copyOf(keys);
    }

    /** The primary key of a store key. */
    static String primary(String key) {
        int sep = key.indexOf(SEPARATOR);
        return sep < 0 ? key : key.substring(0, sep);
    }

    /** The secondary key of a store key (empty without a separator). */
    static String secondary(String key) {
        return key.substring(key.indexOf(SEPARATOR) + 1);
    }

    /** Removes the entry under {@code key} from the store and from the index; false if the store had none. */
    boolean remove(String key) {
        boolean removed = store.remove(key);
        int sep = key.indexOf(SEPARATOR);
        if (sep >= 0) {
            Set<String> keys = variants.get(key.substring(0, sep));
            if (keys != null) {
                keys.remove(key);
            }
        }
        return removed;
    }
}
