package io.github.gatehouse.filter.internal;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable set of host patterns with constant-time lookups however many it holds: one hash map from the
 * normalised name to what it covers (the name itself, its subdomains, or both) and where it came from. A lookup
 * tries the host, then walks up its label suffixes ({@code a.b.example.com}, {@code b.example.com},
 * {@code example.com}, {@code com}): one hash probe per label.
 *
 * <p>Patterns: {@code example.com} (exactly that name, or with its subdomains when built with
 * {@code plainCoversSubdomains}), {@code *.example.com} (subdomains only), {@code .example.com} (the domain and
 * its subdomains, Squid's {@code dstdomain} form), IP literals (exact). Thread-safe (immutable).
 */
public final class HostMatcher {
    private static final int EXACT = 1;
    private static final int SUBDOMAINS = 2;

    private final Map<String, Integer> entries;
    private final List<String> sources;

    private HostMatcher(Map<String, Integer> entries, List<String> sources) {
        this.entries = entries;
        this.sources = sources;
    }

    /** The empty matcher. */
    public static HostMatcher empty() {
        return new HostMatcher(Map.of(), List.of());
    }

    /** The number of distinct names held. */
    public int size() {
        return entries.size();
    }

    /**
     * Returns the rule that covers {@code normalizedHost} as text ({@code '*.ads.example' (from list.txt)}), or
     * {@code null} when none does.
     */
    public String match(String normalizedHost) {
        if (entries.isEmpty()) {
            return null;
        }
        Integer flags = entries.get(normalizedHost);
        if (flags != null && (flags & EXACT) != 0) {
            return describe(normalizedHost, flags, true);
        }
        if (HostNames.isIpLiteral(normalizedHost)) {
            return null;
        }
        int dot = normalizedHost.indexOf('.');
        while (dot >= 0) {
            String suffix = normalizedHost.substring(dot + 1);
            flags = entries.get(suffix);
            if (flags != null && (flags & SUBDOMAINS) != 0) {
                return describe(suffix, flags, false);
            }
            dot = normalizedHost.indexOf('.', dot + 1);
        }
        return null;
    }

    private String describe(String name, int flags, boolean exactHit) {
        String pattern;
        if ((flags & (EXACT | SUBDOMAINS)) == (EXACT | SUBDOMAINS)) {
            pattern = "." + name;
        } else {
            pattern = exactHit ? name : "*." + name;
        }
        int source = flags >>> 2;
        String from = source < sources.size() ? sources.get(source) : null;
        return from == null ? "'" + pattern + "'" : "'" + pattern + "' (from " + from + ")";
    }

    /** Collects patterns; not thread-safe. */
    public static final class Builder {
        private final Map<String, Integer> entries;
        private final List<String> sources = new java.util.ArrayList<>();
        private final boolean plainCoversSubdomains;
        private int source = -1;

        /** A builder sized for about {@code expected} patterns. */
        public Builder(int expected, boolean plainCoversSubdomains) {
            this.entries = new HashMap<>(Math.max(16, (int) (expected / 0.75f) + 1));
            this.plainCoversSubdomains = plainCoversSubdomains;
        }

        /** Marks later patterns as coming from {@code name} (a file name), or from code when {@code null}. */
        public Builder source(String name) {
            if (name == null) {
                source = -1;
            } else {
                sources.add(name);
                source = sources.size() - 1;
            }
            return this;
        }

        /**
         * Adds one pattern.
         *
         * @throws IllegalArgumentException if it is not a valid pattern (the message names it)
         */
        public Builder add(String pattern) {
            String p = pattern.trim();
            int flags;
            if (p.startsWith("*.")) {
                p = p.substring(2);
                flags = SUBDOMAINS;
            } else if (p.startsWith(".")) {
                p = p.substring(1);
                flags = EXACT | SUBDOMAINS;
            } else {
                flags = EXACT;
            }
            if (p.isEmpty() || p.indexOf('*') >= 0 || p.indexOf('/') >= 0 || p.indexOf(' ') >= 0) {
                throw new IllegalArgumentException("host pattern: '" + pattern
                        + "' (expected: name, *.suffix, .domain or IP literal)");
            }
            String name = HostNames.normalize(p);
            if (HostNames.isIpLiteral(name)) {
                if (flags != EXACT) {
                    throw new IllegalArgumentException("host pattern: '" + pattern
                            + "' (expected: an IP literal without wildcard)");
                }
            } else if (flags == EXACT && plainCoversSubdomains) {
                flags = EXACT | SUBDOMAINS;
            }
            int sourceBits = (source + 1 == 0 ? Integer.MAX_VALUE >>> 2 : source) << 2;
            Integer old = entries.get(name);
            int merged = flags | sourceBits;
            if (old != null) {
                merged = (old | flags) & 3 | (old & ~3);
            }
            entries.put(name, merged);
            return this;
        }

        /** The matcher (the builder must not be used afterwards). */
        public HostMatcher build() {
            return new HostMatcher(entries, List.copyOf(sources));
        }
    }
}
