package io.github.gatehouse.cache.internal;

/**
 * Byte ranges (RFC 9110 §14): parsing {@code Range} headers into sorted, coalesced spans, {@code Content-Range}
 * headers of 206 responses, and the stored-range lists of partial entries (RFC 9111 §3.3).
 *
 * <p><b>Threading.</b> Pure static functions and immutable values; safe from any thread.
 */
public final class Ranges {
    /** More ranges than this in one request, before coalescing, are ignored (a 200 or a forwarded request). */
    public static final int MAX_REQUESTED_RANGES = 64;
    /** More parts than this after coalescing are not worth a multipart answer: a 200 instead. */
    public static final int MAX_PARTS = 16;
    /** Ranges closer than this are coalesced (about the overhead of one more multipart part). */
    static final long COALESCE_GAP = 80;

    /** Bytes {@code start} (inclusive) to {@code end} (exclusive) of a representation. */
    public record Span(long start, long end) implements Comparable<Span> {
        /** Checks {@code 0 <= start < end}. */
        public Span {
            if (start < 0 || end <= start) {
                throw new IllegalArgumentException("span " + start + ".." + end + " (expected: 0 <= start < end)");
            }
        }

        public long length() {
            return end - start;
        }

        /** Whether {@code other} lies within this span. */
        public boolean covers(Span other) {
            return start <= other.start && other.end <= end;
        }

        @Override
        public int compareTo(Span o) {
            return start != o.start ? Long.compare(start, o.start) : Long.compare(end, o.end);
        }

        /** {@code first-last}, as in {@code Content-Range} and {@code Range}. */
        @Override
        public String toString() {
            return start + "-" + (end - 1);
        }
    }

    /**
     * What a {@code Range} header asks of a representation of {@code length} bytes: the satisfiable spans, sorted and
     * coalesced where they overlap or nearly touch; {@link #UNSATISFIABLE_SPANS} when none is; {@code null} to ignore
     * the header (invalid, another unit, or more than {@link #MAX_REQUESTED_RANGES} ranges).
     */
    public static java.util.List<Span> parse(String header, long length) {
        if (header == null) {
            return null;
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return null;
        }
        String[] specs = h.substring(6).split(",", -1);
        if (specs.length > MAX_REQUESTED_RANGES) {
            return null;
        }
        java.util.List<Span> spans = new java.util.ArrayList<>();
        int valid = 0;
        for (String spec : specs) {
            String one = spec.trim();
            if (one.isEmpty()) {
                continue; // RFC 9110 §5.6.1: empty list elements are ignored
            }
            long[] r = single("bytes=" + one, length);
            if (r == null) {
                return null; // one invalid range makes the whole header invalid (RFC 9110 §14.2)
            }
            valid++;
            if (r != UNSATISFIABLE && r[1] > 0) {
                spans.add(new Span(r[0], r[0] + r[1]));
            }
        }
        if (valid == 0) {
            return null;
        }
        if (spans.isEmpty()) {
            return UNSATISFIABLE_SPANS;
        }
        return coalesce(spans, COALESCE_GAP);
    }

    /** Marker for a {@code Range} header none of whose ranges lies within the body: answer 416. */
    public static final java.util.List<Span> UNSATISFIABLE_SPANS = java.util.List.of();

    /** {@code spans} sorted, with those that overlap or lie within {@code gap} bytes of each other merged. */
    public static java.util.List<Span> coalesce(java.util.Collection<Span> spans, long gap) {
        java.util.List<Span> sorted = new java.util.ArrayList<>(spans);
        java.util.Collections.sort(sorted);
        java.util.List<Span> out = new java.util.ArrayList<>();
        for (Span s : sorted) {
            Span last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && s.start <= last.end + gap) {
                out.set(out.size() - 1, new Span(last.start, Math.max(last.end, s.end)));
            } else {
                out.add(s);
            }
        }
        return java.util.List.copyOf(out);
    }

    /**
     * A single-part {@code Content-Range: bytes first-last/complete}: {span, complete length}, or {@code null} when it
     * is anything else (unsatisfied {@code bytes *&#47;n}, unknown length {@code /*}, other units, out of order).
     */
    public static ContentRange contentRange(String header) {
        if (header == null) {
            return null;
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes ", 0, 6)) {
            return null;
        }
        String rest = h.substring(6).trim();
        int slash = rest.indexOf('/');
        int dash = rest.indexOf('-');
        if (slash < 0 || dash < 0 || dash > slash) {
            return null;
        }
        try {
            long first = Long.parseLong(rest.substring(0, dash).trim());
            long last = Long.parseLong(rest.substring(dash + 1, slash).trim());
            long complete = Long.parseLong(rest.substring(slash + 1).trim());
            if (first < 0 || last < first || last >= complete) {
                return null;
            }
            return new ContentRange(new Span(first, last + 1), complete);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A parsed single-part {@code Content-Range}. */
    public record ContentRange(Span span, long completeLength) {
    }

    /**
     * Parses a stored-range list written by {@link #format}: {@code first-last,first-last}; {@code null} when it is
     * not one (then the entry is not used).
     */
    public static java.util.List<Span> parseStored(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        java.util.List<Span> out = new java.util.ArrayList<>();
        try {
            for (String part : value.split(",")) {
                int dash = part.indexOf('-');
                long first = Long.parseLong(part.substring(0, dash).trim());
                long last = Long.parseLong(part.substring(dash + 1).trim());
                out.add(new Span(first, last + 1));
            }
        } catch (RuntimeException e) {
            return null;
        }
        return coalesce(out, 0).equals(out) ? java.util.List.copyOf(out) : null; // sorted, disjoint, not touching
    }

    /**
     * The parts of {@code wanted} that {@code stored} (sorted, disjoint) does not cover, in order; empty when it covers
     * all of it.
     */
    public static java.util.List<Span> missing(Span wanted, java.util.List<Span> stored) {
        java.util.List<Span> out = new java.util.ArrayList<>();
        long at = wanted.start();
        for (Span s : stored) {
            if (s.end() <= at) {
                continue;
            }
            if (s.start() >= wanted.end()) {
                break;
            }
            if (s.start() > at) {
                out.add(new Span(at, s.start()));
            }
            at = Math.max(at, s.end());
            if (at >= wanted.end()) {
                break;
            }
        }
        if (at < wanted.end()) {
            out.add(new Span(at, wanted.end()));
        }
        return java.util.List.copyOf(out);
    }

    /** {@code first-last,first-last} for sorted, disjoint spans. */
    public static String format(java.util.List<Span> spans) {
        StringBuilder sb = new StringBuilder();
        for (Span s : spans) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(s);
        }
        return sb.toString();
    }
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
