package io.github.gatehouse.filter.internal;

import at.favre.lib.crypto.bcrypt.BCrypt;
import at.favre.lib.crypto.bcrypt.LongPasswordStrategies;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * A stored password: an htpasswd hash or an in-memory password (kept only as its SHA-256). {@link #toString()}
 * never shows the hash. Immutable, thread-safe.
 */
public abstract class PasswordHash {
    /** Rounds above this are refused at load: one check would hold an auth thread for seconds. */
    public static final int MAX_SHA_CRYPT_ROUNDS = 5_000_000;
    /** bcrypt costs above this are refused at load, for the same reason. */
    public static final int MAX_BCRYPT_COST = 16;

    private static final BCrypt.Verifyer BCRYPT = BCrypt.verifyer(null,
            LongPasswordStrategies.truncate(BCrypt.Version.VERSION_2A));

    private PasswordHash() {
    }

    /** Whether {@code password} is the stored one. May take long for slow hashes: see {@link #isSlow()}. */
    public abstract boolean verify(String password);

    /** Whether checking takes long enough (bcrypt, SHA-crypt) to belong on the authentication executor. */
    public abstract boolean isSlow();

    /** The kind of hash, for log lines ({@code bcrypt}, {@code sha512-crypt}). */
    public abstract String kind();

    @Override
    public String toString() {
        return "PasswordHash{" + kind() + "}";
    }

    /** A password given in code, kept as its SHA-256 only. */
    public static PasswordHash plain(String password) {
        byte[] digest = sha256(password.getBytes(StandardCharsets.UTF_8));
        return new PasswordHash() {
            @Override
            public boolean verify(String candidate) {
                return MessageDigest.isEqual(digest, sha256(candidate.getBytes(StandardCharsets.UTF_8)));
            }

            @Override
            public boolean isSlow() {
                return false;
            }

            @Override
            public String kind() {
                return "in-memory";
            }
        };
    }

    /**
     * Parses an htpasswd hash: bcrypt ({@code $2y$}, {@code $2a$}, {@code $2b$}), SHA-256/512-crypt
     * ({@code $5$}, {@code $6$}), or for old files MD5-crypt ({@code $apr1$}, {@code $1$}) and unsalted SHA-1
     * ({@code {SHA}}).
     *
     * @throws IllegalArgumentException saying what is wrong, never quoting the hash
     */
    public static PasswordHash parse(String hash) {
        if (hash.startsWith("$2y$") || hash.startsWith("$2a$") || hash.startsWith("$2b$")) {
            if (hash.length() != 60) {
                throw new IllegalArgumentException("bcrypt hash has " + hash.length() + " characters (expected: 60)");
            }
            int cost;
            try {
                cost = Integer.parseInt(hash.substring(4, 6));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bcrypt hash has no cost", e);
            }
            if (cost < 4 || cost > MAX_BCRYPT_COST) {
                throw new IllegalArgumentException("bcrypt cost " + cost + " (expected: 4.." + MAX_BCRYPT_COST + ")");
            }
            byte[] stored = hash.getBytes(StandardCharsets.US_ASCII);
            return new PasswordHash() {
                @Override
                public boolean verify(String password) {
                    return BCRYPT.verify(password.getBytes(StandardCharsets.UTF_8), stored).verified;
                }

                @Override
                public boolean isSlow() {
                    return true;
                }

                @Override
                public String kind() {
                    return "bcrypt";
                }
            };
        }
        if (hash.startsWith("$5$") || hash.startsWith("$6$")) {
            ShaCrypt.Setting s = ShaCrypt.parse(hash);
            if (s.rounds() > MAX_SHA_CRYPT_ROUNDS) {
                throw new IllegalArgumentException("SHA-crypt rounds " + s.rounds() + " (expected: <= " + MAX_SHA_CRYPT_ROUNDS + ")");
            }
            String kind = s.sha512() ? "sha512-crypt" : "sha256-crypt";
            return new PasswordHash() {
                @Override
                public boolean verify(String password) {
                    return ShaCrypt.verify(password.getBytes(StandardCharsets.UTF_8), hash);
                }

                @Override
                public boolean isSlow() {
                    return true;
                }

                @Override
                public String kind() {
                    return kind;
                }
            };
        }
        if (hash.startsWith("$apr1$") || hash.startsWith("$1$")) {
            if (hash.lastIndexOf('$') <= hash.indexOf('$', 1) || hash.length() - hash.lastIndexOf('$') != 23) {
                throw new IllegalArgumentException("MD5-crypt hash is malformed (expected: $apr1$salt$22 characters)");
            }
            return new PasswordHash() {
                @Override
                public boolean verify(String password) {
                    return Md5Crypt.verify(password.getBytes(StandardCharsets.UTF_8), hash);
                }

                @Override
                public boolean isSlow() {
                    return true;
                }

                @Override
                public String kind() {
                    return "md5-crypt";
                }
            };
        }
        if (hash.startsWith("{SHA}")) {
            byte[] stored;
            try {
                stored = Base64.getDecoder().decode(hash.substring(5));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("{SHA} hash is not base64", e);
            }
            return new PasswordHash() {
                @Override
                public boolean verify(String password) {
                    return MessageDigest.isEqual(stored, digest("SHA-1", password.getBytes(StandardCharsets.UTF_8)));
                }

                @Override
                public boolean isSlow() {
                    return false;
                }

                @Override
                public String kind() {
                    return "sha1";
                }
            };
        }
        String prefix = hash.startsWith("$") && hash.indexOf('$', 1) > 0 ? hash.substring(0, hash.indexOf('$', 1) + 1) : "";
        throw new IllegalArgumentException("unsupported hash " + (prefix.isEmpty() ? "format" : prefix)
                + " (expected: bcrypt $2y$/$2a$/$2b$, SHA-crypt $5$/$6$, MD5-crypt $apr1$ or {SHA})");
    }

    static byte[] sha256(byte[] bytes) {
        return digest("SHA-256", bytes);
    }

    private static byte[] digest(String algorithm, byte[] bytes) {
        try {
            return MessageDigest.getInstance(algorithm).digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is required by every Java platform", e);
        }
    }
}
