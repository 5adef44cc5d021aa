package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;

/**
 * What a {@link ProxyFilter} decides about a request: let it proceed, or answer it in the proxy's name.
 *
 * <p>Answers carry a status, a short reason (sent as a plain-text body and written to the log) and optional extra
 * headers. Immutable and thread-safe; {@link #proceed()} is a shared constant.
 */
@CheckReturnValue // immutable: every method that returns a value returns a new one, to be used
public final class Verdict {
    private static final Verdict PROCEED = new Verdict(0, "", new HttpHeaders());

    private final int status;
    private final String reason;
    private final HttpHeaders headers;

    private Verdict(int status, String reason, HttpHeaders headers) {
        this.status = status;
        this.reason = reason;
        this.headers = headers;
    }

    /** Lets the request go on to the next filter, the cache and the upstream. */
    public static Verdict proceed() {
        return PROCEED;
    }

    /**
     * Answers the request with {@code status} and a plain-text body saying {@code reason}; nothing goes upstream.
     *
     * @throws IllegalArgumentException if {@code status} is not in 200..599
     */
    public static Verdict respond(int status, String reason) {
        return respond(status, reason, new HttpHeaders());
    }

    /** As {@link #respond(int, String)}, adding {@code headers} (copied) to the answer. */
    public static Verdict respond(int status, String reason, HttpHeaders headers) {
        checkArgument(status >= 200 && status <= 599, "status: %s (expected: 200..599)", status);
        return new Verdict(status, requireNonNull(reason, "reason"), new HttpHeaders(requireNonNull(headers, "headers")));
    }

    /** Shorthand for a 403 answer naming why the request is denied. */
    public static Verdict deny(String reason) {
        return respond(403, reason);
    }

    /** Whether the request proceeds. */
    public boolean proceeds() {
        return status == 0;
    }

    /** The answer's status; 0 when the request proceeds. */
    public int status() {
        return status;
    }

    /** The answer's reason; empty when the request proceeds. */
    public String reason() {
        return reason;
    }

    /** Extra headers for the answer (a copy). */
    public HttpHeaders headers() {
        return new HttpHeaders(headers);
    }

    @Override
    public String toString() {
        return proceeds() ? "Verdict.proceed" : "Verdict.respond(" + status + ", " + reason + ")";
    }
}
