package io.github.gatehouse.cache.internal;

import io.github.gatehouse.core.CacheStatus;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Serving stored responses: the headers a stored response is served with ({@code Age}, {@code Cache-Status}, withheld
 * fields), answers to the client's own conditional requests (RFC 9110 §13) and range requests (RFC 9110 §14, one
 * range or several as {@code multipart/byteranges}) from a complete entry, the validators a revalidation sends
 * (RFC 9111 §4.3.1), and the cache's own short answers (403, 404, 504).
 *
 * <p><b>Threading.</b> Stateless apart from the configuration and the (thread-safe) counters; safe from any thread.
 */
final class Responder {
    private final CacheConfig config;
    private final Counters counters;

    Responder(CacheConfig config, Counters counters) {
        this.config = config;
        this.counters = counters;
    }

    /** Serves {@code entry}; {@code cacheStatus} is this cache's Cache-Status parameters (without its name). */
    CachedResponse respond(Exchange exchange, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals) {
        return respond(exchange, exchange.request().headers(), entry, now, cacheStatus, answerConditionals);
    }

    /** Serves {@code entry}, answering the conditional and range headers in {@code req} (the client's). */
    CachedResponse respond(Exchange exchange, HttpHeaders req, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals) {
        return respond(exchange, req, entry, now, cacheStatus, answerConditionals, null);
    }

    /** As above, adding {@code own} (fields the origin just sent this client and the cache did not store), if any. */
    CachedResponse respond(Exchange exchange, HttpHeaders req, StoredEntry entry, Instant now, String cacheStatus,
            boolean answerConditionals, HttpHeaders own) {
        EntryHead head = entry.head();
        Duration age = Freshness.currentAge(head.headers(), head.requestTime(), head.responseTime(), now);
        HttpHeaders headers = clientHeaders(head, age);
        if (own != null) {
            own.forEachField(headers::add);
        }
        addCacheStatus(headers, config.name() + "; " + cacheStatus);
        RequestHead request = exchange.request();
        long length = entry.bodyLength();
        if (answerConditionals && head.status() == 200 && notModified(req, head)) {
            headers.remove("Content-Length");
            return new CachedResponse(304, headers, ChunkedBody.of(List.of()).publisher());
        }
        if (head.status() == 200 && request.method().equals("GET") && req.contains("Range") && ifRangeMatches(req, head)) {
            List<Ranges.Span> wanted = Ranges.parse(req.get("Range"), length);
            if (wanted != null && wanted.isEmpty()) {
                HttpHeaders h = new HttpHeaders(headers);
                h.set("Content-Range", "bytes */" + length);
                h.set("Content-Length", "0");
                return new CachedResponse(416, h, ChunkedBody.of(List.of()).publisher());
            }
            if (wanted != null && wanted.size() <= Ranges.MAX_PARTS) { // more parts are not worth it: the 200 below
                return PartialContent.answer(headers, wanted, length, s -> counters.counting(entry.body(s.start(), s.length())));
            }
        }
        headers.set("Content-Length", Long.toString(length));
        return new CachedResponse(head.status(), headers, counters.counting(entry.body(0, length)));
    }

    /** The stored fields as served from the cache to any client. */
    HttpHeaders clientHeaders(EntryHead head, Duration age) {
        HttpHeaders headers = head.headers();
        if (!config.replaySetCookie()) {
            headers.remove("Set-Cookie"); // also for entries stored while replaying was on (a reopened disk store)
        }
        headers.set("Age", Long.toString(age.getSeconds()));
        if (config.tagHeader() != null) {
            headers.remove(config.tagHeader());
        }
        return headers;
    }

    void stripTagHeader(HttpHeaders headers) {
        if (config.tagHeader() != null) {
            headers.remove(config.tagHeader());
        }
    }

    /**
     * Appends {@code member} after the {@code Cache-Status} members already there, of whatever name: for an answer a
     * cache peer's cache (which may have this cache's name) made.
     */
    void appendCacheStatus(HttpHeaders headers, String member) {
        List<String> kept = new ArrayList<>(headers.getTokens("Cache-Status"));
        kept.add(member);
        headers.set("Cache-Status", String.join(", ", kept));
    }

    void addCacheStatus(HttpHeaders headers, String member) {
        List<String> kept = new ArrayList<>();
        for (String m : headers.getTokens("Cache-Status")) {
            String name = m.split(";", 2)[0].trim();
            if (!name.equalsIgnoreCase(config.name())) {
                kept.add(m);
            }
        }
        kept.add(member);
        headers.set("Cache-Status", String.join(", ", kept));
    }

    /** Whether the client's If-None-Match / If-Modified-Since match the stored response (RFC 9110 §13.2.2). */
    static boolean notModified(HttpHeaders req, EntryHead head) {
        List<String> inm = req.getTokens("If-None-Match");
        if (!inm.isEmpty()) {
            String etag = head.header("ETag");
            for (String candidate : inm) {
                if (candidate.equals("*") || (etag != null && weakEquals(candidate, etag))) {
                    return true;
                }
            }
            return false;
        }
        Instant ims = HttpDates.parse(req.get("If-Modified-Since"));
        if (ims == null) {
            return false;
        }
        Instant lastModified = HttpDates.parse(head.header("Last-Modified"));
        if (lastModified == null) {
            lastModified = HttpDates.parse(head.header("Date"));
        }
        return lastModified != null && !lastModified.isAfter(ims);
    }

    private static boolean weakEquals(String a, String b) {
        return stripWeak(a.trim()).equals(stripWeak(b.trim()));
    }

    private static String stripWeak(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }

    static boolean ifRangeMatches(HttpHeaders req, EntryHead head) {
        String ifRange = req.get("If-Range");
        if (ifRange == null) {
            return true;
        }
        String v = ifRange.trim();
        if (v.startsWith("\"") || v.startsWith("W/")) {
            String etag = head.header("ETag");
            return etag != null && !v.startsWith("W/") && !etag.startsWith("W/") && v.equals(etag.trim());
        }
        Instant date = HttpDates.parse(v);
        Instant lastModified = HttpDates.parse(head.header("Last-Modified"));
        return date != null && date.equals(lastModified);
    }

    CachedResponse synthetic(int status, String text, String cacheStatus) {
        byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
        HttpHeaders h = new HttpHeaders()
                .add("Content-Type", "text/plain; charset=utf-8")
                .add("Content-Length", Integer.toString(body.length))
                .add("Cache-Control", "no-store")
                .add("Cache-Status", cacheStatus);
        return new CachedResponse(status, h, ChunkedBody.of(List.of(ByteBuffer.wrap(body))).publisher());
    }


    static HttpHeaders validators(EntryHead head) {
        HttpHeaders conditional = new HttpHeaders();
        String etag = head.header("ETag");
        if (etag != null) {
            conditional.add("If-None-Match", etag);
        }
        String lastModified = head.header("Last-Modified");
        if (lastModified != null && HttpDates.parse(lastModified) != null) {
            conditional.add("If-Modified-Since", lastModified);
        }
        return conditional;
    }
}
