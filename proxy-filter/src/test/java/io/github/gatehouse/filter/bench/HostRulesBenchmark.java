package io.github.gatehouse.filter.bench;

import io.github.gatehouse.filter.HostRules;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * A blacklist of one million domains: how long it takes to load from a file, and what one lookup costs (hit on
 * a subdomain, miss on a 4-label name, hit on an exact name). Not part of the test run; run its main method:
 * <pre>
 *   mvn -B -o -q -pl proxy-filter test-compile
 *   java -cp "$(cat proxy-filter/target/test-classpath.txt)" io.github.gatehouse.filter.bench.HostRulesBenchmark
 * </pre>
 * (write the class path file first with {@code mvn -pl proxy-filter dependency:build-classpath
 * -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test} and append
 * {@code :proxy-filter/target/classes:proxy-filter/target/test-classes}).
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = "-Xmx2g")
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class HostRulesBenchmark {
    private Path file;
    private HostRules rules;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        file = Files.createTempFile("million-hosts", ".txt");
        StringBuilder sb = new StringBuilder(30 * 1_000_000);
        for (int i = 0; i < 1_000_000; i++) {
            sb.append(i % 2 == 0 ? "" : ".").append("site").append(i).append(i % 3 == 0 ? ".example.com\n" : ".example.org\n");
        }
        Files.writeString(file, sb);
        rules = HostRules.denyFile(file);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        Files.deleteIfExists(file);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public boolean lookupHitOnSubdomain() {
        return rules.isAllowed("cdn.images.site777777.example.com");
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public boolean lookupMiss() {
        return rules.isAllowed("www.shop.unlisted.example.net");
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public boolean lookupExactHitMixedCase() {
        return rules.isAllowed("SITE123456.example.com.");
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 1)
    @Measurement(iterations = 3)
    public int loadMillionNames() {
        return HostRules.denyFile(file).size();
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(HostRulesBenchmark.class.getSimpleName()).build()).run();
    }
}
