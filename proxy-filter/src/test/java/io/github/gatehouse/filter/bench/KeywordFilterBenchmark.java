package io.github.gatehouse.filter.bench;

import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.filter.internal.AhoCorasick;
import io.github.gatehouse.filter.internal.KeywordBodyFilter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Scanning cost of the keyword filter: one 1 MiB UTF-8 text body in 16 KiB chunks, 1 000 keywords, no match
 * (the common case), in block and redact mode. Reports milliseconds per MiB. Run its main method (see
 * {@link HostRulesBenchmark} for the class path).
 */
@State(Scope.Benchmark)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class KeywordFilterBenchmark {
    @Param({"BLOCK", "REDACT"})
    public String action;

    private AhoCorasick matcher;
    private List<ByteBuffer> chunks;

    @Setup
    public void setUp() {
        List<String> words = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            words.add("keyword" + i + "zz");
        }
        matcher = AhoCorasick.of(words);
        StringBuilder sb = new StringBuilder(1 << 20);
        while (sb.length() < (1 << 20)) {
            sb.append("<p>Lorem ipsum dolor sit amet, keyword consectetur adipiscing elit; café crème.</p>\n");
        }
        byte[] body = sb.substring(0, 1 << 20).getBytes(StandardCharsets.UTF_8);
        chunks = new ArrayList<>();
        for (int p = 0; p < body.length; p += 16 * 1024) {
            chunks.add(ByteBuffer.wrap(body, p, Math.min(16 * 1024, body.length - p)).slice());
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long scanOneMebibyte() {
        KeywordBodyFilter f = new KeywordBodyFilter("bench", matcher, KeywordBodyFilter.Action.valueOf(action),
                StandardCharsets.UTF_8, 64 * 1024, 403, "blocked {keyword}", null);
        BodyFilter.Control control = (status, reason) -> {
            throw new IllegalStateException("unexpected block: " + reason);
        };
        long out = 0;
        for (int i = 0; i < chunks.size(); i++) {
            out += f.onChunk(chunks.get(i).duplicate(), i == chunks.size() - 1, control).remaining();
        }
        return out;
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(KeywordFilterBenchmark.class.getSimpleName()).build()).run();
    }
}
