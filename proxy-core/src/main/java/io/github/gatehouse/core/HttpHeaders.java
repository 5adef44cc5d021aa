package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * An ordered, mutable list of HTTP header fields with case-insensitive names, as one exchange sees them.
 *
 * <p>Gatehouse gives each exchange its own instances: filters may read and change the request headers before they
 * go upstream and the response headers before they go to the client. Field order and repeated fields are kept.
 *
 * <p><b>Threading.</b> Not thread-safe: an instance belongs to one exchange, which never runs two phases at once.
 */
public final class HttpHeaders implements Iterable<HttpHeaders.Field> {

    /** One header field: a name as received (compare case-insensitively) and its value. */
    public static final class Field {
        private final String name;
        private final String value;

        /** Creates a field; neither part may be {@code null}. */
        public Field(String name, String value) {
            this.name = requireNonNull(name, "name");
            this.value = requireNonNull(value, "value");
        }

        /** The name as received or set. */
        public String name() {
            return name;
        }

        /** The value. */
        public String value() {
            return value;
        }

        /** Whether this field's name is {@code other}, ignoring case. */
        public boolean is(String other) {
            return name.equalsIgnoreCase(other);
        }

        @Override
        public String toString() {
            return name + ": " + value;
        }
    }

    private final List<Field> fields;

    /** Creates an empty header list. */
    public HttpHeaders() {
        this.fields = new ArrayList<>(16);
    }

    /** Creates a copy of {@code other}. */
    public HttpHeaders(HttpHeaders other) {
        this.fields = new ArrayList<>(other.fields);
    }

    /** The first value of {@code name}, if present. */
    public Optional<String> first(String name) {
        return Optional.ofNullable(get(name));
    }

    /** The first value of {@code name}, or {@code null}. */
    public String get(String name) {
        for (Field f : fields) {
            if (f.is(name)) {
                return f.value;
            }
        }
        return null;
    }

    /** Every value of {@code name}, in order (one entry per field line; comma-separated values are not split). */
    public List<String> getAll(String name) {
        List<String> values = new ArrayList<>(2);
        for (Field f : fields) {
            if (f.is(name)) {
                values.add(f.value);
            }
        }
        return values;
    }

    /**
     * Every element of the comma-separated list field {@code name} over all its lines, trimmed, empty elements
     * dropped (RFC 9110 §5.6.1). Quoted strings containing commas are kept whole.
     */
    public List<String> getTokens(String name) {
        List<String> tokens = new ArrayList<>(4);
        for (Field f : fields) {
            if (f.is(name)) {
                splitList(f.value, tokens);
            }
        }
        return tokens;
    }

    /** Whether a field named {@code name} is present. */
    public boolean contains(String name) {
        return get(name) != null;
    }

    /** Whether the list field {@code name} contains {@code token}, ignoring case. */
    public boolean containsToken(String name, String token) {
        for (String t : getTokens(name)) {
            if (t.equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }

    /** Appends a field. */
    public HttpHeaders add(String name, String value) {
        fields.add(new Field(name, value));
        return this;
    }

    /** Replaces every field named {@code name} by one with {@code value} (kept at the first one's place). */
    public HttpHeaders set(String name, String value) {
        requireNonNull(value, "value");
        int at = -1;
        for (int i = fields.size() - 1; i >= 0; i--) {
            if (fields.get(i).is(name)) {
                fields.remove(i);
                at = i;
            }
        }
        if (at < 0) {
            fields.add(new Field(name, value));
        } else {
            fields.add(at, new Field(name, value));
        }
        return this;
    }

    /** Removes every field named {@code name}; returns whether any was removed. */
    public boolean remove(String name) {
        return fields.removeIf(f -> f.is(name));
    }

    /** Removes every field. */
    public void clear() {
        fields.clear();
    }

    /** The number of field lines. */
    public int size() {
        return fields.size();
    }

    /** Whether there is no field. */
    public boolean isEmpty() {
        return fields.isEmpty();
    }

    /** Calls {@code action} with each name and value, in order. */
    public void forEachField(BiConsumer<String, String> action) {
        for (Field f : fields) {
            action.accept(f.name, f.value);
        }
    }

    @Override
    public Iterator<Field> iterator() {
        return fields.iterator();
    }

    /** The fields as an unmodifiable snapshot. */
    public List<Field> asList() {
        return List.copyOf(fields);
    }

    /** Renders the fields, with credentials and cookies redacted, for log lines. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (Field f : fields) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            String lower = f.name.toLowerCase(Locale.ROOT);
            boolean secret = lower.equals("authorization") || lower.equals("proxy-authorization")
                    || lower.equals("cookie") || lower.equals("set-cookie");
            sb.append(f.name).append(": ").append(secret ? "<redacted>" : f.value);
        }
        return sb.append('}').toString();
    }

    private static void splitList(String value, List<String> out) {
        int start = 0;
        boolean quoted = false;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' && (i == 0 || value.charAt(i - 1) != '\\')) {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                addToken(value.substring(start, i), out);
                start = i + 1;
            }
        }
        addToken(value.substring(start), out);
    }

    private static void addToken(String token, List<String> out) {
        String t = token.trim();
        if (!t.isEmpty()) {
            out.add(t);
        }
    }
}
