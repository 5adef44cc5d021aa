package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.AccessLogEntry;

/** The access log that records nothing; the relay recognises it and skips building entries. */
public final class NoAccessLog implements AccessLog {
    /** The one instance. */
    public static final NoAccessLog INSTANCE = new NoAccessLog();

    private NoAccessLog() {
    }

    @Override
    public void log(AccessLogEntry entry) {
    }

    @Override
    public String toString() {
        return "AccessLog.off";
    }
}
