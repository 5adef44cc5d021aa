package io.github.gatehouse.core.testing;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.CheckReturnValue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One answer a {@link MockOrigin} gives: status, header fields, a body in one or more chunks, and optionally
 * delays, gates and faults.
 *
 * <pre>{@code
 * origin.enqueue(MockResponse.ok("hello").header("Cache-Control", "max-age=60"));
 * origin.enqueue(MockResponse.status(503).header("Retry-After", "1"));
 * origin.enqueue(MockResponse.ok().chunks("part1-", "part2").pauseBeforeChunk(1, gate));   // chunked, held midway
 * origin.enqueue(MockResponse.ok("0123456789").abortAfter(4));    // Content-Length: 10, 4 bytes, then the close
 * origin.enqueue(MockResponse.resetBeforeHead());                 // reads the request, answers with a TCP reset
 * }</pre>
 *
 * <p>A body given with {@link #body} is sent with {@code Content-Length}; one given with {@link #chunks} is sent
 * with chunked transfer coding, one write per chunk, each flushed before the next. Responses to {@code HEAD} and
 * statuses {@code 204} and {@code 304} carry no body.
 *
 * <p><b>Immutable and thread-safe.</b> Every method returns a new value; the same value may be enqueued many
 * times. Gates ({@link CompletionStage}s) are shared, not copied.
 */
public final class MockResponse {

    /** What the origin does instead of (or in the middle of) answering. */
    enum Fault { NONE, RESET_BEFORE_HEAD, CLOSE_BEFORE_HEAD }

    final int status;
    final List<String[]> headers;
    final List<byte[]> chunks;
    final boolean chunked;
    final Duration headersDelay;
    final Duration chunkDelay;
    final CompletionStage<?> headGate;
    final Map<Integer, CompletionStage<?>> chunkGates;
    final long abortAfter;
    final Fault fault;

    private MockResponse(int status, List<String[]> headers, List<byte[]> chunks, boolean chunked, Duration headersDelay,
            Duration chunkDelay, CompletionStage<?> headGate, Map<Integer, CompletionStage<?>> chunkGates, long abortAfter,
            Fault fault) {
        this.status = status;
        this.headers = headers;
        this.chunks = chunks;
        this.chunked = chunked;
        this.headersDelay = headersDelay;
        this.chunkDelay = chunkDelay;
        this.headGate = headGate;
        this.chunkGates = chunkGates;
        this.abortAfter = abortAfter;
        this.fault = fault;
    }

    /**
     * An answer with {@code status} and no body.
     *
     * @throws IllegalArgumentException if {@code status} is not 100..599
     */
    public static MockResponse status(int status) {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 100..599)");
        }
        return new MockResponse(status, List.of(), List.of(), false, Duration.ZERO, Duration.ZERO, null, Map.of(), -1,
                Fault.NONE);
    }

    /** {@code 200} with no body. */
    public static MockResponse ok() {
        return status(200);
    }

    /** {@code 200} with {@code body} (UTF-8) and {@code Content-Type: text/plain;charset=utf-8}. */
    public static MockResponse ok(String body) {
        return ok().header("Content-Type", "text/plain;charset=utf-8").body(body);
    }

    /**
     * No answer: the origin reads the request, then resets the connection (TCP RST), as a crashed or firewalled
     * server does. The proxy sees a failure before any response byte.
     */
    public static MockResponse resetBeforeHead() {
        return ok().with(Fault.RESET_BEFORE_HEAD);
    }

    /** No answer: the origin reads the request, then closes the connection cleanly (FIN) without a byte. */
    public static MockResponse closeBeforeHead() {
        return ok().with(Fault.CLOSE_BEFORE_HEAD);
    }

    /** Adds a header field (repeatable: fields of the same name are all sent, in order). */
    @CheckReturnValue
    public MockResponse header(String name, String value) {
        requireNonNull(name, "name");
        requireNonNull(value, "value");
        List<String[]> h = new ArrayList<>(headers);
        h.add(new String[] {name, value});
        return new MockResponse(status, List.copyOf(h), chunks, chunked, headersDelay, chunkDelay, headGate, chunkGates,
                abortAfter, fault);
    }

    /** The body, UTF-8, sent with {@code Content-Length}. */
    @CheckReturnValue
    public MockResponse body(String body) {
        return body(requireNonNull(body, "body").getBytes(StandardCharsets.UTF_8));
    }

    /** The body, sent with {@code Content-Length}. */
    @CheckReturnValue
    public MockResponse body(byte[] body) {
        requireNonNull(body, "body");
        return new MockResponse(status, headers, List.of(body.clone()), false, headersDelay, chunkDelay, headGate,
                chunkGates, abortAfter, fault);
    }

    /** The body as chunks (UTF-8), sent with chunked transfer coding, one flushed write per chunk. */
    @CheckReturnValue
    public MockResponse chunks(String... chunks) {
        List<byte[]> c = new ArrayList<>(chunks.length);
        for (String s : chunks) {
            c.add(requireNonNull(s, "chunk").getBytes(StandardCharsets.UTF_8));
        }
        return new MockResponse(status, headers, List.copyOf(c), true, headersDelay, chunkDelay, headGate, chunkGates,
                abortAfter, fault);
    }

    /** Waits {@code delay} before sending the response head (timed by the origin, nothing blocks). */
    @CheckReturnValue
    public MockResponse headersDelay(Duration delay) {
        return new MockResponse(status, headers, chunks, chunked, checkDelay(delay, "headersDelay"), chunkDelay, headGate,
                chunkGates, abortAfter, fault);
    }

    /** Waits {@code delay} before each chunk after the first: a slow origin. */
    @CheckReturnValue
    public MockResponse chunkDelay(Duration delay) {
        return new MockResponse(status, headers, chunks, chunked, headersDelay, checkDelay(delay, "chunkDelay"), headGate,
                chunkGates, abortAfter, fault);
    }

    /** Holds the whole response until {@code gate} completes (a failed gate fails the answer: the connection closes). */
    @CheckReturnValue
    public MockResponse holdUntil(CompletionStage<?> gate) {
        return new MockResponse(status, headers, chunks, chunked, headersDelay, chunkDelay, requireNonNull(gate, "gate"),
                chunkGates, abortAfter, fault);
    }

    /**
     * Sends the head and the chunks before {@code index}, then waits for {@code gate} before chunk {@code index}:
     * a body that stalls midway until the test says so.
     *
     * @throws IllegalArgumentException if {@code index} is negative
     */
    @CheckReturnValue
    public MockResponse pauseBeforeChunk(int index, CompletionStage<?> gate) {
        if (index < 0) {
            throw new IllegalArgumentException("index: " + index + " (expected: >= 0)");
        }
        Map<Integer, CompletionStage<?>> g = new TreeMap<>(chunkGates);
        g.put(index, requireNonNull(gate, "gate"));
        return new MockResponse(status, headers, chunks, chunked, headersDelay, chunkDelay, headGate, Map.copyOf(g),
                abortAfter, fault);
    }

    /**
     * Declares the whole body ({@code Content-Length}, unless chunked), sends its first {@code bytes} bytes, then
     * closes the connection: an origin that dies mid-body. The proxy must not pass this off as a complete response.
     *
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    @CheckReturnValue
    public MockResponse abortAfter(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("abortAfter: " + bytes + " (expected: >= 0)");
        }
        return new MockResponse(status, headers, chunks, chunked, headersDelay, chunkDelay, headGate, chunkGates, bytes,
                fault);
    }

    /** The status. */
    public int statusCode() {
        return status;
    }

    /** The body length in bytes (all chunks). */
    public long bodyLength() {
        long n = 0;
        for (byte[] c : chunks) {
            n += c.length;
        }
        return n;
    }

    /** A gate that is open: for scripts that choose a gate per request. */
    public static CompletionStage<Void> open() {
        return CompletableFuture.completedFuture(null);
    }

    private MockResponse with(Fault f) {
        return new MockResponse(status, headers, chunks, chunked, headersDelay, chunkDelay, headGate, chunkGates,
                abortAfter, f);
    }

    private static Duration checkDelay(Duration delay, String what) {
        requireNonNull(delay, what);
        if (delay.isNegative()) {
            throw new IllegalArgumentException(what + ": " + delay + " (expected: >= 0)");
        }
        return delay;
    }

    @Override
    public String toString() {
        return "MockResponse[" + status + ", " + bodyLength() + " bytes" + (chunked ? " chunked" : "")
                + (fault != Fault.NONE ? ", " + fault : "") + (abortAfter >= 0 ? ", abort after " + abortAfter : "") + "]";
    }
}
