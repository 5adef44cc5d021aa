package io.github.gatehouse.filter.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.BodyFilter;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KeywordBodyFilterTest {

    private static final class RecordingControl implements BodyFilter.Control {
        int status;
        String reason;

        @Override
        public void block(int status, String reason) {
            this.status = status;
            this.reason = reason;
        }
    }

    private record Run(byte[] out, RecordingControl control, int maxRetained, boolean sentBeforeBlock) {
        String text(Charset cs) {
            return new String(out, cs);
        }
    }

    private static KeywordBodyFilter filter(KeywordBodyFilter.Action action, Charset cs, int hold, StreamDecoder dec,
            String... words) {
        return new KeywordBodyFilter("t-1", AhoCorasick.of(List.of(words)), action, cs, hold, 403,
                "contains '{keyword}'", dec);
    }

    /** Feeds {@code pieces} as chunks; measures the most bytes held back (in minus out, for identity bodies). */
    private static Run run(KeywordBodyFilter f, List<byte[]> pieces) {
        RecordingControl control = new RecordingControl();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long in = 0;
        int maxRetained = 0;
        boolean sent = false;
        for (int i = 0; i < pieces.size() && control.reason == null; i++) {
            boolean last = i == pieces.size() - 1;
            in += pieces.get(i).length;
            ByteBuffer result = f.onChunk(ByteBuffer.wrap(pieces.get(i)).asReadOnlyBuffer(), last, control);
            if (control.reason != null) {
                break;
            }
            byte[] b = new byte[result.remaining()];
            result.get(b);
            out.write(b, 0, b.length);
            sent |= b.length > 0;
            maxRetained = (int) Math.max(maxRetained, in - out.size());
        }
        return new Run(out.toByteArray(), control, maxRetained, sent);
    }

    private static List<byte[]> split(byte[] all, int... at) {
        List<byte[]> pieces = new ArrayList<>();
        int from = 0;
        for (int a : at) {
            pieces.add(java.util.Arrays.copyOfRange(all, from, a));
            from = a;
        }
        pieces.add(java.util.Arrays.copyOfRange(all, from, all.length));
        return pieces;
    }

    @Test
    void redactsEveryMatchWhereverTheChunkBoundaryFalls() {
        String body = "Play CASINO games at the Casino! Online poker too; casinos everywhere.";
        String expected = "Play ****** games at the ******! ************ too; ******s everywhere.";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        for (int a = 0; a <= bytes.length; a++) {
            for (int b = a; b <= bytes.length; b += 7) {
                Run r = run(filter(KeywordBodyFilter.Action.REDACT, StandardCharsets.UTF_8, 0, null, "casino", "online poker"),
                        split(bytes, a, b));
                assertThat(r.text(StandardCharsets.UTF_8)).as("split at %d,%d", a, b).isEqualTo(expected);
                assertThat(r.maxRetained()).isLessThanOrEqualTo("online poker".length());
            }
        }
    }

    @Test
    void redactsOverlappingAndNestedKeywords() {
        Run r = run(filter(KeywordBodyFilter.Action.REDACT, StandardCharsets.UTF_8, 0, null, "he", "she", "hers", "his"),
                List.of("ushers and this".getBytes(StandardCharsets.UTF_8)));
        assertThat(r.text(StandardCharsets.UTF_8)).isEqualTo("u***** and t***");
    }

    @ParameterizedTest
    @CsvSource({"UTF-8", "ISO-8859-1", "UTF-16BE", "windows-1252"})
    void matchesCaseInsensitivelyInTheBodyCharsetEvenWhenACharacterIsSplit(String charset) {
        Charset cs = Charset.forName(charset);
        String body = "Voilà: CAFÉ crème, café noir.";
        byte[] bytes = body.getBytes(cs);
        for (int a = 0; a <= bytes.length; a++) {
            Run r = run(filter(KeywordBodyFilter.Action.REDACT, cs, 0, null, "café"), split(bytes, a));
            assertThat(r.text(cs)).as("split at %d", a).isEqualTo("Voilà: **** crème, **** noir.");
        }
    }

    @Test
    void blockHoldsAPrefixAndBlocksCleanlyWhenTheKeywordIsInIt() {
        byte[] bytes = ("x".repeat(100) + "forbid" + "den" + "y".repeat(100)).getBytes(StandardCharsets.UTF_8);
        for (int a = 1; a < bytes.length; a += 3) {
            Run r = run(filter(KeywordBodyFilter.Action.BLOCK, StandardCharsets.UTF_8, 1024, null, "FORBIDDEN"),
                    split(bytes, a));
            assertThat(r.control().reason).as("split at %d", a).isEqualTo("contains 'FORBIDDEN'");
            assertThat(r.sentBeforeBlock()).isFalse();
        }
    }

    @Test
    void blockPassesCleanBodiesUnchangedAndPastTheHoldLimitStillStops() {
        byte[] clean = "a clean page".repeat(1000).getBytes(StandardCharsets.UTF_8);
        List<byte[]> pieces = split(clean, 1000, 2000, 5000, 9000);
        Run ok = run(filter(KeywordBodyFilter.Action.BLOCK, StandardCharsets.UTF_8, 4096, null, "casino"), pieces);
        assertThat(ok.out()).isEqualTo(clean);
        assertThat(ok.control().reason).isNull();
        assertThat(ok.maxRetained()).isLessThanOrEqualTo(4096);

        byte[] late = ("a clean page".repeat(1000) + "casino").getBytes(StandardCharsets.UTF_8);
        Run stopped = run(filter(KeywordBodyFilter.Action.BLOCK, StandardCharsets.UTF_8, 4096, null, "casino"),
                split(late, 5000, 10000, 11998));
        assertThat(stopped.sentBeforeBlock()).isTrue();
        assertThat(stopped.control().reason).isEqualTo("contains 'casino'");
    }

    @Test
    void decodesGzipAcrossChunksScansAndSendsIdentity() throws Exception {
        String text = "<html>" + "lorem ipsum ".repeat(5000) + "SECRET token" + "</html>";
        byte[] gz = gzip(text.getBytes(StandardCharsets.UTF_8));
        for (int a : new int[] {1, 5, 9, 10, 11, gz.length / 2, gz.length - 5, gz.length - 1}) {
            Run r = run(filter(KeywordBodyFilter.Action.REDACT, StandardCharsets.UTF_8, 0,
                    new StreamDecoder("gzip", 1 << 20, 1 << 24), "secret"), split(gz, a));
            assertThat(r.control().reason).as("split at %d", a).isNull();
            assertThat(r.text(StandardCharsets.UTF_8)).as("split at %d", a).isEqualTo(text.replace("SECRET", "******"));
        }
    }

    @Test
    void decodesZlibAndRawDeflate() throws Exception {
        byte[] text = "deflated casino text".getBytes(StandardCharsets.UTF_8);
        for (boolean nowrap : new boolean[] {false, true}) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (DeflaterOutputStream out = new DeflaterOutputStream(bos, new Deflater(6, nowrap))) {
                out.write(text);
            }
            Run r = run(filter(KeywordBodyFilter.Action.BLOCK, StandardCharsets.UTF_8, 1024,
                    new StreamDecoder("deflate", 1 << 20, 1 << 24), "casino"), split(bos.toByteArray(), 3));
            assertThat(r.control().reason).as("nowrap %s", nowrap).isEqualTo("contains 'casino'");
        }
    }

    @Test
    void stopsDecompressionBombsAndCorruptOrTruncatedBodiesWith502() throws Exception {
        byte[] bomb = gzip(new byte[50 * 1024 * 1024]);   // 50 MiB of zeros, ~50 KiB compressed
        Run r = run(filter(KeywordBodyFilter.Action.BLOCK, StandardCharsets.UTF_8, 1024,
                new StreamDecoder("gzip", 8 << 20, 16 << 20), "x"), split(bomb, 10_000, 20_000, 30_000, 40_000));
        assertThat(r.control().status).isEqualTo(502);
        assertThat(r.control().reason).contains("decompression limit");

        byte[] gz = gzip("hello".repeat(100).getBytes(StandardCharsets.UTF_8));
        byte[] truncated = java.util.Arrays.copyOf(gz, gz.length - 4);
        Run t = run(filter(KeywordBodyFilter.Action.REDACT, StandardCharsets.UTF_8, 0,
                new StreamDecoder("gzip", 1 << 20, 1 << 24), "x"), List.of(truncated));
        assertThat(t.control().reason).contains("ended early");

        byte[] corrupt = gz.clone();
        corrupt[20] ^= 0x55;
        Run c = run(filter(KeywordBodyFilter.Action.REDACT, StandardCharsets.UTF_8, 0,
                new StreamDecoder("gzip", 1 << 20, 1 << 24), "x"), List.of(corrupt));
        assertThat(c.control().status).isEqualTo(502);
    }

    @Test
    void automatonFindsKeywordsAndIgnoresNearMisses() {
        AhoCorasick ac = AhoCorasick.of(List.of("casino", "online poker", "sin"));
        assertThat(ac.findIn("ONLINE POKER night")).isEqualTo("online poker");
        assertThat(ac.findIn("a basin of water")).isEqualTo("sin");
        assertThat(ac.findIn("online pokemon casi")).isNull();
    }

    static byte[] gzip(byte[] data) throws Exception {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bos)) {
            out.write(data);
        }
        return bos.toByteArray();
    }
}
