package io.github.gatehouse.core.testing;

import io.github.gatehouse.core.HttpHeaders;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A request as a {@link MockOrigin} received it: method, target, header fields in order, the body (kept up to
 * {@value #MAX_KEPT_BODY} bytes; {@link #bodySize()} counts all), and which connection it came on.
 *
 * <p><b>Immutable and thread-safe.</b>
 */
public final class RecordedRequest {
    /** Body bytes kept per request; longer bodies are counted, not kept. */
    public static final int MAX_KEPT_BODY = 1 << 20;

    private final String method;
    private final String target;
    private final HttpHeaders headers;
    private final byte[] body;
    private final long bodySize;
    private final Throwable bodyFailure;
    private final String connectionId;
    private final int sequenceNumber;
    private final String protocol;
    private final String clientCertificateSubject;

    RecordedRequest(String method, String target, HttpHeaders headers, byte[] body, long bodySize, Throwable bodyFailure,
            String connectionId, int sequenceNumber, String protocol, String clientCertificateSubject) {
        this.protocol = protocol;
        this.clientCertificateSubject = clientCertificateSubject;
        this.method = method;
        this.target = target;
        this.headers = headers;
        this.body = body;
        this.bodySize = bodySize;
        this.bodyFailure = bodyFailure;
        this.connectionId = connectionId;
        this.sequenceNumber = sequenceNumber;
    }

    /** The method, such as {@code GET}. */
    public String method() {
        return method;
    }

    /** The path and query as received ({@code /a/b?c=d}). */
    public String target() {
        return target;
    }

    /** The path of {@link #target()}, without the query. */
    public String path() {
        int q = target.indexOf('?');
        return q < 0 ? target : target.substring(0, q);
    }

    /**
     * The query parameters of {@link #target()}, percent-decoded (UTF-8, {@code +} as a space), in order: each name
     * with its values in order; a parameter without {@code =} has the value {@code ""}. Empty without a query.
     */
    public Map<String, List<String>> queryParameters() {
        Map<String, List<String>> params = new LinkedHashMap<>();
        int q = target.indexOf('?');
        if (q < 0) {
            return params;
        }
        for (String pair : target.substring(q + 1).split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            params.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
        }
        params.replaceAll((k, v) -> List.copyOf(v));
        return Collections.unmodifiableMap(params);
    }

    /** The first value of query parameter {@code name} (see {@link #queryParameters()}), if present. */
    public Optional<String> queryParameter(String name) {
        List<String> values = queryParameters().get(Objects.requireNonNull(name, "name"));
        return values == null ? Optional.empty() : Optional.of(values.get(0));
    }

    /** The first value of header {@code name} (case-insensitive), if present. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name));
    }

    /** Every value of header {@code name}, in order. */
    public List<String> headers(String name) {
        return headers.getAll(name);
    }

    /** A copy of all header fields, in order. */
    public HttpHeaders headers() {
        return new HttpHeaders(headers);
    }

    /** The body bytes kept (at most {@value #MAX_KEPT_BODY}). */
    public byte[] body() {
        return body.clone();
    }

    /** {@link #body()} as UTF-8. */
    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The number of body bytes received, kept or not. */
    public long bodySize() {
        return bodySize;
    }

    /** Why the body ended before its end (the sender aborted it), or empty when it arrived whole. */
    public Optional<Throwable> bodyFailure() {
        return Optional.ofNullable(bodyFailure);
    }

    /** An id of the connection it came on: equal ids mean the connection was reused. */
    public String connectionId() {
        return connectionId;
    }

    /** The protocol it came on: {@code HTTP/1.1}, {@code HTTP/2.0} (see {@link MockOrigin#enableHttp2()}). */
    public String protocol() {
        return protocol;
    }

    /**
     * The subject of the certificate the client presented over TLS (an RFC 2253 name such as {@code CN=proxy}), if
     * it presented one (see {@link MockOrigin#requireClientCertificates()}).
     */
    public Optional<String> clientCertificateSubject() {
        return Optional.ofNullable(clientCertificateSubject);
    }

    /** 1 for the first request the origin received since it started (or since {@link MockOrigin#reset()}), and so on. */
    public int sequenceNumber() {
        return sequenceNumber;
    }

    @Override
    public String toString() {
        return method + " " + target + " (#" + sequenceNumber + ", " + bodySize + " body bytes)";
    }
}
