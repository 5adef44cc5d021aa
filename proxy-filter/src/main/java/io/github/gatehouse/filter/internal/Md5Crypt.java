package io.github.gatehouse.filter.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * MD5-crypt as Apache's {@code htpasswd -m} writes it ({@code $apr1$}, its default) and as FreeBSD defined it
 * ({@code $1$}): Poul-Henning Kamp's algorithm, 1000 rounds of MD5. Weak by today's standards; supported so that
 * existing htpasswd files keep working. Stateless and thread-safe.
 */
public final class Md5Crypt {
    private static final String ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private Md5Crypt() {
    }

    /**
     * Computes the hash of {@code password} with the magic and salt of {@code setting} ({@code $apr1$salt[$...]}).
     *
     * @throws IllegalArgumentException if {@code setting} is not an MD5-crypt hash
     */
    public static String crypt(byte[] password, String setting) {
        String magic;
        if (setting.startsWith("$apr1$")) {
            magic = "$apr1$";
        } else if (setting.startsWith("$1$")) {
            magic = "$1$";
        } else {
            throw new IllegalArgumentException("not an $apr1$ or $1$ hash");
        }
        String rest = setting.substring(magic.length());
        int end = rest.indexOf('$');
        String saltText = end >= 0 ? rest.substring(0, end) : rest;
        if (saltText.length() > 8) {
            saltText = saltText.substring(0, 8);
        }
        byte[] salt = saltText.getBytes(StandardCharsets.UTF_8);
        MessageDigest ctx = md5();
        ctx.update(password);
        ctx.update(magic.getBytes(StandardCharsets.US_ASCII));
        ctx.update(salt);
        MessageDigest alt = md5();
        alt.update(password);
        alt.update(salt);
        alt.update(password);
        byte[] f = alt.digest();
        for (int pl = password.length; pl > 0; pl -= 16) {
            ctx.update(f, 0, Math.min(pl, 16));
        }
        for (int i = password.length; i != 0; i >>>= 1) {
            ctx.update((i & 1) != 0 ? 0 : password[0]);
        }
        f = ctx.digest();
        for (int i = 0; i < 1000; i++) {
            MessageDigest c = md5();
            if ((i & 1) != 0) {
                c.update(password);
            } else {
                c.update(f);
            }
            if (i % 3 != 0) {
                c.update(salt);
            }
            if (i % 7 != 0) {
                c.update(password);
            }
            if ((i & 1) != 0) {
                c.update(f);
            } else {
                c.update(password);
            }
            f = c.digest();
        }
        StringBuilder out = new StringBuilder(magic).append(saltText).append('$');
        to64(out, (f[0] & 0xff) << 16 | (f[6] & 0xff) << 8 | (f[12] & 0xff), 4);
        to64(out, (f[1] & 0xff) << 16 | (f[7] & 0xff) << 8 | (f[13] & 0xff), 4);
        to64(out, (f[2] & 0xff) << 16 | (f[8] & 0xff) << 8 | (f[14] & 0xff), 4);
        to64(out, (f[3] & 0xff) << 16 | (f[9] & 0xff) << 8 | (f[15] & 0xff), 4);
        to64(out, (f[4] & 0xff) << 16 | (f[10] & 0xff) << 8 | (f[5] & 0xff), 4);
        to64(out, f[11] & 0xff, 2);
        return out.toString();
    }

    /** Whether {@code password} hashes to {@code hash}, compared in constant time. */
    public static boolean verify(byte[] password, String hash) {
        return MessageDigest.isEqual(crypt(password, hash).getBytes(StandardCharsets.US_ASCII),
                hash.getBytes(StandardCharsets.US_ASCII));
    }

    private static void to64(StringBuilder out, int v, int n) {
        for (int i = 0; i < n; i++) {
            out.append(ITOA64.charAt(v & 0x3f));
            v >>>= 6;
        }
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is required by every Java platform", e);
        }
    }
}
