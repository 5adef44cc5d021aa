package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An access log that formats on the caller's thread and writes on its own daemon thread, through a bounded queue.
 * When the queue is full (the disk cannot keep up) lines are dropped and counted, never waited for: the relay must
 * not stall on logging. The dropped count is logged at WARN when the writer closes and every 10000 drops.
 */
public final class AsyncLineWriter implements AccessLog {
    private static final Logger LOG = LoggerFactory.getLogger(AsyncLineWriter.class);
    private static final String POISON = new String("<close>");

    private final AccessLogFormat format;
    private final Writer writer;
    private final boolean closeWriter;
    private final String name;
    private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(65_536);
    private final AtomicLong dropped = new AtomicLong();
    private final Thread thread;
    private volatile boolean closed;

    private AsyncLineWriter(AccessLogFormat format, Writer writer, boolean closeWriter, String name) {
        this.format = format;
        this.writer = writer;
        this.closeWriter = closeWriter;
        this.name = name;
        this.thread = new Thread(this::run, "gatehouse-access-log");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Appends lines to {@code file}. */
    public static AccessLog toFile(Path file, AccessLogFormat format) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.WRITE);
            return new AsyncLineWriter(format, w, true, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open access log " + file, e);
        }
    }

    /** Writes lines to {@code out}, which is flushed but not closed. */
    public static AccessLog toStream(OutputStream out, AccessLogFormat format) {
        return new AsyncLineWriter(format, new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8)),
                false, "stream");
    }

    @Override
    public void log(AccessLogEntry entry) {
        if (closed) {
            return;
        }
        String line = format.format(entry);
        if (!queue.offer(line)) {
            long n = dropped.incrementAndGet();
            if (n % 10_000 == 1) {
                LOG.warn("access log {} cannot keep up: {} lines dropped so far", name, n);
            }
        }
    }

    private void run() {
        List<String> batch = new ArrayList<>(256);
        try {
            while (true) {
                String first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, 1023);
                boolean stop = false;
                for (String line : batch) {
                    if (line == POISON) {
                        stop = true;
                        break;
                    }
                    writer.write(line);
                    writer.write('\n');
                }
                batch.clear();
                writer.flush();
                if (stop) {
                    return;
                }
            }
        } catch (IOException e) {
            LOG.warn("access log {} failed; no further lines are written: {}", name, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            queue.put(POISON);
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (closeWriter) {
                writer.close();
            } else {
                writer.flush();
            }
        } catch (IOException e) {
            LOG.warn("access log {} could not be closed: {}", name, e.toString());
        }
        if (dropped.get() > 0) {
            LOG.warn("access log {} dropped {} lines in all", name, dropped.get());
        }
    }
}
