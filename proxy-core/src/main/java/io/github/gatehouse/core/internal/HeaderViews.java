package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;

/**
 * Moves header fields between Jetty's fields and the relay's {@link HttpHeaders} without copying them: a header list
 * the relay makes is a view over the {@link HttpField} objects it received (filters read them as they are), and when
 * the list goes out again those same objects are added to the outgoing fields. Only a field a filter writes is a new
 * object.
 *
 * <p>{@link HttpHeaders} binds its side of this bridge when its class initialises, so that its public API names no
 * Jetty type. Thread-safe: stateless after that.
 */
public final class HeaderViews {
    /** The private side of {@link HttpHeaders}; implemented there, and only there. */
    public interface Access {
        /** A header list over {@code fields[0..count)}; the array is given up to the list. */
        HttpHeaders view(Object[] fields, int count);

        /** Appends every field of {@code headers} to {@code to}, passing on the received field objects. */
        void copyTo(HttpHeaders headers, HttpFields.Mutable to);
    }

    private static volatile Access access;

    private HeaderViews() {
    }

    /**
     * Called once, by {@link HttpHeaders}'s static initialiser.
     *
     * @throws IllegalStateException when called a second time
     */
    public static void bind(Access a) {
        if (access != null) {
            throw new IllegalStateException("HeaderViews is already bound");
        }
        access = a;
    }

    /** Appends every field of {@code from} to {@code to}, in order. */
    static void copyTo(HttpHeaders from, HttpFields.Mutable to) {
        access().copyTo(from, to);
    }

    /**
     * A header list over the first {@code count} of {@code fields} ({@link HttpField} objects in an {@code Object[]},
     * so that the list can store its own fields in it), which the caller gives up.
     */
    static HttpHeaders view(Object[] fields, int count) {
        return access().view(fields, count);
    }

    /**
     * The bound access. {@link HttpHeaders} binds it as its class initialises; this class has no initialiser of its
     * own that touches {@link HttpHeaders}, so two threads initialising the two classes cannot deadlock.
     */
    private static Access access() {
        Access a = access;
        if (a == null) {
            new HttpHeaders(); // initialises HttpHeaders, which binds its Access
            a = access;
        }
        return a;
    }
}
