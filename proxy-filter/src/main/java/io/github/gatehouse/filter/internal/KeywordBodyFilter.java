package io.github.gatehouse.filter.internal;

import io.github.gatehouse.core.BodyFilter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scans one response body for keywords, chunk by chunk, and blocks or redacts it. One instance per exchange.
 *
 * <p>Pipeline: optional {@link StreamDecoder} (gzip/deflate to identity), then a streaming {@link CharsetDecoder}
 * (a multi-byte character split between chunks is completed by the next), then the {@link AhoCorasick} automaton,
 * whose state carries matches across chunk boundaries.
 *
 * <p><b>Block:</b> output bytes are the input bytes, unchanged: an encoded (gzip/deflate) body is decoded into a
 * copy for matching, and the client gets the origin's encoded bytes. Up to {@code holdLimit} bytes are held (empty
 * buffers returned) so that a match early in the body becomes a clean error page; past that the held bytes are
 * released and a later match aborts the transfer through {@link BodyFilter.Control#block}.
 *
 * <p><b>Redact:</b> each matched character becomes {@code *}; only the characters that may still begin a match
 * (fewer than the longest keyword) are held back between chunks. Output is re-encoded in the body's charset (bytes
 * of valid input round-trip unchanged; malformed input comes out as replacement characters).
 *
 * <p>Memory held between chunks: at most {@code holdLimit} bytes (block) or the longest keyword (redact), plus
 * a few bytes of a split character or gzip header. Not thread-safe; the relay never overlaps calls.
 */
public final class KeywordBodyFilter implements BodyFilter {
    private static final Logger LOG = LoggerFactory.getLogger(KeywordBodyFilter.class);
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    /** What a match does. */
    public enum Action { BLOCK, REDACT }

    private final String exchangeId;
    private final AhoCorasick matcher;
    private final Action action;
    private final int holdLimit;
    private final int blockStatus;
    private final String blockReason;
    private final StreamDecoder decoder;
    private final CharsetDecoder charDecoder;
    private final CharsetEncoder charEncoder;

    private int state;
    private ByteBuffer leftover = EMPTY;   // bytes of a character split across chunks
    private byte[] held = new byte[0];     // block mode: the prefix held before committing
    private int heldLength;
    private boolean committed;
    private char[] pending = new char[0];   // redact mode: chars that may still be part of a match
    private int pendingLength;
    private boolean finished;

    /**
     * @param decoder a gzip/deflate decoder, or {@code null} for identity bodies
     * @param blockReason the reason template, {@code {keyword}} replaced by the keyword found
     */
    public KeywordBodyFilter(String exchangeId, AhoCorasick matcher, Action action, Charset charset, int holdLimit,
            int blockStatus, String blockReason, StreamDecoder decoder) {
        this.exchangeId = exchangeId;
        this.matcher = matcher;
        this.action = action;
        this.holdLimit = holdLimit;
        this.blockStatus = blockStatus;
        this.blockReason = blockReason;
        this.decoder = decoder;
        this.charDecoder = charset.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        this.charEncoder = action == Action.REDACT ? charset.newEncoder().onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE) : null;
        this.state = matcher.start();
    }

    @Override
    public ByteBuffer onChunk(ByteBuffer chunk, boolean last, Control control) {
        if (finished) {
            return EMPTY;
        }
        ByteBuffer plain = chunk;
        if (decoder != null) {
            try {
                // block mode passes the raw chunk on, so the decoder reads a view of it
                plain = ByteBuffer.wrap(decoder.decode(action == Action.BLOCK ? chunk.duplicate() : chunk, last));
            } catch (StreamDecoder.DecodeException e) {
                finish();
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} content filter cannot scan the body: {}", exchangeId, e.getMessage());
                }
                control.block(502, e.isTooLarge() ? "upstream body " + e.getMessage() + " (decompression limit)"
                        : "upstream body is not valid: " + e.getMessage());
                return EMPTY;
            }
        }
        ByteBuffer out = action == Action.BLOCK ? block(plain, chunk, last, control) : redact(plain, last);
        if (last) {
            finish();
        }
        return out;
    }

    // ---- block ---------------------------------------------------------------------------------------------

    @Override
    public boolean preservesBytes() {
        return action == Action.BLOCK;
    }

    /** Scans the decoded {@code plain} text; holds and passes on the {@code raw} bytes as they came. */
    private ByteBuffer block(ByteBuffer plain, ByteBuffer raw, boolean last, Control control) {
        String found = scan(plain.duplicate(), last, false);
        if (found != null) {
            finish();
            String reason = blockReason.replace("{keyword}", found);
            if (committed && LOG.isDebugEnabled()) {
                LOG.debug("{} keyword found after the response began; aborting it: {}", exchangeId, reason);
            }
            control.block(blockStatus, reason);
            return EMPTY;
        }
        if (committed) {
            return raw;   // the caller's chunk (valid for this call; the relay writes it before the next)
        }
        if (heldLength + raw.remaining() <= holdLimit && !last) {
            append(raw);
            return EMPTY;
        }
        committed = true;
        append(raw);
        ByteBuffer out = ByteBuffer.wrap(held, 0, heldLength);
        held = null;
        heldLength = 0;
        return out;
    }

    private void append(ByteBuffer b) {
        int n = b.remaining();
        if (heldLength + n > held.length) {
            held = java.util.Arrays.copyOf(held, Math.max(heldLength + n, Math.min(holdLimit + n, Math.max(8192, held.length * 2))));
        }
        b.get(held, heldLength, n);
        heldLength += n;
    }

    // ---- redact --------------------------------------------------------------------------------------------

    private ByteBuffer redact(ByteBuffer plain, boolean last) {
        scan(plain, last, true);
        int emit = last ? pendingLength : pendingLength - matcher.depth(state);
        if (!last && emit > 0 && Character.isHighSurrogate(pending[emit - 1])) {
            emit--;   // never split a surrogate pair between two encoder calls
        }
        if (emit <= 0 && !last) {
            return EMPTY;
        }
        ByteBuffer out;
        try {
            out = charEncoder.encode(CharBuffer.wrap(pending, 0, emit));
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("encoder set to REPLACE cannot fail", e);
        }
        System.arraycopy(pending, emit, pending, 0, pendingLength - emit);
        pendingLength -= emit;
        if (pending.length > 4096 && pendingLength < 1024) {
            pending = java.util.Arrays.copyOf(pending, Math.max(64, pendingLength));   // don't keep a chunk-sized array
        }
        return out;
    }

    // ---- scanning ------------------------------------------------------------------------------------------

    /**
     * Decodes {@code bytes} (after any leftover) and runs the automaton. In redact mode the characters are appended
     * to {@link #pending} with matches starred; in block mode the first keyword is returned.
     */
    private String scan(ByteBuffer bytes, boolean last, boolean redact) {
        ByteBuffer in = bytes;
        if (leftover.hasRemaining()) {
            ByteBuffer joined = ByteBuffer.allocate(leftover.remaining() + bytes.remaining());
            joined.put(leftover).put(bytes).flip();
            in = joined;
        }
        CharBuffer chars = CharBuffer.allocate(Math.max(16, (int) (in.remaining() * (double) charDecoder.maxCharsPerByte()) + 4));
        CoderResult r = charDecoder.decode(in, chars, last);
        if (last) {
            charDecoder.flush(chars);
            charDecoder.reset();
        }
        if (r.isOverflow()) {
            throw new IllegalStateException("char buffer sized by maxCharsPerByte overflowed");
        }
        leftover = in.hasRemaining() ? copy(in) : EMPTY;
        chars.flip();
        char[] a = chars.array();
        int n = chars.limit();
        String found = null;
        int s = state;
        if (redact) {
            if (pendingLength + n > pending.length) {
                pending = java.util.Arrays.copyOf(pending, pendingLength + n);
            }
            char[] p = pending;
            int at = pendingLength;
            for (int i = 0; i < n; i++) {
                char c = a[i];
                s = matcher.next(s, c);
                p[at++] = c;
                int len = matcher.matchLength(s);
                if (len > 0) {
                    java.util.Arrays.fill(p, at - len, at, '*');
                }
            }
            pendingLength = at;
        } else {
            for (int i = 0; i < n; i++) {
                s = matcher.next(s, a[i]);
                if (matcher.matchLength(s) > 0) {
                    found = matcher.matchedKeyword(s);
                    break;
                }
            }
        }
        state = s;
        return found;
    }

    private static ByteBuffer copy(ByteBuffer b) {
        ByteBuffer c = ByteBuffer.allocate(b.remaining());
        c.put(b).flip();
        return c;
    }

    private void finish() {
        finished = true;
        held = null;
        pending = null;
        pendingLength = 0;
        if (decoder != null) {
            decoder.close();
        }
    }
}
