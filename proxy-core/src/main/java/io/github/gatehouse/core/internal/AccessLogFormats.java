package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import java.time.Duration;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** The built-in access log formats. */
public final class AccessLogFormats {
    private AccessLogFormats() {
    }

    private static final DateTimeFormatter CLF_TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneId.systemDefault());

    /**
     * Squid's native {@code access.log} line. Result codes follow Squid's: {@code TCP_DENIED} for every request the
     * proxy refused ({@link AccessLogEntry#denied()}), with {@code HIER_NONE/-} as no upstream was reached;
     * {@code TCP_TUNNEL/200} for a {@code CONNECT} tunnel, logged when it closed, with the bytes sent to the client;
     * the cache's outcome ({@code TCP_HIT}, {@code TCP_REFRESH_MODIFIED}, ...), else {@code TCP_MISS} when an
     * upstream was asked and {@code NONE} when the proxy answered without one (a malformed request).
     */
    public static final AccessLogFormat SQUID = e -> {
        long ms = e.start().toEpochMilli() + e.duration().toMillis();
        StringBuilder sb = new StringBuilder(160);
        sb.append(ms / 1000).append('.');
        pad3(sb, ms % 1000);
        String elapsed = Long.toString(e.duration().toMillis());
        sb.append(' ');
        for (int i = elapsed.length(); i < 6; i++) {
            sb.append(' ');
        }
        sb.append(elapsed).append(' ').append(e.clientAddress()).append(' ')
                .append(squidAction(e)).append('/');
        pad3(sb, e.status());
        sb.append(' ').append(e.bytesOut()).append(' ').append(e.method()).append(' ').append(e.target()).append(' ')
                .append(e.user() == null ? "-" : e.user()).append(' ')
                .append(e.upstream() == null || e.denied() ? "HIER_NONE/-" : "HIER_DIRECT/" + e.upstream()).append(" -");
        return sb.toString();
    };

    /**
     * Apache's combined log format, then, as Apache's own extensions do, three fields at the end: the bytes received
     * from the client (mod_logio's {@code %I}; for a tunnel, client to origin), the duration in microseconds
     * ({@code %D}), and {@code denied} when the proxy refused the request ({@code -} otherwise).
     */
    public static final AccessLogFormat COMBINED = e -> {
        StringBuilder sb = new StringBuilder(200);
        sb.append(e.clientAddress()).append(" - ").append(e.user() == null ? "-" : clfToken(e.user()))
                .append(" [").append(CLF_TIME.format(e.start())).append("] \"")
                .append(e.method()).append(' ').append(clfQuoted(e.target())).append(' ').append(e.protocol())
                .append("\" ").append(e.status()).append(' ').append(e.bytesOut() == 0 ? "-" : Long.toString(e.bytesOut()))
                .append(" \"").append(e.referer() == null ? "-" : clfQuoted(e.referer())).append("\" \"")
                .append(e.userAgent() == null ? "-" : clfQuoted(e.userAgent())).append("\" ")
                .append(e.bytesIn()).append(' ').append(micros(e)).append(' ').append(e.denied() ? "denied" : "-");
        return sb.toString();
    };

    /** One JSON object per line. */
    public static final AccessLogFormat JSON = e -> {
        StringBuilder sb = new StringBuilder(300);
        sb.append('{');
        field(sb, "time", e.start().toString()).append(',');
        field(sb, "id", e.exchangeId()).append(',');
        sb.append("\"duration_ms\":").append(e.duration().toMillis()).append(',');
        field(sb, "client", e.clientAddress()).append(',');
        field(sb, "user", e.user()).append(',');
        field(sb, "method", e.method()).append(',');
        field(sb, "target", e.target()).append(',');
        field(sb, "protocol", e.protocol()).append(',');
        sb.append("\"status\":").append(e.status()).append(',');
        sb.append("\"bytes_in\":").append(e.bytesIn()).append(',');
        sb.append("\"bytes_out\":").append(e.bytesOut()).append(',');
        field(sb, "upstream", e.upstream()).append(',');
        field(sb, "cache", e.cacheStatus() == null ? null : e.cacheStatus().name()).append(',');
        field(sb, "referer", e.referer()).append(',');
        field(sb, "user_agent", e.userAgent()).append(',');
        field(sb, "reason", e.reason()).append(',');
        sb.append("\"completed\":").append(e.completed()).append(',');
        sb.append("\"tries\":").append(e.tries()).append(',');
        sb.append("\"denied\":").append(e.denied()).append(',');
        sb.append("\"background\":").append(e.background());
        return sb.append('}').toString();
    };

    static String squidAction(AccessLogEntry e) {
        if (e.denied()) {
            return "TCP_DENIED";
        }
        if (e.method().equals("CONNECT")) {
            return e.status() >= 200 && e.status() < 300 ? "TCP_TUNNEL" : "NONE";
        }
        if (e.cacheStatus() != null) {
            return switch (e.cacheStatus()) {
                case HIT -> "TCP_HIT";
                case STALE -> "TCP_STALE_HIT";
                case REFRESH_UNMODIFIED -> "TCP_REFRESH_UNMODIFIED";
                case REFRESH_MODIFIED -> "TCP_REFRESH_MODIFIED";
                case MISS -> "TCP_MISS";
                case PURGE -> "TCP_PURGE";
            };
        }
        return e.upstream() == null ? "NONE" : "TCP_MISS";
    }

    private static long micros(AccessLogEntry e) {
        Duration d = e.duration();
        return d.getSeconds() * 1_000_000L + d.getNano() / 1_000;
    }

    private static void pad3(StringBuilder sb, long n) {
        if (n < 100) {
            sb.append('0');
        }
        if (n < 10) {
            sb.append('0');
        }
        sb.append(n);
    }

    private static String clfToken(String s) {
        return s.replaceAll("[\\s\"\\\\]", "_");
    }

    private static String clfQuoted(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static StringBuilder field(StringBuilder sb, String name, String value) {
        sb.append('"').append(name).append("\":");
        if (value == null) {
            return sb.append("null");
        }
        sb.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"');
    }
}
