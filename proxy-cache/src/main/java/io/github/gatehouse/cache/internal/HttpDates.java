package io.github.gatehouse.cache.internal;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP-date parsing and formatting (RFC 9110 §5.6.7). Parsing accepts exactly the three forms a recipient must accept
 * and nothing else: the IMF-fixdate ({@code Sun, 06 Nov 1994 08:49:37 GMT}), the obsolete RFC 850 form
 * ({@code Sunday, 06-Nov-94 08:49:37 GMT}) and the asctime form ({@code Sun Nov  6 08:49:37 1994}). Names are
 * case-sensitive, fields have their fixed widths (a one-digit hour is not a date), and the calendar must be valid;
 * the day name is not checked against the date. A leap second ({@code :60}) reads as {@code :59}.
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class HttpDates {
    /** The IMF-fixdate: unlike {@code RFC_1123_DATE_TIME}, always a two-digit day. */
    private static final DateTimeFormatter IMF = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US);
    private static final String DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
    private static final String LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
    private static final String MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
    private static final String TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
    private static final Pattern IMF_FIXDATE = Pattern.compile(DAY + ", (\\d{2}) " + MONTH + " (\\d{4}) " + TIME + " GMT");
    private static final Pattern RFC850 = Pattern.compile(LONG_DAY + ", (\\d{2})-" + MONTH + "-(\\d{2}) " + TIME + " GMT");
    private static final Pattern ASCTIME = Pattern.compile(DAY + " " + MONTH + " ([ \\d]\\d) " + TIME + " (\\d{4})");
    private static final List<String> MONTHS = List.of("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
            "Oct", "Nov", "Dec");

    private HttpDates() {
    }

    /** The instant, or {@code null} if {@code value} is absent or not an HTTP-date (surrounding whitespace aside). */
    public static Instant parse(String value) {
        if (value == null) {
            return null;
        }
        String v = value.trim();
        try {
            Matcher m = IMF_FIXDATE.matcher(v);
            if (m.matches()) {
                return at(Integer.parseInt(m.group(3)), m.group(2), m.group(1), m.group(4), m.group(5), m.group(6));
            }
            m = RFC850.matcher(v);
            if (m.matches()) {
                int year = 1900 + Integer.parseInt(m.group(3));
                // a two-digit year more than 50 years ahead is in the past (RFC 9110 §5.6.7); 1900 + yy is never
                // ahead, so move it forward a century unless that puts it more than 50 years ahead
                if (year + 100 <= ZonedDateTime.now(ZoneOffset.UTC).getYear() + 50) {
                    year += 100;
                }
                return at(year, m.group(2), m.group(1), m.group(4), m.group(5), m.group(6));
            }
            m = ASCTIME.matcher(v);
            if (m.matches()) {
                return at(Integer.parseInt(m.group(6)), m.group(1), m.group(2).trim(), m.group(3), m.group(4), m.group(5));
            }
        } catch (DateTimeException e) {
            return null; // 31 Feb, hour 24, minute 61 ...
        }
        return null;
    }

    private static Instant at(int year, String month, String day, String hour, String minute, String second) {
        int sec = Integer.parseInt(second);
        if (sec == 60) {
            sec = 59; // a leap second
        }
        return LocalDateTime.of(year, MONTHS.indexOf(month) + 1, Integer.parseInt(day), Integer.parseInt(hour),
                Integer.parseInt(minute), sec).toInstant(ZoneOffset.UTC);
    }

    /** IMF-fixdate form of {@code instant}. */
    public static String format(Instant instant) {
        return IMF.format(instant.atZone(ZoneOffset.UTC));
    }
}
