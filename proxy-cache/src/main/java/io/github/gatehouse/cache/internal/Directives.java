package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.HttpHeaders;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Parsed {@code Cache-Control} (or a targeted field such as {@code CDN-Cache-Control}) directives: lower-case names,
 * unquoted values. When a directive repeats with the same value, that is its value; when it repeats with different
 * values it is <em>conflicting</em>: its {@link #value} is the first one, but its {@link #seconds} is 0, so a response
 * with two different {@code max-age} values is stale (RFC 9111 §4.2.1 allows either; this is the safe side). The
 * field-name lists of {@code private} and {@code no-cache} (RFC 9111 §5.2.2.4, §5.2.2.7) are not conflicts: their
 * qualified forms add up, and one unqualified (or unreadable) occurrence makes the directive apply to the whole
 * response, whatever the order.
 *
 * <p><b>Threading.</b> Immutable; safe from any thread.
 */
public final class Directives {
    /** delta-seconds larger than this are taken as this (RFC 9111 §1.2.2). */
    public static final long MAX_DELTA_SECONDS = 2_147_483_648L;
    static final Directives NONE = new Directives(Map.of(), Map.of(), Set.of(), Set.of(), null);
    /** The directives whose argument may be a list of field names. */
    private static final Set<String> QUALIFIABLE = Set.of("private", "no-cache");

    private final Map<String, String> values;
    /** For {@code private} and {@code no-cache}: the union of the field names of their qualified occurrences. */
    private final Map<String, List<String>> fieldNames;
    /** Which of {@code private} and {@code no-cache} occur at least once unqualified (or with an unreadable list). */
    private final Set<String> unqualified;
    /** The directives that occur more than once with different values. */
    private final Set<String> conflicting;
    /** The targeted field (RFC 9213) these directives come from, or {@code null} for {@code Cache-Control}. */
    private final String targetedField;

    private Directives(Map<String, String> values, Map<String, List<String>> fieldNames, Set<String> unqualified,
            Set<String> conflicting, String targetedField) {
        this.values = values;
        this.fieldNames = fieldNames;
        this.unqualified = unqualified;
        this.conflicting = conflicting;
        this.targetedField = targetedField;
    }

    /** These directives as read from targeted field {@code field} (RFC 9213). */
    Directives fromTargetedField(String field) {
        return new Directives(values, fieldNames, unqualified, conflicting, field);
    }

    /**
     * The targeted field (RFC 9213) these directives were read from, or {@code null} when they come from
     * {@code Cache-Control}. With a targeted field, {@code Expires} does not count either (RFC 9213 §2.2).
     */
    public String targetedField() {
        return targetedField;
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
        Map<String, List<String>> lists = null;
        Set<String> whole = null;
        Set<String> conflicts = null;
        for (String element : elements) {
            int eq = element.indexOf('=');
            String name = (eq < 0 ? element : element.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
            if (name.isEmpty()) {
                continue;
            }
            String value = eq < 0 ? "" : unquote(element.substring(eq + 1).trim());
            String before = map.putIfAbsent(name, value);
            if (before != null && !before.equals(value) && !QUALIFIABLE.contains(name)) {
                conflicts = conflicts == null ? new HashSet<>(2) : conflicts;
                conflicts.add(name);
            }
            if (QUALIFIABLE.contains(name)) {
                List<String> names = fieldNameList(value);
                if (names == null) {
                    whole = whole == null ? new HashSet<>(2) : whole;
                    whole.add(name);
                } else {
                    lists = lists == null ? new HashMap<>(2) : lists;
                    List<String> union = lists.computeIfAbsent(name, n -> new ArrayList<>(names.size()));
                    for (String field : names) {
                        if (union.stream().noneMatch(field::equalsIgnoreCase)) {
                            union.add(field);
                        }
                    }
                }
            }
        }
        Map<String, List<String>> frozen = Map.of();
        if (lists != null) {
            lists.replaceAll((n, l) -> List.copyOf(l));
            frozen = Map.copyOf(lists);
        }
        return new Directives(Collections.unmodifiableMap(map), frozen, whole == null ? Set.of() : Set.copyOf(whole),
                conflicts == null ? Set.of() : Set.copyOf(conflicts), null);
    }

    /**
     * The field names of a qualified directive's (unquoted) argument, or {@code null} when it has none or they cannot
     * be read: an empty argument, an empty list, or an element that is not a token (such as the rest of a field after
     * an unclosed quote). {@code null} means the directive applies to the whole response, the safe reading.
     */
    private static List<String> fieldNameList(String value) {
        if (value.isBlank()) {
            return null;
        }
        List<String> names = new ArrayList<>(2);
        for (String part : value.split(",", -1)) {
            String field = part.trim();
            if (field.isEmpty()) {
                continue; // RFC 9110 §5.6.1: empty list elements are ignored
            }
            if (!isToken(field)) {
                return null;
            }
            names.add(field);
        }
        return names.isEmpty() ? null : names;
    }

    private static boolean isToken(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return false;
            }
        }
        return true;
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
     * non-negative integer or {@link #isConflicting conflicting} (treated as stale, RFC 9111 §4.2.1), capped at
     * {@link #MAX_DELTA_SECONDS}.
     */
    public long seconds(String name) {
        String v = values.get(name);
        if (v == null) {
            return -1;
        }
        return conflicting.contains(name) ? 0 : parseDelta(v);
    }

    /** Whether directive {@code name} occurs more than once with different values. */
    public boolean isConflicting(String name) {
        return conflicting.contains(name);
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

    /**
     * The field names listed by the qualified forms of {@code private} or {@code no-cache} (such as
     * {@code private="Set-Cookie, X-User"}), across every occurrence, in order, without case-insensitive duplicates;
     * empty when there is no qualified occurrence. Whether the directive also applies to the whole response is
     * {@link #isUnqualified}.
     */
    public List<String> fieldNames(String name) {
        return fieldNames.getOrDefault(name, List.of());
    }

    /**
     * Whether {@code private} or {@code no-cache} applies to the whole response: it occurs at least once without a
     * field-name list, or with one that cannot be read (the safe reading). A response with only qualified
     * occurrences is not; then the directive concerns {@link #fieldNames} alone.
     */
    public boolean isUnqualified(String name) {
        return unqualified.contains(name);
    }

    /** These directives without {@code names} (for request directives a cache rule tells the cache to ignore). */
    public Directives without(String... names) {
        Map<String, String> v = new LinkedHashMap<>(values);
        Map<String, List<String>> f = new HashMap<>(fieldNames);
        Set<String> u = new HashSet<>(unqualified);
        Set<String> c = new HashSet<>(conflicting);
        for (String n : names) {
            v.remove(n);
            f.remove(n);
            u.remove(n);
            c.remove(n);
        }
        return new Directives(Collections.unmodifiableMap(v), Map.copyOf(f), Set.copyOf(u), Set.copyOf(c), targetedField);
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
