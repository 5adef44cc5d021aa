package io.github.gatehouse.cache.internal;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * HTTP-date parsing and formatting (RFC 9110 §5.6.7): IMF-fixdate, obsolete RFC 850 and asctime forms.
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class HttpDates {
    private static final DateTimeFormatter IMF = DateTimeFormatter.RFC_1123_DATE_TIME;
    private static final DateTimeFormatter RFC850 = DateTimeFormatter.ofPattern("dd-MMM-yy HH:mm:ss 'GMT'", Locale.US);
    private static final DateTimeFormatter ASCTIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.US);

    private HttpDates() {
    }

    /** The instant, or {@code null} if {@code value} is absent or not an HTTP-date. */
    public static Instant parse(String value) {
        if (value == null) {
            return null;
        }
        String v = value.trim();
        try {
            return ZonedDateTime.parse(v, IMF).toInstant();
        } catch (DateTimeParseException e) {
            // try the obsolete forms
        }
        try {
            // the weekday is left out: with a two-digit year it would contradict the century guessed by the parser
            ZonedDateTime t = LocalDateTime.parse(v.substring(v.indexOf(',') + 1).trim(), RFC850).atZone(ZoneOffset.UTC);
            // two-digit years more than 50 years ahead are in the past (RFC 9110 §5.6.7)
            if (t.getYear() > ZonedDateTime.now(ZoneOffset.UTC).getYear() + 50) {
                t = t.minusYears(100);
            }
            return t.toInstant();
        } catch (DateTimeParseException e) {
            // next
        }
        try {
            return LocalDateTime.parse(v, ASCTIME).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /** IMF-fixdate form of {@code instant}. */
    public static String format(Instant instant) {
        return IMF.format(instant.atZone(ZoneOffset.UTC));
    }
}
