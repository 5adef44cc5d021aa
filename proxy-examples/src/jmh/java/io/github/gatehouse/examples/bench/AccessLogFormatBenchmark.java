package io.github.gatehouse.examples.bench;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One access-log line per exchange: {@link AccessLogFormat#squid()}, {@link AccessLogFormat#json()} and combined. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AccessLogFormatBenchmark {
    private AccessLogEntry entry;
    private final AccessLogFormat squid = AccessLogFormat.squid();
    private final AccessLogFormat json = AccessLogFormat.json();
    private final AccessLogFormat combined = AccessLogFormat.combined();

    @Setup
    public void setUp() {
        entry = new AccessLogEntry("3f2a-1234567", Instant.parse("2026-11-26T18:00:00.123Z"), Duration.ofMillis(12),
                "127.0.0.1", null, "GET", "http://127.0.0.1:18080/1k", "HTTP/1.1", 200, 0, 1024, "127.0.0.1:18080",
                null, "https://shop.example/catalog?page=2",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", null, true, 1);
    }

    @Benchmark
    public String squid() {
        return squid.format(entry);
    }

    @Benchmark
    public String json() {
        return json.format(entry);
    }

    @Benchmark
    public String combined() {
        return combined.format(entry);
    }
}
