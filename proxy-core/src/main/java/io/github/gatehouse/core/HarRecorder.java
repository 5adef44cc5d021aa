package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records the exchanges a predicate selects as HAR 1.2 (the HTTP Archive format browsers' developer tools read and
 * write), streaming to a file: each entry is appended when its exchange ends, and the file is a complete, valid HAR
 * document after every entry (the closing brackets are rewritten behind each new entry), so it can be opened while
 * the proxy runs, and certainly once it stops.
 *
 * <p>It observes and changes nothing: add it as the <em>first</em> filter, so that it sees every request that
 * passed authentication and the response head as the client gets it, and wrap the access log with
 * {@link #accessLog(AccessLog)}, which ends each entry with the exchange's status, byte counts and duration:
 *
 * <pre>{@code
 * HarRecorder har = HarRecorder.builder(Path.of("proxy.har"))
 *         .select(exchange -> exchange.request().path().startsWith("/api"))
 *         .bodyLimit(DataSize.kibibytes(64))
 *         .build();
 * ProxyServer.builder().filter(har).accessLog(har.accessLog(AccessLog.slf4j())) ...
 * }</pre>
 *
 * <p><b>What an entry holds.</b> The request as the filters saw it (method, absolute URL, version, headers, query;
 * {@code Host} as the target names it, when the relay regenerates it) with its body size (request bodies are not recorded); the response status and headers; at most
 * {@linkplain Builder#bodyLimit the body limit} of the response body (as text for textual types, else base64; a cut
 * body has {@code "_truncated": true} and {@code content.size} gives the bytes the client got); {@code time} and
 * {@code timings}: {@code blocked} is the time before the filters (authentication), {@code wait} until the response
 * head, {@code receive} the rest; {@code send}, {@code dns} and {@code connect} are not measured (0, -1, -1). The
 * values of {@code Authorization}, {@code Proxy-Authorization}, {@code Cookie} and {@code Set-Cookie} are replaced by
 * {@code "<redacted>"} by default ({@link Builder#redact}), and {@code cookies} lists stay empty. Exchanges answered
 * before the filters run (a 400 for a malformed request, a 407 or 401 challenge) are not recorded.
 *
 * <p><b>Threading.</b> Thread-safe; the file is written by one background thread ({@code gatehouse-har}), never by
 * an I/O thread. When 10,000 entries wait to be written, further ones are dropped and counted (one WARN).
 */
public final class HarRecorder implements ProxyFilter, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HarRecorder.class);
    private static final byte[] TRAILER = "\n]}}\n".getBytes(StandardCharsets.UTF_8);

    private final Path file;
    private final Predicate<Exchange> select;
    private final int bodyLimit;
    private final Set<String> redacted;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final ThreadPoolExecutor writer;
    private final FileChannel channel;
    private final AtomicLong dropped = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger wrappers = new java.util.concurrent.atomic.AtomicInteger();
    private long trailerAt;
    private int written;
    private volatile boolean closed;

    private HarRecorder(Builder b) {
        this.file = b.file;
        this.select = b.select;
        this.bodyLimit = (int) b.bodyLimit.toBytesCapped();
        this.redacted = Set.copyOf(b.redacted);
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
            byte[] head = ("{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"Gatehouse\",\"version\":\""
                    + version() + "\"},\"pages\":[],\"entries\":[").getBytes(StandardCharsets.UTF_8);
            writeFully(ByteBuffer.wrap(head), 0);
            trailerAt = head.length;
            writeFully(ByteBuffer.wrap(TRAILER), trailerAt);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the HAR file " + file, e);
        }
        writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(10_000), r -> {
            Thread t = new Thread(r, "gatehouse-har");
            t.setDaemon(true);
            return t;
        });
    }

    /** A builder for a recorder writing to {@code file} (created, or truncated when it exists). */
    public static Builder builder(Path file) {
        return new Builder(requireNonNull(file, "file"));
    }

    /** The file written. */
    public Path file() {
        return file;
    }

    /** Entries dropped because the writer fell behind. */
    public long dropped() {
        return dropped.get();
    }

    // ---- the filter: request and response heads, response body ----------------------------------------------

    @Override
    public Verdict onRequest(Exchange exchange) {
        if (!closed && select.test(exchange)) {
            pending.put(exchange.id(), new Pending(exchange));
        }
        return Verdict.proceed();
    }

    @Override
    public void onResponse(Exchange exchange, ResponseHead response) {
        Pending p = pending.get(exchange.id());
        if (p != null) {
            p.response(response);
        }
    }

    @Override
    public Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
        Pending p = bodyLimit == 0 ? null : pending.get(exchange.id());
        if (p == null) {
            return Optional.empty();
        }
        return Optional.of(new BodyFilter() {
            @Override
            public ByteBuffer onChunk(ByteBuffer chunk, boolean last, Control control) {
                p.body(chunk, bodyLimit);
                return chunk;
            }

            @Override
            public boolean preservesBytes() {
                return true;
            }
        });
    }

    /**
     * An access log that passes every entry to {@code next} and ends the HAR entry of the exchange. Closing it closes
     * {@code next}, and this recorder once every access log it returned is closed (a server reconfigured with a new
     * access log around the same recorder closes the old one).
     */
    public AccessLog accessLog(AccessLog next) {
        requireNonNull(next, "next");
        wrappers.incrementAndGet();
        java.util.concurrent.atomic.AtomicBoolean wrapperClosed = new java.util.concurrent.atomic.AtomicBoolean();
        return new AccessLog() {
            @Override
            public void log(AccessLogEntry entry) {
                try {
                    next.log(entry);
                } finally {
                    ended(entry);
                }
            }

            @Override
            public void close() {
                if (!wrapperClosed.compareAndSet(false, true)) {
                    return;
                }
                try {
                    next.close();
                } finally {
                    if (wrappers.decrementAndGet() == 0) {
                        HarRecorder.this.close();
                    }
                }
            }

            @Override
            public String toString() {
                return "HAR " + file + " and " + next;
            }
        };
    }

    private void ended(AccessLogEntry entry) {
        Pending p = pending.remove(entry.exchangeId());
        if (p == null || closed) {
            return;
        }
        String json = p.toJson(entry, redacted);
        try {
            writer.execute(() -> append(json));
        } catch (RejectedExecutionException e) {
            if (dropped.getAndIncrement() == 0 && !closed) {
                LOG.warn("HAR {}: the writer fell behind; entries are dropped (the first: {})", file, entry.exchangeId());
            }
        }
    }

    /** The writer thread: the entry goes where the trailer was, and the trailer after it. */
    private void append(String json) {
        byte[] bytes = ((written == 0 ? "\n" : ",\n") + json).getBytes(StandardCharsets.UTF_8);
        try {
            writeFully(ByteBuffer.wrap(bytes), trailerAt);
            writeFully(ByteBuffer.wrap(TRAILER), trailerAt + bytes.length);
            trailerAt += bytes.length;
            written++;
        } catch (IOException e) {
            if (dropped.getAndIncrement() == 0) {
                LOG.warn("HAR {}: cannot write: {}", file, e.toString());
            }
        }
    }

    private void writeFully(ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
    }

    /** Writes what is queued and closes the file (a complete HAR document). Idempotent; blocks up to 10 s. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        writer.shutdown();
        try {
            if (!writer.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("HAR {}: entries still queued after 10 s are lost", file);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            channel.force(false);
            channel.close();
        } catch (IOException e) {
            LOG.warn("HAR {}: cannot close: {}", file, e.toString());
        }
        pending.clear();
    }

    @Override
    public String toString() {
        return "HarRecorder{" + file + "}";
    }

    private static String version() {
        String v = HarRecorder.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    // ---- one exchange ----------------------------------------------------------------------------------------

    /** What one selected exchange has shown so far; its calls never overlap, but come from several threads. */
    private static final class Pending {
        private final Instant started;
        private final long requestNanos = System.nanoTime();
        private final long blockedMillis;
        private final String method;
        private final String url;
        private final String version;
        private final String query;
        private final List<String[]> requestHeaders = new ArrayList<>();
        private int status = -1;
        private List<String[]> responseHeaders;
        private long headNanos;
        private ByteArrayOutputStream body;
        private boolean truncated;

        Pending(Exchange exchange) {
            RequestHead r = exchange.request();
            this.started = exchange.startTime();
            this.blockedMillis = Math.max(0, Duration.between(started, Instant.now()).toMillis());
            this.method = r.method();
            this.url = r.uri().toString();
            this.version = r.version();
            this.query = r.query().orElse(null);
            r.headers().forEachField((name, value) -> requestHeaders.add(new String[] {name, value}));
            if (r.headers().get("Host") == null && !"CONNECT".equals(method)) {
                // the relay regenerates Host from the target: the entry shows the one the target names
                int port = r.uri().getPort();
                requestHeaders.add(0, new String[] {"Host", r.uri().getHost() + (port < 0 ? "" : ":" + port)});
            }
        }

        synchronized void response(ResponseHead response) {
            status = response.status();
            headNanos = System.nanoTime();
            responseHeaders = new ArrayList<>();
            response.headers().forEachField((name, value) -> responseHeaders.add(new String[] {name, value}));
        }

        synchronized void body(ByteBuffer chunk, int limit) {
            if (body == null) {
                body = new ByteArrayOutputStream(Math.min(limit, 8192));
            }
            int room = limit - body.size();
            int n = Math.min(room, chunk.remaining());
            if (n > 0) {
                ByteBuffer view = chunk.duplicate();
                byte[] bytes = new byte[n];
                view.get(bytes);
                body.write(bytes, 0, n);
            }
            if (chunk.remaining() > n) {
                truncated = true;
            }
        }

        synchronized String toJson(AccessLogEntry entry, Set<String> redacted) {
            long total = Math.max(0, entry.duration().toMillis());
            long blocked = Math.min(blockedMillis, total);
            long wait = headNanos == 0 ? 0 : Math.min(total - blocked, Math.max(0, (headNanos - requestNanos) / 1_000_000));
            long receive = total - blocked - wait;
            int code = status >= 0 ? status : entry.status();
            List<String[]> rh = responseHeaders != null ? responseHeaders : List.of();
            String mime = header(rh, "Content-Type");
            StringBuilder j = new StringBuilder(1024);
            j.append("{\"startedDateTime\":").append(str(started.toString()))
                    .append(",\"time\":").append(total)
                    .append(",\"request\":{\"method\":").append(str(method))
                    .append(",\"url\":").append(str(url))
                    .append(",\"httpVersion\":").append(str(version))
                    .append(",\"cookies\":[],\"headers\":");
            headers(j, requestHeaders, redacted);
            j.append(",\"queryString\":[");
            if (query != null && !query.isEmpty()) {
                boolean first = true;
                for (String pair : query.split("&")) {
                    int eq = pair.indexOf('=');
                    j.append(first ? "" : ",").append("{\"name\":").append(str(decode(eq < 0 ? pair : pair.substring(0, eq))))
                            .append(",\"value\":").append(str(eq < 0 ? "" : decode(pair.substring(eq + 1)))).append('}');
                    first = false;
                }
            }
            j.append("],\"headersSize\":-1,\"bodySize\":").append(entry.bytesIn()).append('}');
            j.append(",\"response\":{\"status\":").append(code)
                    .append(",\"statusText\":\"\",\"httpVersion\":").append(str(entry.protocol()))
                    .append(",\"cookies\":[],\"headers\":");
            headers(j, rh, redacted);
            j.append(",\"content\":{\"size\":").append(entry.bytesOut())
                    .append(",\"mimeType\":").append(str(mime != null ? mime : ""));
            if (body != null) {
                byte[] bytes = body.toByteArray();
                if (textual(mime) && header(rh, "Content-Encoding") == null) {
                    j.append(",\"text\":").append(str(new String(bytes, charset(mime))));
                } else {
                    j.append(",\"text\":").append(str(Base64.getEncoder().encodeToString(bytes)))
                            .append(",\"encoding\":\"base64\"");
                }
                if (truncated) {
                    j.append(",\"_truncated\":true");
                }
                j.append(",\"_recorded\":").append(bytes.length);
            }
            String location = header(rh, "Location");
            j.append("},\"redirectURL\":").append(str(location != null ? location : ""))
                    .append(",\"headersSize\":-1,\"bodySize\":").append(entry.bytesOut()).append('}');
            j.append(",\"cache\":{},\"timings\":{\"blocked\":").append(blocked)
                    .append(",\"dns\":-1,\"connect\":-1,\"send\":0,\"wait\":").append(wait)
                    .append(",\"receive\":").append(receive).append('}');
            j.append(",\"_exchangeId\":").append(str(entry.exchangeId()));
            if (entry.upstream() != null) {
                j.append(",\"_upstream\":").append(str(entry.upstream()));
            }
            if (entry.cacheStatus() != null) {
                j.append(",\"_cacheStatus\":").append(str(entry.cacheStatus().name()));
            }
            if (entry.reason() != null) {
                j.append(",\"_reason\":").append(str(entry.reason()));
            }
            return j.append('}').toString();
        }
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    private static void headers(StringBuilder j, List<String[]> headers, Set<String> redacted) {
        j.append('[');
        for (int i = 0; i < headers.size(); i++) {
            String[] h = headers.get(i);
            boolean secret = redacted.contains(h[0].toLowerCase(Locale.ROOT));
            j.append(i == 0 ? "" : ",").append("{\"name\":").append(str(h[0])).append(",\"value\":")
                    .append(str(secret ? "<redacted>" : h[1])).append('}');
        }
        j.append(']');
    }

    private static String header(List<String[]> headers, String name) {
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    private static boolean textual(String mime) {
        if (mime == null) {
            return false;
        }
        String m = mime.toLowerCase(Locale.ROOT);
        return m.startsWith("text/") || m.contains("json") || m.contains("xml") || m.contains("javascript")
                || m.startsWith("application/x-www-form-urlencoded");
    }

    private static Charset charset(String mime) {
        int i = mime.toLowerCase(Locale.ROOT).indexOf("charset=");
        if (i >= 0) {
            String name = mime.substring(i + 8).split(";")[0].trim().replace("\"", "");
            try {
                return Charset.forName(name);
            } catch (RuntimeException e) {
                return StandardCharsets.UTF_8;
            }
        }
        return StandardCharsets.UTF_8;
    }

    /** A JSON string literal. */
    private static String str(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** Configures a {@link HarRecorder}. Not thread-safe. */
    public static final class Builder {
        private final Path file;
        private Predicate<Exchange> select = exchange -> true;
        private DataSize bodyLimit = DataSize.kibibytes(64);
        private final Set<String> redacted = new TreeSet<>(Set.of("authorization", "proxy-authorization", "cookie",
                "set-cookie"));

        private Builder(Path file) {
            this.file = file;
        }

        /** Records only the exchanges {@code predicate} accepts (tested once, when the request passed the filters before). */
        public Builder select(Predicate<Exchange> predicate) {
            this.select = requireNonNull(predicate, "predicate");
            return this;
        }

        /** The most response body bytes kept per entry (64 KiB by default; 0 records no body). */
        public Builder bodyLimit(DataSize limit) {
            requireNonNull(limit, "limit");
            checkArgument(limit.toBytes() <= 64L << 20, "HAR body limit: %s (expected: 0..64MiB)", limit);
            this.bodyLimit = limit;
            return this;
        }

        /**
         * Header fields whose values are written as {@code <redacted>}, in addition to the default
         * {@code Authorization}, {@code Proxy-Authorization}, {@code Cookie} and {@code Set-Cookie}.
         */
        public Builder redact(String... names) {
            for (String n : requireNonNull(names, "names")) {
                redacted.add(n.toLowerCase(Locale.ROOT));
            }
            return this;
        }

        /**
         * Writes the default credential and cookie fields as they are (for a debugging set-up where the HAR file is
         * as private as the traffic); fields given to {@link #redact} stay redacted.
         */
        public Builder keepCredentials() {
            redacted.removeAll(Set.of("authorization", "proxy-authorization", "cookie", "set-cookie"));
            return this;
        }

        /**
         * Opens the file and writes an empty HAR document to it.
         *
         * @throws UncheckedIOException if the file cannot be written
         */
        public HarRecorder build() {
            return new HarRecorder(this);
        }
    }
}
