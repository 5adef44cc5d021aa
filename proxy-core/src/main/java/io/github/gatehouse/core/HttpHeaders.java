package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.BiConsumer;

/**
 * An ordered, mutable list of HTTP header fields with case-insensitive names, as one exchange sees them.
 *
 * <p>Gatehouse gives each exchange its own instances: filters may read and change the request headers before they
 * go upstream and the response headers before they go to the client. Field order and repeated fields are kept.
 *
 * <p><b>Threading.</b> Not thread-safe: an instance belongs to one exchange, which never runs two phases at once.
 *
 * <p><b>Not {@code java.net.http.HttpHeaders}.</b> The JDK's HTTP client has an immutable class of the same simple
 * name. Code that uses both (a test that sends requests with {@code java.net.http.HttpClient} through a proxy whose
 * filter builds headers, say) imports one and spells the other out in full:
 * <pre>{@code
 * import io.github.gatehouse.core.HttpHeaders;
 *
 * HttpHeaders extra = new HttpHeaders().add("Retry-After", "1");          // Gatehouse's, mutable
 * java.net.http.HttpHeaders received = response.headers();              // the JDK client's, immutable
 * }</pre>
 * The name stays: it is what a filter author types most, and a rename would break every filter for no gain in
 * code that never touches the JDK client.
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

    /**
     * The field lines, in order. Each entry is a {@link Field}, or a field object of the server or client the relay
     * read it from ({@code org.eclipse.jetty.http.HttpField}): the relay makes its header lists as views over the
     * fields it received, and hands those same objects on when the list goes out again, so a field nobody changed is
     * never copied. Writes replace entries in place; no entry object is ever mutated.
     */
    private Object[] entries;
    private int size;

    static {
        io.github.gatehouse.core.internal.HeaderViews.bind(new io.github.gatehouse.core.internal.HeaderViews.Access() {
            @Override
            public HttpHeaders view(Object[] fields, int count) {
                return new HttpHeaders(fields, count);
            }

            @Override
            public void copyTo(HttpHeaders headers, org.eclipse.jetty.http.HttpFields.Mutable to) {
                Object[] e = headers.entries;
                for (int i = 0; i < headers.size; i++) {
                    Object entry = e[i];
                    if (entry instanceof org.eclipse.jetty.http.HttpField) {
                        to.add((org.eclipse.jetty.http.HttpField) entry);
                    } else {
                        Field f = (Field) entry;
                        to.add(f.name, f.value);
                    }
                }
            }
        });
    }

    /** Creates an empty header list. */
    public HttpHeaders() {
        this.entries = new Object[8];
    }

    /** Creates a copy of {@code other}. */
    public HttpHeaders(HttpHeaders other) {
        this.entries = java.util.Arrays.copyOf(other.entries, Math.max(8, other.size + 4));
        this.size = other.size;
    }

    /** A list over {@code fields[0..count)}, which the caller gives up. */
    private HttpHeaders(Object[] fields, int count) {
        this.entries = fields;
        this.size = count;
    }

    private static String nameOf(Object entry) {
        return entry instanceof Field ? ((Field) entry).name : ((org.eclipse.jetty.http.HttpField) entry).getName();
    }

    private static String valueOf(Object entry) {
        if (entry instanceof Field) {
            return ((Field) entry).value;
        }
        String v = ((org.eclipse.jetty.http.HttpField) entry).getValue();
        return v == null ? "" : v;
    }

    private static boolean is(Object entry, String name) {
        return entry instanceof Field ? ((Field) entry).is(name) : ((org.eclipse.jetty.http.HttpField) entry).is(name);
    }

    private static Field asField(Object entry) {
        return entry instanceof Field ? (Field) entry : new Field(nameOf(entry), valueOf(entry));
    }

    /**
     * The first value of {@code name}, or {@code null} when there is no such field: a field-map lookup, like
     * {@link java.util.Map#get} and Jetty's {@code HttpFields.get}, so the relay's hot path allocates nothing. Use
     * {@link #contains} to test for a field, {@code Optional.ofNullable(headers.get(name))} to chain.
     */
    public String get(String name) {
        for (int i = 0; i < size; i++) {
            if (is(entries[i], name)) {
                return valueOf(entries[i]);
            }
        }
        return null;
    }

    /** Every value of {@code name}, in order (one entry per field line; comma-separated values are not split). */
    public List<String> getAll(String name) {
        List<String> values = new ArrayList<>(2);
        for (int i = 0; i < size; i++) {
            if (is(entries[i], name)) {
                values.add(valueOf(entries[i]));
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
        for (int i = 0; i < size; i++) {
            if (is(entries[i], name)) {
                splitList(valueOf(entries[i]), tokens);
            }
        }
        return tokens;
    }

    /** Whether a field named {@code name} is present. */
    public boolean contains(String name) {
        for (int i = 0; i < size; i++) {
            if (is(entries[i], name)) {
                return true;
            }
        }
        return false;
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
        Field f = new Field(name, value);
        if (size == entries.length) {
            entries = java.util.Arrays.copyOf(entries, Math.max(8, size * 2));
        }
        entries[size++] = f;
        return this;
    }

    /** Replaces every field named {@code name} by one with {@code value} (kept at the first one's place). */
    public HttpHeaders set(String name, String value) {
        requireNonNull(value, "value");
        int at = -1;
        int w = 0;
        for (int r = 0; r < size; r++) {
            Object e = entries[r];
            if (is(e, name)) {
                if (at < 0) {
                    at = w;
                    entries[w++] = new Field(name, value);
                }
            } else {
                entries[w++] = e;
            }
        }
        for (int i = w; i < size; i++) {
            entries[i] = null;
        }
        size = w;
        if (at < 0) {
            add(name, value);
        }
        return this;
    }

    /** Removes every field named {@code name}; returns whether any was removed. */
    public boolean remove(String name) {
        int w = 0;
        for (int r = 0; r < size; r++) {
            Object e = entries[r];
            if (!is(e, name)) {
                entries[w++] = e;
            }
        }
        boolean removed = w < size;
        for (int i = w; i < size; i++) {
            entries[i] = null;
        }
        size = w;
        return removed;
    }

    /** Removes every field. */
    public void clear() {
        java.util.Arrays.fill(entries, 0, size, null);
        size = 0;
    }

    /** The number of field lines. */
    public int size() {
        return size;
    }

    /** Whether there is no field. */
    public boolean isEmpty() {
        return size == 0;
    }

    /** Calls {@code action} with each name and value, in order. */
    public void forEachField(BiConsumer<String, String> action) {
        for (int i = 0; i < size; i++) {
            Object e = entries[i];
            action.accept(nameOf(e), valueOf(e));
        }
    }

    /** The fields in order; the iterator's {@code remove} removes the field it last returned. */
    @Override
    public Iterator<Field> iterator() {
        return new Iterator<>() {
            private int next;
            private int last = -1;

            @Override
            public boolean hasNext() {
                return next < size;
            }

            @Override
            public Field next() {
                if (next >= size) {
                    throw new java.util.NoSuchElementException();
                }
                last = next;
                return asField(entries[next++]);
            }

            @Override
            public void remove() {
                if (last < 0) {
                    throw new IllegalStateException("next() was not called, or remove() was already called");
                }
                System.arraycopy(entries, last + 1, entries, last, size - last - 1);
                entries[--size] = null;
                next = last;
                last = -1;
            }
        };
    }

    /** The fields as an unmodifiable snapshot. */
    public List<Field> asList() {
        List<Field> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(asField(entries[i]));
        }
        return java.util.Collections.unmodifiableList(out);
    }

    /** Renders the fields, with credentials and cookies redacted, for log lines. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < size; i++) {
            Field f = asField(entries[i]);
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
