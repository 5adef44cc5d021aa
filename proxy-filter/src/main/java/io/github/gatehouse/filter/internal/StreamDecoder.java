package io.github.gatehouse.filter.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Decodes a {@code gzip} or {@code deflate} (zlib-wrapped or raw) body that arrives in chunks, without holding
 * more than a gzip header's worth of input between chunks. Guards against decompression bombs: one chunk may not
 * decode to more than {@code maxPerChunk} bytes, nor the body to more than {@code maxTotal}. Gzip members are
 * checked against their CRC-32 and length; concatenated members are decoded in turn. Not thread-safe (one per
 * exchange); {@link #close()} frees the native inflater.
 */
public final class StreamDecoder implements AutoCloseable {
    /** The body cannot be decoded, or is too large once decoded. */
    public static final class DecodeException extends Exception {
        private static final long serialVersionUID = 1L;
        private final boolean tooLarge;

        DecodeException(String message, boolean tooLarge) {
            super(message);
            this.tooLarge = tooLarge;
        }

        /** Whether the limit was hit (rather than corrupt input). */
        public boolean isTooLarge() {
            return tooLarge;
        }
    }

    private enum State { HEADER, BODY, TRAILER, DONE }

    private static final int MAX_HEADER = 64 * 1024;

    private final boolean gzip;
    private final long maxPerChunk;
    private final long maxTotal;
    private final byte[] step = new byte[16 * 1024];
    private Inflater inflater;
    private final CRC32 crc = new CRC32();
    private State state;
    private byte[] pending = new byte[0];     // header or trailer bytes waiting for the rest
    private long total;
    private long memberLength;
    private boolean seenInput;

    /** A decoder for {@code encoding} ({@code gzip}, {@code x-gzip} or {@code deflate}). */
    public StreamDecoder(String encoding, long maxPerChunk, long maxTotal) {
        this.gzip = !encoding.equalsIgnoreCase("deflate");
        this.maxPerChunk = maxPerChunk;
        this.maxTotal = maxTotal;
        this.state = State.HEADER;
    }

    /** Whether {@code encoding} is one this class decodes. */
    public static boolean supports(String encoding) {
        return encoding.equalsIgnoreCase("gzip") || encoding.equalsIgnoreCase("x-gzip") || encoding.equalsIgnoreCase("deflate");
    }

    /** Decodes {@code chunk}; at {@code last}, checks the body ended where the encoding says it ends. */
    public byte[] decode(ByteBuffer chunk, boolean last) throws DecodeException {
        byte[] in = new byte[pending.length + chunk.remaining()];
        System.arraycopy(pending, 0, in, 0, pending.length);
        chunk.get(in, pending.length, chunk.remaining());
        pending = new byte[0];
        seenInput |= in.length > 0;
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(in.length * 4 + 64, 1 << 20));
        int pos = 0;
        try {
            while (pos < in.length && state != State.DONE) {
                switch (state) {
                    case HEADER: {
                        int used = gzip ? gzipHeader(in, pos) : zlibOrRaw(in, pos);
                        if (used < 0) {
                            pending = java.util.Arrays.copyOfRange(in, pos, in.length);
                            if (pending.length > MAX_HEADER) {
                                throw new DecodeException("gzip header longer than " + MAX_HEADER + " bytes", false);
                            }
                            pos = in.length;
                            break;
                        }
                        pos += used;
                        state = State.BODY;
                        crc.reset();
                        memberLength = 0;
                        break;
                    }
                    case BODY: {
                        inflater.setInput(in, pos, in.length - pos);
                        while (true) {
                            int n = inflater.inflate(step);
                            if (n > 0) {
                                out.write(step, 0, n);
                                crc.update(step, 0, n);
                                memberLength += n;
                                total += n;
                                if (out.size() > maxPerChunk || total > maxTotal) {
                                    throw new DecodeException("body decodes to more than "
                                            + (total > maxTotal ? maxTotal + " bytes" : maxPerChunk + " bytes from one chunk"), true);
                                }
                            }
                            if (inflater.finished() || inflater.needsDictionary()) {
                                break;
                            }
                            if (n == 0 && inflater.needsInput()) {
                                break;
                            }
                        }
                        if (inflater.needsDictionary()) {
                            throw new DecodeException("deflate stream needs a preset dictionary", false);
                        }
                        if (inflater.finished()) {
                            pos = in.length - inflater.getRemaining();
                            state = gzip ? State.TRAILER : State.DONE;
                        } else {
                            pos = in.length;
                        }
                        break;
                    }
                    case TRAILER: {
                        if (in.length - pos < 8) {
                            pending = java.util.Arrays.copyOfRange(in, pos, in.length);
                            pos = in.length;
                            break;
                        }
                        long storedCrc = le32(in, pos);
                        long storedLength = le32(in, pos + 4);
                        if (storedCrc != crc.getValue() || storedLength != (memberLength & 0xffffffffL)) {
                            throw new DecodeException("gzip member fails its CRC or length check", false);
                        }
                        pos += 8;
                        // another member may follow; anything else (padding) ends the body
                        if (pos + 1 < in.length && (in[pos] & 0xff) == 0x1f && (in[pos + 1] & 0xff) == 0x8b) {
                            state = State.HEADER;
                        } else if (pos + 1 >= in.length && pos < in.length && (in[pos] & 0xff) == 0x1f) {
                            pending = java.util.Arrays.copyOfRange(in, pos, in.length);
                            pos = in.length;
                            state = State.HEADER;
                        } else {
                            state = State.DONE;
                        }
                        break;
                    }
                    default:
                        break;
                }
            }
        } catch (DataFormatException e) {
            throw new DecodeException("corrupt " + (gzip ? "gzip" : "deflate") + " data: " + e.getMessage(), false);
        }
        if (last && seenInput && state != State.DONE) {
            throw new DecodeException((gzip ? "gzip" : "deflate") + " body ended early", false);
        }
        return out.toByteArray();
    }

    /** Bytes decoded so far. */
    public long decodedBytes() {
        return total;
    }

    private int gzipHeader(byte[] b, int p) throws DecodeException {
        int avail = b.length - p;
        if (avail < 10) {
            return -1;
        }
        if ((b[p] & 0xff) != 0x1f || (b[p + 1] & 0xff) != 0x8b || b[p + 2] != 8) {
            throw new DecodeException("not a gzip stream", false);
        }
        int flags = b[p + 3] & 0xff;
        int i = p + 10;
        if ((flags & 4) != 0) {                 // FEXTRA
            if (b.length - i < 2) {
                return -1;
            }
            int xlen = (b[i] & 0xff) | (b[i + 1] & 0xff) << 8;
            i += 2 + xlen;
            if (i > b.length) {
                return -1;
            }
        }
        for (int bit : new int[] {8, 16}) {      // FNAME, FCOMMENT: zero-terminated
            if ((flags & bit) != 0) {
                while (i < b.length && b[i] != 0) {
                    i++;
                }
                if (i >= b.length) {
                    return -1;
                }
                i++;
            }
        }
        if ((flags & 2) != 0) {                 // FHCRC
            i += 2;
            if (i > b.length) {
                return -1;
            }
        }
        newInflater(true);
        return i - p;
    }

    private int zlibOrRaw(byte[] b, int p) {
        if (b.length - p < 2) {
            return -1;
        }
        int cmf = b[p] & 0xff;
        int flg = b[p + 1] & 0xff;
        boolean zlib = (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
        newInflater(!zlib);
        return 0;
    }

    private void newInflater(boolean nowrap) {
        if (inflater != null) {
            inflater.end();
        }
        inflater = new Inflater(nowrap);
    }

    private static long le32(byte[] b, int p) {
        return (b[p] & 0xffL) | (b[p + 1] & 0xffL) << 8 | (b[p + 2] & 0xffL) << 16 | (b[p + 3] & 0xffL) << 24;
    }

    @Override
    public void close() {
        if (inflater != null) {
            inflater.end();
            inflater = null;
        }
    }
}
