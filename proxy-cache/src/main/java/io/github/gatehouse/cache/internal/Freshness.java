package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheRule;
import io.github.gatehouse.core.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and age (§4.2.3) for a shared cache.
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class Freshness {
    /** Status codes heuristically cacheable (RFC 9110 §15.1). */
    public static final Set<Integer> HEURISTICALLY_CACHEABLE = Set.of(200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501);

    /** The statuses a {@link CacheRule} applies to: the positive answers among {@link #HEURISTICALLY_CACHEABLE}. */
    public static final Set<Integer> RULE_STATUSES = Set.of(200, 203, 204, 300, 301, 308);

    private Freshness() {
    }

    /**
     * As {@link #lifetime(int, HttpHeaders, Directives, Instant, Map, Duration)}, under {@code rule} (the first cache
     * rule matching the URL, or {@code null}): for a status in {@link #RULE_STATUSES} without a forced TTL, explicit
     * freshness is kept (bounded by the rule's MIN and MAX with {@link CacheRule.Option#OVERRIDE_EXPIRE}); without it,
     * the rule's percentage of {@code Date - Last-Modified}, or MIN without {@code Last-Modified}, bounded by MIN and
     * MAX. The heuristic cap does not apply under a rule: the rule's MAX is the administrator's cap.
     */
    public static Duration lifetime(int status, HttpHeaders headers, Directives cc, Instant responseTime,
            Map<Integer, Duration> forcedTtl, Duration heuristicCap, CacheRule rule) {
        if (!ruleApplies(rule, status, forcedTtl)) {
            return lifetime(status, headers, cc, responseTime, forcedTtl, heuristicCap);
        }
        if (hasExplicitFreshness(headers, cc)) {
            Duration origin = lifetime(status, headers, cc, responseTime, Map.of(), heuristicCap);
            return rule.has(CacheRule.Option.OVERRIDE_EXPIRE) ? clamp(origin, rule.min(), rule.max()) : origin;
        }
        Instant date = dateValue(headers, responseTime);
        Instant lastModified = HttpDates.parse(headers.get("Last-Modified"));
        Duration base = lastModified != null && lastModified.isBefore(date)
                ? Duration.between(lastModified, date).multipliedBy(rule.percent()).dividedBy(100)
                : rule.min();
        return clamp(base, rule.min(), rule.max());
    }

    /** Whether {@code rule} decides the freshness of a response with {@code status} (see {@link #RULE_STATUSES}). */
    public static boolean ruleApplies(CacheRule rule, int status, Map<Integer, Duration> forcedTtl) {
        return rule != null && RULE_STATUSES.contains(status) && !forcedTtl.containsKey(status);
    }

    private static Duration clamp(Duration d, Duration min, Duration max) {
        return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
    }

    /**
     * The freshness lifetime of a response for a shared cache: a forced TTL for its status if configured, else
     * {@code s-maxage}, {@code max-age}, {@code Expires - Date}, else 10% of {@code Date - Last-Modified} (capped at
     * {@code heuristicCap}) where a heuristic is allowed, else zero. On the safe side: conflicting directives (see
     * {@link Directives#seconds}), several {@code Expires} lines and an {@code Expires} that is not an HTTP-date all
     * give zero (stale, RFC 9111 §4.2.1, §5.3). When {@code cc} comes from a targeted field, {@code Expires} is not
     * looked at (RFC 9213 §2.2).
     */
    public static Duration lifetime(int status, HttpHeaders headers, Directives cc, Instant responseTime,
            Map<Integer, Duration> forcedTtl, Duration heuristicCap) {
        Duration forced = forcedTtl.get(status);
        if (forced != null) {
            return forced;
        }
        long sMaxAge = cc.seconds("s-maxage");
        if (sMaxAge >= 0) {
            return Duration.ofSeconds(sMaxAge);
        }
        long maxAge = cc.seconds("max-age");
        if (maxAge >= 0) {
            return Duration.ofSeconds(maxAge);
        }
        List<String> expiresLines = cc.targetedField() != null ? List.of() : headers.getAll("Expires");
        Instant date = dateValue(headers, responseTime);
        if (expiresLines.size() > 1) {
            return Duration.ZERO; // several Expires lines: stale (RFC 9111 §4.2.1)
        }
        if (!expiresLines.isEmpty()) {
            String expiresValue = expiresLines.get(0);
            Instant expires = HttpDates.parse(expiresValue);
            if (expires == null || !expires.isAfter(date)) {
                return Duration.ZERO; // invalid Expires means already expired (RFC 9111 §5.3)
            }
            return Duration.between(date, expires);
        }
        if (heuristicAllowed(status, cc)) {
            Instant lastModified = HttpDates.parse(headers.get("Last-Modified"));
            if (lastModified != null && lastModified.isBefore(date)) {
                Duration tenth = Duration.between(lastModified, date).dividedBy(10);
                return tenth.compareTo(heuristicCap) > 0 ? heuristicCap : tenth;
            }
        }
        return Duration.ZERO;
    }

    /**
     * Whether a response carries explicit freshness information (so no heuristic is needed): {@code s-maxage},
     * {@code max-age}, or, unless {@code cc} comes from a targeted field, {@code Expires}.
     */
    public static boolean hasExplicitFreshness(HttpHeaders headers, Directives cc) {
        return cc.has("s-maxage") || cc.has("max-age") || (cc.targetedField() == null && headers.contains("Expires"));
    }

    /**
     * Whether a heuristic freshness may be used: only for the statuses RFC 9110 §15.1 calls heuristically cacheable.
     * {@code public} alone does not make, say, a 500 or a 302 fresh for a while (RFC 9111 §4.2.2 would allow it; this
     * cache stores those only with explicit freshness).
     */
    public static boolean heuristicAllowed(int status, Directives cc) {
        return HEURISTICALLY_CACHEABLE.contains(status);
    }

    /** The {@code Date} value, or {@code responseTime} when it is missing or invalid. */
    public static Instant dateValue(HttpHeaders headers, Instant responseTime) {
        Instant date = HttpDates.parse(headers.get("Date"));
        return date != null ? date : responseTime;
    }

    /** The current age of a stored response (RFC 9111 §4.2.3), never negative. */
    public static Duration currentAge(HttpHeaders headers, Instant requestTime, Instant responseTime, Instant now) {
        Instant date = dateValue(headers, responseTime);
        Duration apparentAge = nonNegative(Duration.between(date, responseTime));
        long ageValue = ageValue(headers);
        Duration responseDelay = nonNegative(Duration.between(requestTime, responseTime));
        Duration correctedAgeValue = Duration.ofSeconds(ageValue).plus(responseDelay);
        Duration correctedInitialAge = apparentAge.compareTo(correctedAgeValue) > 0 ? apparentAge : correctedAgeValue;
        Duration residentTime = nonNegative(Duration.between(responseTime, now));
        return correctedInitialAge.plus(residentTime);
    }

    /**
     * The {@code Age} value in seconds: with a list value or several lines the first member decides; one that is not
     * a non-negative integer is ignored (0) (RFC 9111 §5.1).
     */
    static long ageValue(HttpHeaders headers) {
        String first = headers.get("Age");
        if (first == null) {
            return 0;
        }
        int comma = first.indexOf(',');
        return Directives.parseDelta((comma < 0 ? first : first.substring(0, comma)).trim());
    }

    private static Duration nonNegative(Duration d) {
        return d.isNegative() ? Duration.ZERO : d;
    }
}
