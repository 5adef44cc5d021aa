package io.github.gatehouse.filter.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256-crypt ({@code $5$}) and SHA-512-crypt ({@code $6$}) as specified by Ulrich Drepper, "Unix crypt using
 * SHA-256 and SHA-512" (the glibc algorithm, also used by {@code mkpasswd} and {@code openssl passwd -5/-6}).
 * Stateless and thread-safe.
 */
public final class ShaCrypt {
    /** Rounds used when the hash names none. */
    public static final int DEFAULT_ROUNDS = 5000;
    /** The spec's lower clamp. */
    public static final int MIN_ROUNDS = 1000;
    /** The spec's upper clamp. */
    public static final int MAX_ROUNDS = 999_999_999;

    private static final String ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static final int[][] ORDER_256 = {
        {0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14}, {15, 25, 5}, {6, 16, 26}, {27, 7, 17},
        {18, 28, 8}, {9, 19, 29}};
    private static final int[][] ORDER_512 = {
        {0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48}, {28, 49, 7},
        {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35},
        {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}};

    private ShaCrypt() {
    }

    /** The parts of a {@code $5$} / {@code $6$} hash. */
    public record Setting(boolean sha512, int rounds, boolean explicitRounds, String salt) {
    }

    /**
     * Parses the setting part of {@code hash} ({@code $5$[rounds=N$]salt[$...]}).
     *
     * @throws IllegalArgumentException if it is not a SHA-crypt hash
     */
    public static Setting parse(String hash) {
        boolean sha512;
        if (hash.startsWith("$5$")) {
            sha512 = false;
        } else if (hash.startsWith("$6$")) {
            sha512 = true;
        } else {
            throw new IllegalArgumentException("not a $5$ or $6$ hash");
        }
        String rest = hash.substring(3);
        int rounds = DEFAULT_ROUNDS;
        boolean explicit = false;
        if (rest.startsWith("rounds=")) {
            int end = rest.indexOf('$');
            if (end < 0) {
                throw new IllegalArgumentException("rounds without salt");
            }
            long r;
            try {
                r = Long.parseLong(rest.substring(7, end));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad rounds", e);
            }
            rounds = (int) Math.max(MIN_ROUNDS, Math.min(MAX_ROUNDS, r));
            explicit = true;
            rest = rest.substring(end + 1);
        }
        int end = rest.indexOf('$');
        String salt = end >= 0 ? rest.substring(0, end) : rest;
        if (salt.length() > 16) {
            salt = salt.substring(0, 16);
        }
        return new Setting(sha512, rounds, explicit, salt);
    }

    /** Computes the full hash string of {@code password} with the setting of {@code setting} (a hash or prefix). */
    public static String crypt(byte[] password, String setting) {
        Setting s = parse(setting);
        return crypt(password, s);
    }

    /** Computes the full hash string of {@code password} under {@code s}. */
    public static String crypt(byte[] password, Setting s) {
        String algorithm = s.sha512() ? "SHA-512" : "SHA-256";
        byte[] salt = s.salt().getBytes(StandardCharsets.UTF_8);
        MessageDigest md = digest(algorithm);
        int hashLen = md.getDigestLength();
        int pLen = password.length;

        md.update(password);
        md.update(salt);
        md.update(password);
        byte[] b = md.digest();

        md.update(password);
        md.update(salt);
        int cnt;
        for (cnt = pLen; cnt > hashLen; cnt -= hashLen) {
            md.update(b, 0, hashLen);
        }
        md.update(b, 0, cnt);
        for (cnt = pLen; cnt > 0; cnt >>= 1) {
            if ((cnt & 1) != 0) {
                md.update(b, 0, hashLen);
            } else {
                md.update(password);
            }
        }
        byte[] a = md.digest();

        for (int i = 0; i < pLen; i++) {
            md.update(password);
        }
        byte[] dp = md.digest();
        byte[] pSeq = new byte[pLen];
        for (int i = 0; i < pLen; i++) {
            pSeq[i] = dp[i % hashLen];
        }

        for (int i = 0; i < 16 + (a[0] & 0xff); i++) {
            md.update(salt);
        }
        byte[] ds = md.digest();
        byte[] sSeq = new byte[salt.length];
        for (int i = 0; i < salt.length; i++) {
            sSeq[i] = ds[i % hashLen];
        }

        byte[] c = a;
        for (int i = 0; i < s.rounds(); i++) {
            if ((i & 1) != 0) {
                md.update(pSeq);
            } else {
                md.update(c, 0, hashLen);
            }
            if (i % 3 != 0) {
                md.update(sSeq);
            }
            if (i % 7 != 0) {
                md.update(pSeq);
            }
            if ((i & 1) != 0) {
                md.update(c, 0, hashLen);
            } else {
                md.update(pSeq);
            }
            c = md.digest();
        }

        StringBuilder out = new StringBuilder(s.sha512() ? "$6$" : "$5$");
        if (s.explicitRounds()) {
            out.append("rounds=").append(s.rounds()).append('$');
        }
        out.append(s.salt()).append('$');
        if (s.sha512()) {
            for (int[] t : ORDER_512) {
                b64(out, c[t[0]], c[t[1]], c[t[2]], 4);
            }
            b64(out, (byte) 0, (byte) 0, c[63], 2);
        } else {
            for (int[] t : ORDER_256) {
                b64(out, c[t[0]], c[t[1]], c[t[2]], 4);
            }
            b64(out, (byte) 0, c[31], c[30], 3);
        }
        return out.toString();
    }

    /** Whether {@code password} hashes to {@code hash}, compared in constant time. */
    public static boolean verify(byte[] password, String hash) {
        String computed = crypt(password, hash);
        return MessageDigest.isEqual(computed.getBytes(StandardCharsets.US_ASCII), hash.getBytes(StandardCharsets.US_ASCII));
    }

    private static void b64(StringBuilder out, byte b2, byte b1, byte b0, int n) {
        int w = ((b2 & 0xff) << 16) | ((b1 & 0xff) << 8) | (b0 & 0xff);
        for (int i = 0; i < n; i++) {
            out.append(ITOA64.charAt(w & 0x3f));
            w >>>= 6;
        }
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is required by every Java platform", e);
        }
    }
}
