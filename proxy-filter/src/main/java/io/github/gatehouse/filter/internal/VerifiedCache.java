package io.github.gatehouse.filter.internal;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Remembers credentials that verified, for a short time, so a slow hash does not run on every request. Keys are
 * HMAC-SHA256 of {@code user NUL password} under a random per-instance key: the plain password is never kept, and
 * a heap dump does not give an offline dictionary attack an unsalted hash. Entries carry the user store's
 * generation, so a reload invalidates them. Holds at most {@code maxEntries}. Thread-safe.
 */
public final class VerifiedCache {
    private record Key(byte[] mac) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key && Arrays.equals(mac, ((Key) o).mac);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(mac);
        }
    }

    private record Entry(String user, Instant expires, long generation) {
    }

    private final SecretKeySpec secret;
    private final Duration ttl;
    private final int maxEntries;
    private final Clock clock;
    private final ConcurrentHashMap<Key, Entry> entries = new ConcurrentHashMap<>();

    /** A cache keeping entries for {@code ttl} (zero: caching off). */
    public VerifiedCache(Duration ttl, int maxEntries, Clock clock) {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        this.secret = new SecretKeySpec(k, "HmacSHA256");
        this.ttl = ttl;
        this.maxEntries = maxEntries;
        this.clock = clock;
    }

    /** Whether {@code user}/{@code password} verified recently under store {@code generation}. */
    public boolean contains(String user, String password, long generation) {
        if (ttl.isZero()) {
            return false;
        }
        Key key = key(user, password);
        Entry e = entries.get(key);
        if (e == null) {
            return false;
        }
        if (e.generation != generation || !clock.instant().isBefore(e.expires) || !e.user.equals(user)) {
            entries.remove(key, e);
            return false;
        }
        return true;
    }

    /** Records that {@code user}/{@code password} verified under store {@code generation}. */
    public void put(String user, String password, long generation) {
        if (ttl.isZero()) {
            return;
        }
        Instant now = clock.instant();
        if (entries.size() >= maxEntries) {
            entries.values().removeIf(e -> !now.isBefore(e.expires));
            if (entries.size() >= maxEntries) {
                entries.clear();
            }
        }
        entries.put(key(user, password), new Entry(user, now.plus(ttl), generation));
    }

    /** Forgets everything. */
    public void clear() {
        entries.clear();
    }

    /** Entries held. */
    public int size() {
        return entries.size();
    }

    private Key key(String user, String password) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(secret);
            mac.update(user.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) 0);
            return new Key(mac.doFinal(password.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is required by every Java platform", e);
        }
    }
}
