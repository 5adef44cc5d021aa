package io.github.gatehouse.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.testing.CacheProxy;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.eclipse.jetty.logging.JettyLogger;
import org.eclipse.jetty.logging.StdErrAppender;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A disk store that cannot be written degrades to pass-through: clients get whole responses, nothing is stored, and
 * the log has one WARN line for the whole run of failures; once it can be written again, storing resumes.
 */
class DiskStoreTroubleTest {
    @TempDir
    Path dir;

    @Test
    void anUnwritableDiskStorePassesResponsesThroughWithOneWarning() throws Exception {
        JettyLogger logger = (JettyLogger) LoggerFactory.getLogger(DiskStore.class);
        StdErrAppender appender = (StdErrAppender) logger.getAppender();
        PrintStream original = appender.getStream(); // null: System.err at each line
        PrintStream echo = original != null ? original : System.err;
        org.eclipse.jetty.logging.JettyLevel level = logger.getLevel();
        logger.setLevel(org.eclipse.jetty.logging.JettyLevel.INFO); // to see the line that says storing resumes
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        appender.setStream(new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                captured.write(b);
                echo.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                captured.write(b, off, len);
                echo.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8));
        try (CacheProxy t = CacheProxy.with(b -> b.disk(dir, DataSize.mebibytes(64)))) {
            // the directory for entries being written is gone, and a file sits in its place: every write fails
            // (as on a full or read-only disk, which tests running as root cannot make)
            Path tmp = dir.resolve("tmp");
            Files.delete(tmp);
            Files.writeString(tmp, "not a directory");
            byte[] body = new byte[300_000];
            Arrays.fill(body, (byte) 'b');
            for (int i = 0; i < 5; i++) {
                t.origin.serve("/f" + i, MockResponse.ok().body(body).header("Cache-Control", "max-age=100"));
                RawHttp.Reply second = null;
                for (int round = 0; round < 2; round++) {
                    RawHttp.Reply r = t.get("/f" + i);
                    assertThat(r.status()).isEqualTo(200);
                    assertThat(r.body()).isEqualTo(body);
                    assertThat(r.closedCleanly()).isTrue();
                    second = r;
                }
                // The disk write fails on the store's own thread, after the fill ended: a second request that comes
                // before that failure joins the fill being committed (Cache-Status "collapsed", the fill's bytes)
                // instead of going to the origin. Either way nothing is stored (stores() is zero below).
                String status = second.headers().get("cache-status");
                if (status == null || !status.contains("; collapsed")) {
                    assertThat(t.origin.requestCount("/f" + i)).as("passed through, not stored").isEqualTo(2);
                }
            }
            assertThat(t.cache.stats().stores()).isZero();
            assertThat(warnings(captured)).as("one WARN line for the run of failures").hasSize(1);
            assertThat(warnings(captured).get(0)).contains("disk cache " + dir + " cannot be written")
                    .contains("responses pass through without being stored");

            Files.delete(tmp);
            Files.createDirectory(tmp);
            t.get("/f0");
            RawHttp.Reply again = t.get("/f0");
            assertThat(again.headers().get("cache-status")).as("from the cache: stored, or still being committed")
                    .satisfiesAnyOf(c -> assertThat(c).startsWith("gatehouse; hit"), c -> assertThat(c).contains("; collapsed"));
            assertThat(again.body()).isEqualTo(body);
            assertThat(t.origin.requestCount("/f0")).isEqualTo(3);
        } finally {
            // closing the cache waits for the store's pending file work, so its log lines are all written now
            appender.setStream(original);
            logger.setLevel(level);
        }
        assertThat(lines(captured).stream().filter(l -> l.contains("can be written again; storing resumes"))).hasSize(1);
        assertThat(warnings(captured)).hasSize(1);
    }

    private static java.util.List<String> lines(ByteArrayOutputStream captured) {
        return Arrays.asList(captured.toString(StandardCharsets.UTF_8).split("\n"));
    }

    private static java.util.List<String> warnings(ByteArrayOutputStream captured) {
        return lines(captured).stream().filter(l -> l.contains("WARN") && l.contains("DiskStore")).toList();
    }
}
