package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.AsyncLineWriter;
import java.io.OutputStream;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records each finished exchange: the access log.
 *
 * <p>The relay calls {@link #log} once per exchange, after the last response byte was written or the exchange
 * failed, including exchanges the proxy answered itself (denied, unauthenticated, no route). The default access
 * log writes Squid-format lines to the slf4j logger {@code gatehouse.access} at INFO. File and stream logs write
 * on a background thread, so the relay never waits for the disk; {@link #close} flushes them.
 *
 * <p><b>Threading.</b> {@link #log} is called concurrently from I/O threads; implementations must be thread-safe
 * and must not block.
 */
@FunctionalInterface
public interface AccessLog extends AutoCloseable {

    /** Records one exchange. */
    void log(AccessLogEntry entry);

    /** Flushes and releases resources; called when the proxy stops. */
    @Override
    default void close() {
    }

    /** Squid-format lines to the slf4j logger {@code gatehouse.access} (the default). */
    static AccessLog slf4j() {
        return slf4j(AccessLogFormat.squid());
    }

    /** Lines in {@code format} to the slf4j logger {@code gatehouse.access} at INFO. */
    static AccessLog slf4j(AccessLogFormat format) {
        requireNonNull(format, "format");
        Logger logger = LoggerFactory.getLogger("gatehouse.access");
        return entry -> {
            if (logger.isInfoEnabled()) {
                logger.info(format.format(entry));
            }
        };
    }

    /** No access log. */
    static AccessLog off() {
        return io.github.gatehouse.core.internal.NoAccessLog.INSTANCE;
    }

    /** Squid native format, appended to {@code file}. */
    static AccessLog squidNative(Path file) {
        return file(file, AccessLogFormat.squid());
    }

    /** Apache combined format, appended to {@code file}. */
    static AccessLog combined(Path file) {
        return file(file, AccessLogFormat.combined());
    }

    /** One JSON object per line, appended to {@code file}. */
    static AccessLog json(Path file) {
        return file(file, AccessLogFormat.json());
    }

    /**
     * Lines in {@code format} appended to {@code file} (created if missing) by a background writer.
     *
     * @throws java.io.UncheckedIOException if the file cannot be opened for appending
     */
    static AccessLog file(Path file, AccessLogFormat format) {
        return AsyncLineWriter.toFile(requireNonNull(file, "file"), requireNonNull(format, "format"));
    }

    /** Lines in {@code format} written to {@code out} (not closed by {@link #close}) by a background writer. */
    static AccessLog stream(OutputStream out, AccessLogFormat format) {
        return AsyncLineWriter.toStream(requireNonNull(out, "out"), requireNonNull(format, "format"));
    }
}
