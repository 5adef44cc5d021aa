package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.HttpHeaders;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Parsed {@code Cache-Control} (or a targeted field such as {@code CDN-Cache-Control}) directives: lower-case names,
 * unquoted values. When a directive repeats, the first occurrence wins (RFC 9111 §4.2.1).
 *
 * <p><b>Threading.</b> Immutable; safe from any thread.
 */
public final class Directives {
    /** delta-seconds larger than this are taken as this (RFC 9111 §1.2.2). */
    public static final long MAX_DELTA_SECONDS = 2_147_483_648L;
    static final Directives NONE = new Directives(Map.of());

    private final Map<String, String> values;

    private Directives(Map<String, String> values) {
        this.values = values;
    }

    /** Parses every {@code name} field line of {@code headers}. */
    public static Directives of(HttpHeaders headers, String name) {
        return parse(headers.getTokens(name));
    }

    /** Parses list elements such as {@code max-age=60} or {@code private="Set-Cookie"}. */
    public static Directives parse(List<String> elements) {
        if (elements.isEmpty()) {
            return NONE;
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (String element : elements) {
            int eq = element.indexOf('=');
            String name = (eq < 0 ? element : element.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
            if (name.isEmpty()) {
                continue;
            }
            String value = eq < 0 ? "" : unquote(element.substring(eq + 1).trim());
            map.putIfAbsent(name, value);
        }
        return new Directives(Collections.unmodifiableMap(map));
    }

    private static String unquote(String v) {
        if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
            return v.substring(1, v.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\");
        }
        return v;
    }

    /** Whether any directive is present. */
    public boolean isEmpty() {
        return values.isEmpty();
    }

    /** Whether directive {@code name} is present, with or without a value. */
    public boolean has(String name) {
        return values.containsKey(name);
    }

    /** The directive's value ("" when present without one), or {@code null}. */
    public String value(String name) {
        return values.get(name);
    }

    /**
     * The directive's delta-seconds value: {@code -1} when absent, {@code 0} when present but not a valid
     * non-negative integer (treated as stale, RFC 9111 §4.2.1), capped at {@link #MAX_DELTA_SECONDS}.
     */
    public long seconds(String name) {
        String v = values.get(name);
        if (v == null) {
            return -1;
        }
        return parseDelta(v);
    }

    /** delta-seconds: digits only; invalid gives 0, too large gives {@link #MAX_DELTA_SECONDS}. */
    static long parseDelta(String v) {
        if (v.isEmpty()) {
            return 0;
        }
        for (int i = 0; i < v.length(); i++) {
            if (v.charAt(i) < '0' || v.charAt(i) > '9') {
                return 0;
            }
        }
        if (v.length() > 10) {
            return MAX_DELTA_SECONDS;
        }
        return Math.min(Long.parseLong(v), MAX_DELTA_SECONDS);
    }

    /** The field names listed in a qualified {@code private="a, b"} or {@code no-cache="a"}; empty if unqualified. */
    public List<String> fieldNames(String name) {
        String v = values.get(name);
        if (v == null || v.isBlank()) {
            return List.of();
        }
        return java.util.Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
