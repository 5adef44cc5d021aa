package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.errorprone.annotations.CheckReturnValue;
import java.util.Locale;
import java.util.Objects;

/**
 * An amount of bytes, such as a cache capacity or a header size limit.
 *
 * <p>Values are immutable and thread-safe. {@link #parse(String)} reads the forms used on command lines and in
 * configuration files: {@code 512}, {@code 64k}, {@code 256m}, {@code 1g} (binary multiples, case-insensitive, an
 * optional trailing {@code b} or {@code ib}).
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class DataSize implements Comparable<DataSize> {
    private final long bytes;

    private DataSize(long bytes) {
        checkArgument(bytes >= 0, "size: %s bytes (expected: >= 0)", bytes);
        this.bytes = bytes;
    }

    /** Returns a size of {@code bytes} bytes. */
    public static DataSize bytes(long bytes) {
        return new DataSize(bytes);
    }

    /** Returns a size of {@code n} KiB (1024 bytes each). */
    public static DataSize kibibytes(long n) {
        return new DataSize(Math.multiplyExact(n, 1024L));
    }

    /** Returns a size of {@code n} MiB. */
    public static DataSize mebibytes(long n) {
        return new DataSize(Math.multiplyExact(n, 1024L * 1024));
    }

    /** Returns a size of {@code n} GiB. */
    public static DataSize gibibytes(long n) {
        return new DataSize(Math.multiplyExact(n, 1024L * 1024 * 1024));
    }

    /**
     * Parses {@code 512}, {@code 64k}, {@code 64KiB}, {@code 256m}, {@code 1g}.
     *
     * @throws IllegalArgumentException if {@code text} is not such a size
     */
    public static DataSize parse(String text) {
        Objects.requireNonNull(text, "text");
        String s = text.trim().toLowerCase(Locale.ROOT);
        if (s.endsWith("ib")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("b")) {
            s = s.substring(0, s.length() - 1);
        }
        long multiplier = 1;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'k': multiplier = 1024L; break;
                case 'm': multiplier = 1024L * 1024; break;
                case 'g': multiplier = 1024L * 1024 * 1024; break;
                case 't': multiplier = 1024L * 1024 * 1024 * 1024; break;
                default: multiplier = 1;
            }
            if (multiplier != 1) {
                s = s.substring(0, s.length() - 1);
            }
        }
        try {
            long n = Long.parseLong(s.trim());
            checkArgument(n >= 0, "size: %s (expected: a size such as 512, 64k, 256m or 1g)", text);
            return new DataSize(Math.multiplyExact(n, multiplier));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("size: " + text + " (expected: a size such as 512, 64k, 256m or 1g)", e);
        }
    }

    /** The number of bytes. */
    public long toBytes() {
        return bytes;
    }

    /** The number of bytes, capped at {@link Integer#MAX_VALUE}. */
    public int toBytesCapped() {
        return (int) Math.min(Integer.MAX_VALUE, bytes);
    }

    @Override
    public int compareTo(DataSize other) {
        return Long.compare(bytes, other.bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DataSize && ((DataSize) o).bytes == bytes;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(bytes);
    }

    @Override
    public String toString() {
        if (bytes != 0 && bytes % (1024L * 1024 * 1024) == 0) {
            return bytes / (1024L * 1024 * 1024) + "GiB";
        }
        if (bytes != 0 && bytes % (1024L * 1024) == 0) {
            return bytes / (1024L * 1024) + "MiB";
        }
        if (bytes != 0 && bytes % 1024L == 0) {
            return bytes / 1024L + "KiB";
        }
        return bytes + "B";
    }
}
