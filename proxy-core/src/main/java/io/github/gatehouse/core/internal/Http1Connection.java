package io.github.gatehouse.core.internal;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpGenerator;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/1.1 connection to an upstream, carrying one exchange at a time: the lean upstream transport of the relay
 * (see {@link Http1Upstream}). The request head is written from the relay's fields, the body streams from the client
 * request with backpressure (a chunk is read only once the previous one is written), and Jetty's {@link HttpParser}
 * reads the response: it alone judges framing, nothing here parses HTTP by hand.
 *
 * <p><b>Buffers.</b> A busy connection reads into a direct input buffer of {@link Http1Upstream.InputBuffers}
 * (64 KiB: a 100 KiB body is two reads, and neither the read nor the client write copies it through a heap array). It
 * takes one when an exchange starts and gives it back when the exchange ended cleanly, after the listener demanded
 * past its last content; an exchange that failed drops its buffer instead, as a client write may still read from it,
 * so no late touch can corrupt another exchange. Idle connections hold none. The head buffer is the connection's own.
 * A body chunk handed to the {@link Listener} is a view into the input buffer and stays valid until the listener
 * calls {@link #demand()}: only then is the buffer parsed further or refilled.
 *
 * <p><b>Lifecycle.</b> Idle in its pool, the connection keeps read interest, so an upstream close (or stray bytes)
 * is seen at once and the connection leaves the pool. An exchange ends when both its response and its request
 * have ended; the connection then goes back to the pool if both sides allow persistence, else it is closed.
 *
 * <p><b>Threading.</b> Selector, write-callback and client threads call in. Everything one exchange owns (its
 * request, listener, progress and completion) lives in its own {@code Exchange} object, so a late callback of an
 * exchange that has ended (a write confirmation, a demand) can never act on the next exchange the connection
 * carries. Parsing is serialized: every wake-up (read interest, demand) goes through one work-in-progress counter,
 * so exactly one thread parses at a time, and a wake-up that comes while another thread parses makes that thread
 * take one more pass instead of parsing beside it.
 */
final class Http1Connection extends AbstractConnection implements HttpParser.ResponseHandler {
    private static final Logger LOG = LoggerFactory.getLogger(Http1Connection.class);
    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] LAST_CHUNK = {'0', '\r', '\n', '\r', '\n'};
    private static final byte[] CRLF_LAST = {'\r', '\n', '0', '\r', '\n', '\r', '\n'};
    private static final byte[] HTTP11 = " HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRANSFER_CHUNKED = "Transfer-Encoding: chunked\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CONTENT_LENGTH = "Content-Length: ".getBytes(StandardCharsets.US_ASCII);
    private static final int IDLE = 0;
    private static final int BUSY = 1;
    private static final int CLOSED = 2;

    /** The exchange's side of a connection: what the relay hears. Events come one at a time, in this order. */
    interface Listener {
        /** The request has been written whole. */
        void requestSent();

        /** An interim (1xx other than 101) response. */
        void interim(int status, HttpFields fields);

        /** The final response head; the listener may {@link Http1Connection#abort} here. */
        void head(int status, HttpVersion version, HttpFields fields);

        /** Body bytes, valid until the listener calls {@link Http1Connection#demand}. */
        void content(ByteBuffer data);

        /** The response body is whole; {@code trailers} may be null. */
        void success(HttpFields trailers);

        /**
         * The exchange is over: both failures null on success. {@code requestFailure} is set when the request side
         * failed (for example a malformed client body), {@code failure} is the first failure of either side.
         */
        void complete(Throwable requestFailure, Throwable failure);
    }

    /** What one exchange sends: the head fields, the body and its framing. */
    record Request(String method, String pathQuery, HttpFields fields, Content.Source body, byte[] bytes, long length,
            boolean head) {
    }

    private final Http1Upstream.Pool pool;
    private final HttpParser parser;
    private final Http1Upstream.InputBuffers inputBuffers;
    /** The busy exchange's input buffer (see the class comment); null while idle. Read by the parsing thread only. */
    private ByteBuffer input;
    private final ByteBuffer chunkLine = ByteBuffer.allocate(16);
    private final AtomicInteger state = new AtomicInteger(IDLE);
    /** Wake-ups of the parser not yet taken; the thread that raises it from 0 parses (see {@link #wake}). */
    private final AtomicInteger parseWip = new AtomicInteger();
    private ByteBuffer headBuffer;
    private int requests;
    /** The exchange in progress, null while idle. */
    private volatile Exchange current;

    // response parsing: written and read only by the one thread that parses
    private int status;
    private HttpVersion version;
    private HttpFields.Mutable fields;
    private HttpFields.Mutable trailers;
    private ByteBuffer content;
    private boolean lastContent;
    private int event;
    private static final int EV_NONE = 0;
    private static final int EV_HEAD = 1;
    private static final int EV_CONTENT = 2;
    private static final int EV_DONE = 3;
    private static final int EV_INTERIM = 4;
    private static final int EV_FAIL = 5;

    /**
     * Who drives the parser after a content delivery: {@code NO_DEMAND} while nobody waits, {@code DELIVERING} while
     * the listener has the chunk on this stack (a demand then only marks {@code DEMANDED}, and the delivering thread
     * goes on, so held-back chunks loop instead of recursing), {@code WAITING} once it returned without demand (the
     * demand then wakes the parser).
     */
    private final AtomicInteger demand = new AtomicInteger();
    private static final int NO_DEMAND = 0;
    private static final int DELIVERING = 1;
    private static final int DEMANDED = 2;
    private static final int WAITING = 3;

    /** Read interest; blocking, so Jetty runs the relay's work (filters, cache, client writes) off the selector. */
    private final Callback readInterest = new Callback() {
        @Override
        public void succeeded() {
            onFillable();
        }

        @Override
        public void failed(Throwable x) {
            onFillInterestedFailed(x);
        }
    };

    Http1Connection(EndPoint endPoint, java.util.concurrent.Executor executor, Http1Upstream.Pool pool,
            int maxResponseHeaderSize, Http1Upstream.InputBuffers inputBuffers) {
        super(endPoint, executor);
        this.pool = pool;
        this.parser = new HttpParser(this, maxResponseHeaderSize, HttpCompliance.RFC9110);
        this.parser.setHeaderCacheCaseSensitive(true); // values pass byte for byte on reused connections
        this.inputBuffers = inputBuffers;
        this.headBuffer = ByteBuffer.allocate(8192);
    }

    /** One exchange on this connection: its request, its listener, its progress; its own write and demand callback. */
    private final class Exchange implements Callback, Runnable {
        final Request request;
        final Listener listener;
        final AtomicInteger completed = new AtomicInteger();
        final AtomicInteger bodyWip = new AtomicInteger();
        volatile boolean requestDone;
        volatile boolean responseDone;
        volatile boolean persistent = true;
        volatile Throwable failure;
        volatile Throwable requestFailure;
        volatile Content.Chunk writing;
        ByteBuffer pendingHead;
        boolean chunked;
        /** The response's trailers, set before {@link #responseDone}; may be null. */
        HttpFields trailers;
        /** This exchange told its pool that the connection is about to come back (see {@link #retract}). */
        final java.util.concurrent.atomic.AtomicBoolean announced = new java.util.concurrent.atomic.AtomicBoolean();

        Exchange(Request request, Listener listener) {
            this.request = request;
            this.listener = listener;
        }

        boolean ended() {
            return completed.get() != 0 || failure != null;
        }

        /** A write completed: the head of a request without a streamed body, or a body chunk (with the head). */
        @Override
        public void succeeded() {
            Content.Chunk c = writing;
            if (c == null) {
                requestEnded(this);
                return;
            }
            writing = null;
            boolean last = c.isLast();
            c.release();
            if (last) {
                requestEnded(this);
            } else {
                nextBody(this);
            }
        }

        @Override
        public void failed(Throwable x) {
            Content.Chunk c = writing;
            writing = null;
            if (c != null) {
                c.release();
            }
            fail(this, x, false);
        }

        /** The client's body has more. */
        @Override
        public void run() {
            nextBody(this);
        }

        @Override
        public InvocationType getInvocationType() {
            return InvocationType.NON_BLOCKING;
        }
    }

    @Override
    public void onOpen() {
        super.onOpen();
        pool.opened(this);
    }

    boolean isIdleAndOpen() {
        return state.get() == IDLE && getEndPoint().isOpen();
    }

    /** Takes the idle connection for an exchange; false if it closed meanwhile. */
    boolean activate() {
        return state.compareAndSet(IDLE, BUSY);
    }

    /** Back to the pool unused: the exchange it was taken for ended while it waited. */
    void giveBack() {
        if (state.compareAndSet(BUSY, IDLE)) {
            tryFillInterested(readInterest);
            pool.release(this);
        }
    }

    // ---- sending -------------------------------------------------------------------------------------------

    /** Starts an exchange on this (activated) connection. */
    void send(Request request, Listener listener) {
        Exchange ex = new Exchange(request, listener);
        requests++;
        demand.set(NO_DEMAND);
        parser.setHeadResponse(request.head());
        if (input == null) {
            input = inputBuffers.take(); // published to the parsing thread by the volatile write of current
        }
        current = ex;
        ByteBuffer head;
        try {
            head = generateHead(ex);
        } catch (RuntimeException e) {
            fail(ex, e, true);
            return;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} sending {} {}", this, request.method(), request.pathQuery());
        }
        if (request.body() != null) {
            // The head goes out with the first body bytes, never before them: a body the server side finds malformed
            // (a bad chunk) fails the exchange before the upstream has seen any of it.
            ex.pendingHead = head;
            nextBody(ex);
        } else if (request.bytes() != null && request.bytes().length > 0) {
            getEndPoint().write(ex, head, ByteBuffer.wrap(request.bytes()));
        } else {
            getEndPoint().write(ex, head);
        }
        // the response may start before the request body ends (an early answer): read from now on
        tryFillInterested(readInterest);
    }

    private ByteBuffer generateHead(Exchange ex) {
        Request r = ex.request;
        while (true) {
            ByteBuffer b = headBuffer;
            b.clear();
            try {
                b.put(r.method().getBytes(StandardCharsets.US_ASCII)).put((byte) ' ');
                putAscii(b, r.pathQuery());
                b.put(HTTP11);
                HttpFields f = r.fields();
                for (int i = 0, n = f.size(); i < n; i++) {
                    HttpGenerator.putTo(f.getField(i), b);
                }
                if (r.bytes() != null) {
                    putLength(b, r.bytes().length);
                } else if (r.body() != null) {
                    if (r.length() >= 0) {
                        putLength(b, r.length());
                    } else {
                        ex.chunked = true;
                        b.put(TRANSFER_CHUNKED);
                    }
                }
                b.put(CRLF);
                b.flip();
                return b;
            } catch (java.nio.BufferOverflowException e) {
                if (b.capacity() >= 1024 * 1024) {
                    throw new IllegalStateException("request head too large");
                }
                headBuffer = ByteBuffer.allocate(b.capacity() * 2);
            }
        }
    }

    private static void putLength(ByteBuffer b, long length) {
        b.put(CONTENT_LENGTH);
        BufferUtil.putDecLong(b, length);
        b.put(CRLF);
    }

    /** The request target as the parser gave it (ASCII); anything else is replaced, never passed raw. */
    private static void putAscii(ByteBuffer b, String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            b.put(c > 0x20 && c < 0x7f ? (byte) c : (byte) '?');
        }
    }

    /**
     * Streams the client's body: one chunk read, written, released, then the next; a demand when none is ready. A
     * callback that comes while a step is on the stack only counts, and the loop takes one more step for it.
     */
    private void nextBody(Exchange ex) {
        if (ex.bodyWip.getAndIncrement() != 0) {
            return;
        }
        do {
            stepBody(ex);
        } while (ex.bodyWip.decrementAndGet() != 0);
    }

    /** Starts one write or one demand, skipping empty chunks; or nothing, once the exchange has ended. */
    private void stepBody(Exchange ex) {
        while (true) {
            if (ex.ended() || ex.requestDone || ex.writing != null) {
                return;
            }
            Content.Source body = ex.request.body();
            Content.Chunk chunk = body.read();
            if (chunk == null) {
                body.demand(ex);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                ex.requestFailure = chunk.getFailure();
                fail(ex, chunk.getFailure(), true);
                return;
            }
            boolean last = chunk.isLast();
            ByteBuffer data = chunk.getByteBuffer();
            if (!data.hasRemaining() && !last) {
                chunk.release();
                continue;
            }
            ex.writing = chunk;
            ByteBuffer head = ex.pendingHead;
            ex.pendingHead = null;
            if (ex.chunked) {
                if (data.hasRemaining()) {
                    chunkLine.clear();
                    BufferUtil.putHexInt(chunkLine, data.remaining());
                    chunkLine.put(CRLF).flip();
                    ByteBuffer tail = ByteBuffer.wrap(last ? CRLF_LAST : CRLF);
                    if (head != null) {
                        getEndPoint().write(ex, head, chunkLine, data, tail);
                    } else {
                        getEndPoint().write(ex, chunkLine, data, tail);
                    }
                } else if (head != null) {
                    getEndPoint().write(ex, head, ByteBuffer.wrap(LAST_CHUNK));
                } else {
                    getEndPoint().write(ex, ByteBuffer.wrap(LAST_CHUNK));
                }
            } else if (head != null) {
                getEndPoint().write(ex, head, data);
            } else {
                getEndPoint().write(ex, data);
            }
            return;
        }
    }

    private void requestEnded(Exchange ex) {
        ex.requestDone = true;
        if (!ex.responseDone && !ex.ended()) {
            ex.listener.requestSent();
        }
        maybeComplete(ex);
    }

    // ---- receiving -----------------------------------------------------------------------------------------

    @Override
    public void onFillable() {
        if (state.get() == BUSY) {
            wake();
        } else {
            idleReadable();
        }
    }

    /** Called by {@code owner} once it is done with the last content: parsing goes on. */
    void demand(Listener owner) {
        Exchange ex = current;
        if (ex == null || ex.listener != owner) {
            return;
        }
        while (true) {
            int d = demand.get();
            if (d == DELIVERING) {
                if (demand.compareAndSet(DELIVERING, DEMANDED)) {
                    return;
                }
            } else if (d == WAITING) {
                if (demand.compareAndSet(WAITING, NO_DEMAND)) {
                    wake();
                }
                return;
            } else {
                return; // no content outstanding: a stray demand
            }
        }
    }

    /** Parses on this thread unless another parses now; that one then takes one more pass for this wake-up. */
    private void wake() {
        if (parseWip.getAndIncrement() != 0) {
            return;
        }
        do {
            parseAndFill();
        } while (parseWip.decrementAndGet() != 0);
    }

    /** Parses what is buffered, fills when it runs out, and delivers each event outside the parser. */
    private void parseAndFill() {
        Exchange ex = current;
        try {
            while (true) {
                if (ex == null || ex != current || ex.ended() || state.get() != BUSY || demand.get() == WAITING) {
                    return; // nothing to read for, or a content delivery waits for its demand
                }
                // an event the last parse produced is delivered before the parser may overwrite it
                int before = input.remaining();
                if (event == EV_NONE && (before > 0 || !parser.isStart())) {
                    parser.parseNext(input);
                    if (event == EV_NONE && before > 0 && input.remaining() == before) {
                        // the parser took nothing: bytes after the end of a message, in a state that accepts none
                        fail(ex, new org.eclipse.jetty.http.BadMessageException(502,
                                "upstream sent bytes its response has no room for"), false);
                        return;
                    }
                }
                if (event != EV_NONE) {
                    int e = event;
                    event = EV_NONE;
                    if (!deliver(ex, e)) {
                        return;
                    }
                    continue;
                }
                if (input.hasRemaining()) {
                    continue;
                }
                if (ex.responseDone) {
                    return;
                }
                BufferUtil.clear(input);
                int filled = getEndPoint().fill(input);
                if (filled > 0) {
                    continue;
                }
                if (filled == 0) {
                    tryFillInterested(readInterest);
                    return;
                }
                ex.persistent = false;
                parser.atEOF();
                boolean h = parser.parseNext(input);
                if (event == EV_NONE && !h && !ex.responseDone && !ex.ended()) {
                    fail(ex, new EOFException("upstream closed the connection before the response ended"), false);
                    return;
                }
            }
        } catch (Throwable t) {
            if (ex != null) {
                fail(ex, t, false);
            }
        }
    }

    /** Delivers one parser event; false when parsing must wait (for a demand) or has ended. */
    private boolean deliver(Exchange ex, int e) {
        Listener l = ex.listener;
        switch (e) {
            case EV_HEAD -> {
                HttpFields f = fields;
                String connection = f.get(HttpHeader.CONNECTION);
                if (version == HttpVersion.HTTP_1_0) {
                    ex.persistent = connection != null && connection.toLowerCase(java.util.Locale.ROOT).contains("keep-alive");
                } else if (connection != null && f.contains(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString())) {
                    ex.persistent = false;
                }
                l.head(status, version, f);
                return !ex.ended();
            }
            case EV_INTERIM -> {
                HttpFields f = fields;
                int s = status;
                parser.reset();
                parser.setHeadResponse(ex.request.head());
                l.interim(s, f);
                return !ex.ended();
            }
            case EV_CONTENT -> {
                ByteBuffer data = content;
                content = null;
                if (lastContent && (ex.requestDone || ex.request.body() == null) && ex.persistent && !ex.ended()
                        && requests < pool.maxRequestsPerConnection() && ex.announced.compareAndSet(false, true)) {
                    // The client may send its next request as soon as it has these last bytes, before this
                    // connection is back in the pool: the pool makes that request wait for it, not open another.
                    pool.expect();
                    if (ex.ended()) {
                        retract(ex); // it failed meanwhile, and its failure may have missed the announcement
                    }
                }
                demand.set(DELIVERING);
                l.content(data);
                // a demand made during the delivery (bytes held back, or a write that completed at once) goes on here
                if (demand.compareAndSet(DELIVERING, WAITING)) {
                    return false;
                }
                demand.set(NO_DEMAND);
                return !ex.ended();
            }
            case EV_DONE -> {
                if (input.hasRemaining()) {
                    LOG.debug("{} discarding {} bytes after the response", this, input.remaining());
                    BufferUtil.clear(input);
                    ex.persistent = false;
                }
                if (parser.isClose() || parser.isClosed()) {
                    ex.persistent = false;
                }
                ex.trailers = trailers;
                parser.reset(); // ready for the next exchange, before anyone can take the connection
                // Published last: the request side's end (requestEnded, on the write callback's thread) may complete
                // the exchange from here on, and whoever completes it delivers the success first (completeOnce).
                // Delivering it here instead raced with that completion: the relay heard "complete" before "success"
                // and the client's response never ended (found by the soak, about one exchange in 20,000).
                ex.responseDone = true;
                maybeComplete(ex);
                return false;
            }
            default -> {
                return false; // EV_FAIL: failed already
            }
        }
    }

    @Override
    public void startResponse(HttpVersion version, int status, String reason) {
        this.version = version;
        this.status = status;
        this.fields = HttpFields.build(16);
        this.trailers = null;
    }

    @Override
    public void parsedHeader(HttpField field) {
        fields.add(field);
    }

    @Override
    public boolean headerComplete() {
        if (status < 200 && status != 101) {
            return false; // interim: delivered at its messageComplete
        }
        event = EV_HEAD;
        return true;
    }

    @Override
    public boolean content(ByteBuffer buffer) {
        content = buffer;
        event = EV_CONTENT;
        lastContent = !parser.isChunking() && parser.getContentLength() >= 0
                && parser.getContentRead() >= parser.getContentLength();
        return true;
    }

    @Override
    public void parsedTrailer(HttpField field) {
        if (trailers == null) {
            trailers = HttpFields.build();
        }
        trailers.add(field);
    }

    @Override
    public boolean contentComplete() {
        return false;
    }

    @Override
    public boolean messageComplete() {
        event = status < 200 && status != 101 ? EV_INTERIM : EV_DONE;
        return true;
    }

    @Override
    public void earlyEOF() {
        event = EV_FAIL;
        Exchange ex = current;
        if (ex != null) {
            fail(ex, new EOFException("upstream closed the connection before the response ended"), false);
        }
    }

    @Override
    public void badMessage(HttpException failure) {
        event = EV_FAIL;
        Exchange ex = current;
        if (ex != null) {
            fail(ex, (Throwable) failure, false);
        }
    }

    // ---- ends ----------------------------------------------------------------------------------------------

    /**
     * Stops {@code owner}'s exchange: the connection is closed, the listener hears {@link Listener#complete} with the
     * cause. Nothing happens once that exchange has completed (the connection may carry another one by then).
     */
    void abort(Listener owner, Throwable cause) {
        Exchange ex = current;
        if (ex != null && ex.listener == owner) {
            fail(ex, cause, false);
        }
    }

    private void fail(Exchange ex, Throwable cause, boolean requestSide) {
        if (ex.ended()) {
            return;
        }
        ex.failure = cause;
        if (requestSide && ex.requestFailure == null) {
            ex.requestFailure = cause;
        }
        if (ex.request.body() != null && !ex.requestDone) {
            try {
                ex.request.body().fail(cause);
            } catch (RuntimeException e) {
                LOG.debug("failing the request body", e);
            }
        }
        ex.persistent = false;
        // Retracted before the close: the close hands this connection's place to a waiter, and a request that
        // parked on the announcement must find it there (after the close, nothing would come back for it).
        retract(ex);
        closeNow(cause);
        completeOnce(ex);
    }

    /** Withdraws {@code ex}'s announcement that this connection is about to come back, once. */
    private void retract(Exchange ex) {
        if (ex.announced.getAndSet(false)) {
            pool.unexpect();
        }
    }

    private void maybeComplete(Exchange ex) {
        if (!ex.responseDone || ex.ended()) {
            return;
        }
        if (!ex.requestDone) {
            if (ex.request.body() == null) {
                return; // the head's write is still being confirmed: requestEnded() completes the exchange
            }
            // The upstream answered before the request body ended: the rest of the client's body is not needed
            // upstream (the server side deals with what is unread), and the connection cannot carry another exchange.
            ex.persistent = false;
            ex.requestDone = true;
        }
        completeOnce(ex);
    }

    /**
     * Completes {@code ex} exactly once: the connection goes back to its pool (or is closed), then the listener hears
     * {@link Listener#success} (when the response ended whole and nothing failed), then {@link Listener#complete}.
     * Back in the pool before the listener writes the last bytes to its client: that client's next request finds
     * this connection idle instead of opening another one.
     */
    private void completeOnce(Exchange ex) {
        if (!ex.completed.compareAndSet(0, 1)) {
            return;
        }
        Throwable f = ex.failure;
        retract(ex); // before the release or close below, which serve the waiters
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} exchange done: failure={} persistent={} requestDone={}", this, f, ex.persistent, ex.requestDone);
        }
        ByteBuffer in = input;
        input = null;
        if (in != null && f == null && ex.responseDone) {
            inputBuffers.give(in); // the listener demanded past the last content: nobody reads this buffer any more
        }
        if (f == null && ex.persistent && requests < pool.maxRequestsPerConnection() && getEndPoint().isOpen()
                && state.compareAndSet(BUSY, IDLE)) {
            current = null;
            tryFillInterested(readInterest); // hear an upstream close while idle
            pool.release(this);
        } else if (f == null) {
            closeNow(null);
        }
        if (f == null && ex.responseDone) {
            ex.listener.success(ex.trailers);
        }
        ex.listener.complete(ex.requestFailure, f);
    }

    /**
     * Readable while idle: a close, bytes nobody asked for, or (rarely) a spurious wake-up. The connection is closed
     * without reading. If an exchange has taken it meanwhile, the wake-up goes to that exchange's parser (serialized
     * with any other, see {@link #wake}).
     */
    private void idleReadable() {
        if (state.compareAndSet(IDLE, CLOSED)) {
            LOG.debug("{} readable while idle (closed by the upstream); closing it", this);
            pool.remove(this);
            getEndPoint().close();
        } else if (state.get() == BUSY) {
            wake();
        }
    }

    private void closeNow(Throwable cause) {
        int was = state.getAndSet(CLOSED);
        if (was != CLOSED) {
            pool.remove(this);
            getEndPoint().close(cause);
        }
    }

    @Override
    public boolean onIdleExpired(TimeoutException timeout) {
        Exchange ex = current;
        if (state.get() == BUSY && ex != null) {
            fail(ex, new TimeoutException("upstream idle timeout: " + getEndPoint().getIdleTimeout() + "ms without a byte"), false);
            return false;
        }
        if (state.compareAndSet(IDLE, CLOSED) || state.get() == CLOSED) {
            // Closed here, not left to Jetty: with read interest pending, Jetty only fails that interest and closes
            // nothing, and a connection already marked closed would sit in CLOSE_WAIT for ever.
            pool.remove(this);
            getEndPoint().close(timeout);
        }
        return false;
    }

    @Override
    public void onFillInterestedFailed(Throwable cause) {
        Exchange ex = current;
        if (state.get() == BUSY && ex != null) {
            fail(ex, cause, false);
        } else if (state.compareAndSet(IDLE, CLOSED) || state.get() == CLOSED) {
            pool.remove(this);
            getEndPoint().close(cause);
        }
    }

    @Override
    public void onClose(Throwable cause) {
        super.onClose(cause);
        Exchange ex = current;
        if (state.get() == BUSY && ex != null) {
            fail(ex, cause != null ? cause : new java.nio.channels.ClosedChannelException(), false);
        } else if (state.getAndSet(CLOSED) != CLOSED) {
            pool.remove(this);
        }
    }

    int requestsServed() {
        return requests;
    }

    @Override
    public String toConnectionString() {
        Exchange ex = current;
        String exchange = ex == null ? "none" : ex.request.method() + " " + ex.request.pathQuery() + " req="
                + (ex.requestDone ? "done" : "open") + " resp=" + (ex.responseDone ? "done" : "open") + " ended=" + ex.ended()
                + " demand=" + demand.get() + " wip=" + parseWip.get() + " listener@" + Integer.toHexString(System.identityHashCode(ex.listener));
        return "Http1Connection@" + Integer.toHexString(hashCode()) + "[" + pool + ",s=" + state.get() + ",n=" + requests
                + ",open=" + getEndPoint().isOpen() + ",exchange=" + exchange + "]";
    }
}
