package io.github.gatehouse.cache.internal;

/**
 * Byte range requests (RFC 9110 §14): only a single range is served as 206; anything else gets the full body.
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class Ranges {
    /** Marker for a syntactically valid range that lies outside the body: answer 416. */
    public static final long[] UNSATISFIABLE = new long[0];

    private Ranges() {
    }

    /**
     * Parses {@code bytes=first-last}, {@code bytes=first-} or {@code bytes=-suffix} for a body of {@code length}
     * bytes: returns {offset, count}, {@link #UNSATISFIABLE}, or {@code null} to ignore the header (invalid, several
     * ranges, other units).
     */
    public static long[] single(String header, long length) {
        if (header == null) {
            return null;
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return null;
        }
        String spec = h.substring(6).trim();
        if (spec.indexOf(',') >= 0) {
            return null;
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        String a = spec.substring(0, dash).trim();
        String b = spec.substring(dash + 1).trim();
        try {
            if (a.isEmpty()) {
                if (b.isEmpty()) {
                    return null;
                }
                long suffix = Long.parseLong(b);
                if (suffix <= 0 || length == 0) {
                    return suffix < 0 ? null : UNSATISFIABLE;
                }
                long count = Math.min(suffix, length);
                return new long[] {length - count, count};
            }
            long first = Long.parseLong(a);
            long last = b.isEmpty() ? Long.MAX_VALUE : Long.parseLong(b);
            if (first < 0 || last < first) {
                return null;
            }
            if (first >= length) {
                return UNSATISFIABLE;
            }
            last = Math.min(last, length - 1);
            return new long[] {first, last - first + 1};
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
