package io.github.gatehouse.core.internal;

import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Rendezvous hashing (highest random weight, the scheme of the CARP draft and Squid's {@code cache_peer ... carp}):
 * every member scores every key with a hash of the two, and the key's home is the member with the highest score.
 * Every instance that knows the same members picks the same home without talking to the others, and removing a member
 * moves only the keys it was home to (each goes to its second-best member); adding one takes about 1/N of the keys
 * from the others and moves nothing else.
 *
 * <p>Scores mix a 64-bit Murmur3 hash of the key with one of the member's name through a 64-bit finaliser
 * (splitmix64's), so that names that differ in one character (ports) still score independently.
 *
 * <p><b>Threading.</b> Stateless and thread-safe.
 */
public final class Rendezvous {
    private Rendezvous() {
    }

    /** The 64-bit hash of a key or a member name. */
    public static long hash(String s) {
        return Hashing.murmur3_128().hashString(s, StandardCharsets.UTF_8).asLong();
    }

    /** The score of a member (by {@link #hash} of its name) for a key (by {@link #hash} of it). */
    public static long score(long keyHash, long memberHash) {
        long z = keyHash ^ (memberHash * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The index in {@code memberHashes} of the home of the key hashed to {@code keyHash}: the highest score (unsigned),
     * ties to the lower index; -1 when there is no member.
     */
    public static int home(long keyHash, long[] memberHashes) {
        int best = -1;
        long bestScore = 0;
        for (int i = 0; i < memberHashes.length; i++) {
            long s = score(keyHash, memberHashes[i]);
            if (best < 0 || Long.compareUnsigned(s, bestScore) > 0) {
                best = i;
                bestScore = s;
            }
        }
        return best;
    }

    /** The home of {@code key} among {@code members} (names), or null when there is none. */
    public static String home(String key, List<String> members) {
        long[] hashes = new long[members.size()];
        for (int i = 0; i < hashes.length; i++) {
            hashes[i] = hash(members.get(i));
        }
        int i = home(hash(key), hashes);
        return i < 0 ? null : members.get(i);
    }
}
