package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import java.net.URI;
import java.util.Locale;
import java.util.Set;

/**
 * The head of a background revalidation: a {@code GET} for the client's target with the client's fields as the
 * request filters left them, minus its own conditionals and ranges (the cache validates its whole entry, and adds the
 * entry's validators through the lookup). Made while the client's exchange is in progress, as a copy.
 *
 * <p><b>Threading.</b> Immutable but for {@link #headers()}, which the relay copies before it sends.
 */
record RevalidationRequest(URI uri, String scheme, String host, int port, String path, java.util.Optional<String> query,
        HttpHeaders headers) implements RequestHead {
    /** The client's fields a revalidation does not repeat. */
    private static final Set<String> DROPPED = Set.of("if-none-match", "if-modified-since", "if-range", "range",
            "if-match", "if-unmodified-since", "expect");

    static RevalidationRequest of(RequestHead client) {
        HttpHeaders headers = new HttpHeaders();
        client.headers().forEachField((name, value) -> {
            if (!DROPPED.contains(name.toLowerCase(Locale.ROOT))) {
                headers.add(name, value);
            }
        });
        return new RevalidationRequest(client.uri(), client.scheme(), client.host(), client.port(), client.path(),
                client.query(), headers);
    }

    @Override
    public String method() {
        return "GET";
    }

    @Override
    public void uri(URI uri) {
        throw new UnsupportedOperationException("a revalidation's target is its entry's");
    }

    @Override
    public String version() {
        return "HTTP/1.1";
    }
}
