package io.github.gatehouse.cache;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A freshness rule for URLs whose origins do not say how long their responses stay fresh (Squid's
 * {@code refresh_pattern}): package mirrors, artefact stores and old static servers often send neither
 * {@code Cache-Control} nor {@code Expires}, and sometimes no validator either, so RFC 9111 alone would never reuse
 * their answers.
 *
 * <p><b>Matching.</b> {@link HttpCaches.Builder#rule} adds rules in order; for each request the cache takes the
 * first rule whose {@link #pattern()} is found ({@link java.util.regex.Matcher#find()}, so anchor it with {@code ^}
 * or {@code $} as needed) in the request's full URL {@code scheme://host[:port]/path[?query]}: lower-case scheme and
 * host, the port only when it is not the scheme's default, the raw (still percent-encoded) path and query. Matching
 * is case-sensitive unless the rule was written with {@code -i} (or its pattern has {@link Pattern#CASE_INSENSITIVE}).
 *
 * <p><b>What a matching rule does.</b> It applies to responses with status 200, 203, 204, 300, 301 or 308 (the
 * positive answers among RFC 9110 §15.1's heuristically cacheable statuses; a 404 is not kept for a month because a
 * rule says {@code .deb} files are immutable). Such a response:
 * <ul>
 *   <li>is storable even without validators or explicit freshness (as long as the rule's {@link #max()} is above
 *       zero or the response has a validator; {@code no-store}, {@code private} and the privacy rules still
 *       apply);</li>
 *   <li>when the origin gave no explicit freshness ({@code s-maxage}, {@code max-age}, {@code Expires}), is fresh for
 *       {@link #percent()} percent of its age at the time it was received ({@code Date - Last-Modified}), or for
 *       {@link #min()} when it has no {@code Last-Modified}, and always for {@link #min()} at least and {@link #max()}
 *       at most;</li>
 *   <li>when the origin did give explicit freshness, keeps the origin's: explicit freshness wins, unless the rule has
 *       {@link Option#OVERRIDE_EXPIRE}.</li>
 * </ul>
 * A forced TTL for the status ({@link HttpCaches.Builder#forceTtl}) wins over every rule.
 *
 * <p><b>Squid's syntax.</b> {@link #parse} reads {@code [-i] REGEX MIN PERCENT% MAX [OPTION ...]}, MIN and MAX in
 * minutes, for example {@code -i \.(deb|rpm)$ 43200 100% 43200 override-expire}. The options are listed in
 * {@link Option}; Squid options this cache does not implement are refused rather than ignored.
 *
 * <p><b>Threading.</b> Immutable and thread-safe.
 */
public final class CacheRule {
    /** The most MIN and MAX may be: one year, as in Squid. */
    public static final Duration MAX_FRESHNESS = Duration.ofDays(365);

    /** What a rule may override, each named for what it takes away from the origin or the client. */
    public enum Option {
        /**
         * {@code override-expire}: the rule's MIN and MAX bound the origin's own explicit freshness too
         * ({@code s-maxage}, {@code max-age}, {@code Expires}): a response with {@code max-age=0} is still fresh for
         * MIN, one with {@code max-age=31536000} for MAX at most.
         */
        OVERRIDE_EXPIRE("override-expire"),
        /**
         * {@code override-no-cache}: the origin's unqualified {@code Cache-Control: no-cache} (or targeted
         * {@code no-cache}) no longer forces a revalidation before each reuse; the response is served while fresh.
         * {@code no-store} and {@code private} still keep it out of the cache. Squid's old spelling
         * {@code ignore-no-cache} is read as this option.
         */
        OVERRIDE_NO_CACHE("override-no-cache"),
        /**
         * {@code ignore-reload}: the client's reload directives ({@code Cache-Control: no-cache},
         * {@code Cache-Control: max-age=N}, {@code Pragma: no-cache}) are ignored for matching URLs: a fresh stored
         * response is served anyway. Meant for URLs whose content never changes (a versioned package file), where
         * a browser's reload should not go to the origin.
         */
        IGNORE_RELOAD("ignore-reload");

        private final String token;

        Option(String token) {
            this.token = token;
        }

        /** The option as written in a rule, such as {@code override-expire}. */
        public String token() {
            return token;
        }
    }

    private final Pattern pattern;
    private final Duration min;
    private final int percent;
    private final Duration max;
    private final Set<Option> options;

    private CacheRule(Pattern pattern, Duration min, int percent, Duration max, Set<Option> options) {
        this.pattern = pattern;
        this.min = min;
        this.percent = percent;
        this.max = max;
        this.options = options;
    }

    /**
     * A rule for URLs in which {@code pattern} is found: fresh for {@code percent} percent of the age since
     * {@code Last-Modified}, at least {@code min} and at most {@code max}.
     *
     * @throws IllegalArgumentException when {@code min} or {@code max} is negative or above {@link #MAX_FRESHNESS},
     *         {@code min > max}, or {@code percent} is outside 0..100000
     */
    public static CacheRule of(Pattern pattern, Duration min, int percent, Duration max, Option... options) {
        requireNonNull(pattern, "pattern");
        requireNonNull(min, "min");
        requireNonNull(max, "max");
        requireNonNull(options, "options");
        checkArgument(!min.isNegative() && min.compareTo(MAX_FRESHNESS) <= 0, "min: %s (expected: 0..%s)", min, MAX_FRESHNESS);
        checkArgument(!max.isNegative() && max.compareTo(MAX_FRESHNESS) <= 0, "max: %s (expected: 0..%s)", max, MAX_FRESHNESS);
        checkArgument(min.compareTo(max) <= 0, "min: %s is above max: %s (expected: min <= max)", min, max);
        checkArgument(percent >= 0 && percent <= 100_000, "percent: %s (expected: 0..100000)", percent);
        Set<Option> set = EnumSet.noneOf(Option.class);
        for (Option o : options) {
            requireNonNull(o, "option");
            set.add(o);
        }
        return new CacheRule(pattern, min, percent, max, Collections.unmodifiableSet(set));
    }

    /**
     * Parses Squid's {@code refresh_pattern} syntax: {@code [-i] REGEX MIN PERCENT% MAX [OPTION ...]}, separated by
     * white space, MIN and MAX in whole minutes (0..525600), PERCENT a whole number with {@code %}, each OPTION one of
     * {@link Option}'s {@linkplain Option#token() tokens}.
     *
     * @throws IllegalArgumentException naming the part that is wrong
     */
    public static CacheRule parse(String rule) {
        requireNonNull(rule, "rule");
        List<String> parts = new ArrayList<>(List.of(rule.trim().split("\\s+")));
        parts.removeIf(String::isEmpty);
        boolean ignoreCase = !parts.isEmpty() && parts.get(0).equals("-i");
        if (ignoreCase) {
            parts.remove(0);
        }
        if (parts.size() < 4) {
            throw new IllegalArgumentException("cache rule '" + rule + "' (expected: [-i] REGEX MIN PERCENT% MAX [OPTIONS],"
                    + " e.g. -i \\.deb$ 43200 100% 43200)");
        }
        Pattern pattern;
        try {
            pattern = Pattern.compile(parts.get(0), ignoreCase ? Pattern.CASE_INSENSITIVE : 0);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("cache rule '" + rule + "': REGEX '" + parts.get(0)
                    + "' is not a regular expression (" + e.getDescription() + ")", e);
        }
        Duration min = minutes(rule, "MIN", parts.get(1));
        String pct = parts.get(2);
        int percent;
        try {
            if (!pct.endsWith("%")) {
                throw new NumberFormatException();
            }
            percent = Integer.parseInt(pct.substring(0, pct.length() - 1));
            if (percent < 0 || percent > 100_000) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cache rule '" + rule + "': PERCENT '" + pct
                    + "' (expected: a whole number 0..100000 followed by %, e.g. 20%)");
        }
        Duration max = minutes(rule, "MAX", parts.get(3));
        if (min.compareTo(max) > 0) {
            throw new IllegalArgumentException("cache rule '" + rule + "': MIN " + parts.get(1) + " is above MAX "
                    + parts.get(3) + " (expected: MIN <= MAX)");
        }
        List<Option> options = new ArrayList<>();
        for (String token : parts.subList(4, parts.size())) {
            options.add(option(rule, token));
        }
        return of(pattern, min, percent, max, options.toArray(new Option[0]));
    }

    private static Duration minutes(String rule, String what, String value) {
        try {
            long m = Long.parseLong(value);
            if (m < 0 || m > MAX_FRESHNESS.toMinutes()) {
                throw new NumberFormatException();
            }
            return Duration.ofMinutes(m);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cache rule '" + rule + "': " + what + " '" + value
                    + "' (expected: whole minutes 0.." + MAX_FRESHNESS.toMinutes() + ")");
        }
    }

    private static Option option(String rule, String token) {
        String t = token.toLowerCase(Locale.ROOT);
        if (t.equals("ignore-no-cache")) {
            return Option.OVERRIDE_NO_CACHE; // Squid's older name
        }
        for (Option o : Option.values()) {
            if (o.token.equals(t)) {
                return o;
            }
        }
        StringBuilder known = new StringBuilder();
        for (Option o : Option.values()) {
            known.append(known.length() == 0 ? "" : ", ").append(o.token);
        }
        throw new IllegalArgumentException("cache rule '" + rule + "': unknown option '" + token + "' (expected: "
                + known + ")");
    }

    /** The pattern looked for in the full URL. */
    public Pattern pattern() {
        return pattern;
    }

    /** The shortest freshness lifetime a matching response gets. */
    public Duration min() {
        return min;
    }

    /** The share of the age since {@code Last-Modified} that a matching response stays fresh, in percent. */
    public int percent() {
        return percent;
    }

    /** The longest freshness lifetime a matching response gets. */
    public Duration max() {
        return max;
    }

    /** The options (an unmodifiable set). */
    public Set<Option> options() {
        return options;
    }

    /** Whether the rule has {@code option}. */
    public boolean has(Option option) {
        return options.contains(option);
    }

    /** Whether {@link #pattern()} is found in {@code url} (a full URL as described above). */
    public boolean matches(String url) {
        return pattern.matcher(url).find();
    }

    /** The rule in Squid's syntax, as {@link #parse} reads it. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        if ((pattern.flags() & Pattern.CASE_INSENSITIVE) != 0) {
            sb.append("-i ");
        }
        sb.append(pattern.pattern()).append(' ').append(min.toMinutes()).append(' ').append(percent).append("% ")
                .append(max.toMinutes());
        for (Option o : options) {
            sb.append(' ').append(o.token);
        }
        return sb.toString();
    }
}
