package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import org.eclipse.jetty.http.HttpFields;

/** Moves header fields between the relay's {@link HttpHeaders} and Jetty's fields. */
final class HeaderViews {
    private HeaderViews() {
    }

    /** Appends every field of {@code from} to {@code to}, in order. */
    static void copyTo(HttpHeaders from, HttpFields.Mutable to) {
        from.forEachField(to::add);
    }
}
