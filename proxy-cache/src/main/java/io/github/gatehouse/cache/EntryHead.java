package io.github.gatehouse.cache;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.HttpHeaders;
import java.time.Instant;

/**
 * The stored head of a cache entry: status, the response header fields as stored (RFC 9111 §3.1), and the times
 * the age calculation needs (RFC 9111 §4.2.3: {@code request_time}, {@code response_time}).
 *
 * <p>{@code invalidated} marks an entry soft-purged or otherwise made stale: it is never served fresh.
 *
 * <p><b>Threading.</b> Immutable: the headers are copied in and out.
 */
public record EntryHead(int status, HttpHeaders headers, Instant requestTime, Instant responseTime, boolean invalidated) {

    /** Checks and copies the arguments. */
    public EntryHead {
        checkArgument(status >= 200 && status <= 599, "status: %s (expected: 200..599)", status);
        headers = new HttpHeaders(requireNonNull(headers, "headers"));
        requireNonNull(requestTime, "requestTime");
        requireNonNull(responseTime, "responseTime");
    }

    /** A copy of the stored header fields. */
    @Override
    public HttpHeaders headers() {
        return new HttpHeaders(headers);
    }

    /** The first value of the stored field {@code name}, or {@code null}, without copying the headers. */
    public String header(String name) {
        return headers.get(name);
    }

    /** Every line of the stored field {@code name}, in order (empty when absent), without copying the other fields. */
    public java.util.List<String> headerLines(String name) {
        return headers.getAll(name);
    }

    /** This head, marked invalidated. */
    public EntryHead invalidate() {
        return new EntryHead(status, headers, requestTime, responseTime, true);
    }
}
