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
import java.util.function.LongToIntFunction;

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
 * origin.enqueue(MockResponse.ok().generatedBody(1L << 30));      // 1 GiB, made as it is written, never held
 * }</pre>
 *
 * <p><b>Framing.</b> A body given with {@link #body} or {@link #generatedBody} is sent with {@code Content-Length};
 * one given with {@link #chunks} is sent with chunked transfer coding, one write per chunk, each flushed before the
 * next. {@link #chunked()} switches any body to chunked coding; a {@code Content-Length} field set with
 * {@link #header} wins over both (the writes stay separate). A generated body is written in
 * {@value #GENERATED_WRITE}-byte pieces, each a "chunk" for {@link #pauseBeforeChunk} and {@link #chunkDelay}.
 * Responses to {@code HEAD} and statuses {@code 1xx}, {@code 204} and {@code 304} carry no body.
 *
 * <p><b>Immutable and thread-safe.</b> Every method returns a new value; the same value may be enqueued many
 * times. Gates ({@link CompletionStage}s) are shared, not copied.
 */
public final class MockResponse {
    /** The size of each write of a {@link #generatedBody}. */
    public static final int GENERATED_WRITE = 64 * 1024;

    /** What the origin does instead of (or in the middle of) answering. */
    enum Fault { NONE, RESET_BEFORE_HEAD, CLOSE_BEFORE_HEAD }

    /** The fields, copied on each change; never mutated once a MockResponse holds them (a final field). */
    static final class Spec implements Cloneable {
        int status;
        List<String[]> headers = List.of();
        List<String[]> trailers = List.of();
        List<byte[]> chunks = List.of();
        long generatedLength = -1;
        LongToIntFunction generator;
        boolean chunked;
        boolean withoutDate;
        Duration headersDelay = Duration.ZERO;
        Duration chunkDelay = Duration.ZERO;
        CompletionStage<?> headGate;
        Map<Integer, CompletionStage<?>> chunkGates = Map.of();
        long abortAfter = -1;
        Fault fault = Fault.NONE;

        Spec copy() {
            try {
                return (Spec) clone();
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }

        /** The number of writes the body takes. */
        int pieceCount() {
            if (generatedLength < 0) {
                return chunks.size();
            }
            return (int) ((generatedLength + GENERATED_WRITE - 1) / GENERATED_WRITE);
        }

        /** Write {@code i} of the body: a chunk, or a piece of the generated body made now. */
        java.nio.ByteBuffer piece(int i) {
            if (generatedLength < 0) {
                return java.nio.ByteBuffer.wrap(chunks.get(i));
            }
            long from = (long) i * GENERATED_WRITE;
            byte[] b = new byte[(int) Math.min(GENERATED_WRITE, generatedLength - from)];
            for (int k = 0; k < b.length; k++) {
                b[k] = (byte) generator.applyAsInt(from + k);
            }
            return java.nio.ByteBuffer.wrap(b);
        }

        long bodyLength() {
            if (generatedLength >= 0) {
                return generatedLength;
            }
            long n = 0;
            for (byte[] c : chunks) {
                n += c.length;
            }
            return n;
        }
    }

    final Spec spec;

    private MockResponse(Spec spec) {
        this.spec = spec;
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
        Spec s = new Spec();
        s.status = status;
        return new MockResponse(s);
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
        return ok().change(s -> s.fault = Fault.RESET_BEFORE_HEAD);
    }

    /** No answer: the origin reads the request, then closes the connection cleanly (FIN) without a byte. */
    public static MockResponse closeBeforeHead() {
        return ok().change(s -> s.fault = Fault.CLOSE_BEFORE_HEAD);
    }

    /** Adds a header field (repeatable: fields of the same name are all sent, in order). */
    @CheckReturnValue
    public MockResponse header(String name, String value) {
        requireNonNull(name, "name");
        requireNonNull(value, "value");
        return change(s -> s.headers = append(s.headers, name, value));
    }

    /**
     * Adds a trailer field, sent after the last chunk: the body goes with chunked transfer coding (as if
     * {@link #chunked()}). Announcing it in a {@code Trailer} header field is up to the script, as for a real origin.
     */
    @CheckReturnValue
    public MockResponse trailer(String name, String value) {
        requireNonNull(name, "name");
        requireNonNull(value, "value");
        return change(s -> {
            s.trailers = append(s.trailers, name, value);
            s.chunked = true;
        });
    }

    /**
     * Sends no {@code Date} field, even when the origin {@linkplain MockOrigin#datesFrom dates its answers}: a
     * response a cache must date itself.
     */
    @CheckReturnValue
    public MockResponse withoutDate() {
        return change(s -> s.withoutDate = true);
    }

    /** The body, UTF-8, sent with {@code Content-Length}. */
    @CheckReturnValue
    public MockResponse body(String body) {
        return body(requireNonNull(body, "body").getBytes(StandardCharsets.UTF_8));
    }

    /** The body, sent with {@code Content-Length} (a copy is kept). */
    @CheckReturnValue
    public MockResponse body(byte[] body) {
        requireNonNull(body, "body");
        return change(s -> {
            s.chunks = List.of(body.clone());
            s.generatedLength = -1;
            s.generator = null;
            s.chunked = false;
        });
    }

    /** The body as chunks (UTF-8), sent with chunked transfer coding, one flushed write per chunk. */
    @CheckReturnValue
    public MockResponse chunks(String... chunks) {
        byte[][] bytes = new byte[chunks.length][];
        for (int i = 0; i < chunks.length; i++) {
            bytes[i] = requireNonNull(chunks[i], "chunk").getBytes(StandardCharsets.UTF_8);
        }
        return chunks(bytes);
    }

    /**
     * The body as chunks of bytes (copies are kept), sent with chunked transfer coding, one flushed write per chunk:
     * a gzip stream split inside its header, a multi-byte character split across writes.
     */
    @CheckReturnValue
    public MockResponse chunks(byte[]... chunks) {
        List<byte[]> c = new ArrayList<>(chunks.length);
        for (byte[] b : chunks) {
            c.add(requireNonNull(b, "chunk").clone());
        }
        return change(s -> {
            s.chunks = List.copyOf(c);
            s.generatedLength = -1;
            s.generator = null;
            s.chunked = true;
        });
    }

    /**
     * A body of {@code length} bytes made while it is written ({@value #GENERATED_WRITE} bytes at a time, each write
     * after the previous one completed), so that a body of gigabytes costs the origin no memory. Byte {@code i} is
     * {@code 'a' + i % 26}.
     *
     * @throws IllegalArgumentException if {@code length} is negative
     */
    @CheckReturnValue
    public MockResponse generatedBody(long length) {
        return generatedBody(length, i -> 'a' + (int) (i % 26));
    }

    /**
     * A body of {@code length} bytes made while it is written, byte {@code i} being the low 8 bits of
     * {@code byteAt.applyAsInt(i)}: text with a keyword at a known offset, say. {@code byteAt} runs on the origin's
     * threads and must be a pure function of {@code i}.
     *
     * @throws IllegalArgumentException if {@code length} is negative
     */
    @CheckReturnValue
    public MockResponse generatedBody(long length, LongToIntFunction byteAt) {
        if (length < 0) {
            throw new IllegalArgumentException("generatedBody: " + length + " (expected: >= 0)");
        }
        requireNonNull(byteAt, "byteAt");
        return change(s -> {
            s.chunks = List.of();
            s.generatedLength = length;
            s.generator = byteAt;
        });
    }

    /** Sends the body (whatever made it) with chunked transfer coding instead of {@code Content-Length}. */
    @CheckReturnValue
    public MockResponse chunked() {
        return change(s -> s.chunked = true);
    }

    /** Waits {@code delay} before sending the response head (timed by the origin, nothing blocks). */
    @CheckReturnValue
    public MockResponse headersDelay(Duration delay) {
        Duration d = checkDelay(delay, "headersDelay");
        return change(s -> s.headersDelay = d);
    }

    /** Waits {@code delay} before each chunk after the first: a slow origin. */
    @CheckReturnValue
    public MockResponse chunkDelay(Duration delay) {
        Duration d = checkDelay(delay, "chunkDelay");
        return change(s -> s.chunkDelay = d);
    }

    /** Holds the whole response until {@code gate} completes (a failed gate fails the answer: the connection closes). */
    @CheckReturnValue
    public MockResponse holdUntil(CompletionStage<?> gate) {
        requireNonNull(gate, "gate");
        return change(s -> s.headGate = gate);
    }

    /**
     * Sends the head and the chunks before {@code index}, then waits for {@code gate} before chunk {@code index}:
     * a body that stalls midway until the test says so. With {@code index} equal to the number of chunks, the body
     * is sent whole and the gate holds its end (the last chunk of a chunked body, or the close of
     * {@link #abortAfter}).
     *
     * @throws IllegalArgumentException if {@code index} is negative
     */
    @CheckReturnValue
    public MockResponse pauseBeforeChunk(int index, CompletionStage<?> gate) {
        if (index < 0) {
            throw new IllegalArgumentException("index: " + index + " (expected: >= 0)");
        }
        requireNonNull(gate, "gate");
        return change(s -> {
            Map<Integer, CompletionStage<?>> g = new TreeMap<>(s.chunkGates);
            g.put(index, gate);
            s.chunkGates = Map.copyOf(g);
        });
    }

    /**
     * Declares the whole body ({@code Content-Length}, unless chunked), sends its first {@code bytes} bytes, then
     * closes the connection: an origin that dies mid-body. The proxy must not pass this off as a complete response.
     * Gates before later chunks still hold the close ({@code chunks("part1", "").abortAfter(5).pauseBeforeChunk(1,
     * gate)} sends {@code part1}, waits for the gate, then dies).
     *
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    @CheckReturnValue
    public MockResponse abortAfter(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("abortAfter: " + bytes + " (expected: >= 0)");
        }
        return change(s -> s.abortAfter = bytes);
    }

    /** The status. */
    public int statusCode() {
        return spec.status;
    }

    /** The body length in bytes (all chunks, or the generated length). */
    public long bodyLength() {
        return spec.bodyLength();
    }

    /** A gate that is open: for scripts that choose a gate per request. */
    public static CompletionStage<Void> open() {
        return CompletableFuture.completedFuture(null);
    }

    private MockResponse change(java.util.function.Consumer<Spec> change) {
        Spec s = spec.copy();
        change.accept(s);
        return new MockResponse(s);
    }

    private static List<String[]> append(List<String[]> fields, String name, String value) {
        List<String[]> h = new ArrayList<>(fields);
        h.add(new String[] {name, value});
        return List.copyOf(h);
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
        return "MockResponse[" + spec.status + ", " + bodyLength() + " bytes" + (spec.chunked ? " chunked" : "")
                + (spec.fault != Fault.NONE ? ", " + spec.fault : "")
                + (spec.abortAfter >= 0 ? ", abort after " + spec.abortAfter : "") + "]";
    }
}
