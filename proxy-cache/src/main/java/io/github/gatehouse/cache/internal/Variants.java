package io.github.gatehouse.cache.internal;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;

/**
 * Normal forms of request fields used as secondary cache keys (RFC 9111 §4.1: "normalizing both header field values
 * in a way that is known to have identical semantics").
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class Variants {
    private Variants() {
    }

    /**
     * The normal form of a weighted list such as {@code Accept-Encoding} or {@code Accept-Language} (RFC 9110 §12.4.2,
     * §12.5.3, §12.5.4): members lower-cased, whitespace dropped, {@code q} written without trailing zeros and left
     * out when it is 1, sorted by value; for a member listed twice the first occurrence counts. A member whose weight
     * is not a valid qvalue is kept as it was written (lower-cased), so such requests only share a variant with
     * identical ones. For example {@code "GZIP, br;q=0.50"} and {@code "br;q=0.5,gzip;q=1.000"} give
     * {@code "br;q=0.5,gzip"}.
     */
    public static String normalizeWeightedList(List<String> members) {
        TreeMap<String, String> byValue = new TreeMap<>();
        List<String> odd = new ArrayList<>(0);
        for (String member : members) {
            String m = member.replaceAll("\\s+", "").toLowerCase(Locale.ROOT);
            if (m.isEmpty()) {
                continue;
            }
            int semi = m.indexOf(';');
            String value = semi < 0 ? m : m.substring(0, semi);
            String weight = semi < 0 ? "" : m.substring(semi + 1);
            if (weight.isEmpty()) {
                byValue.putIfAbsent(value, value);
            } else if (weight.startsWith("q=") && weight.substring(2).matches("0(\\.\\d{0,3})?|1(\\.0{0,3})?")) {
                BigDecimal q = new BigDecimal(weight.substring(2)).stripTrailingZeros();
                String normal = q.compareTo(BigDecimal.ONE) == 0 ? value
                        : value + ";q=" + (q.signum() == 0 ? "0" : q.toPlainString());
                byValue.putIfAbsent(value, normal);
            } else {
                odd.add(m);
            }
        }
        List<String> out = new ArrayList<>(byValue.values());
        odd.sort(null);
        out.addAll(odd);
        return String.join(",", out);
    }
}
