package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.internal.Cidr;
import io.github.gatehouse.filter.internal.HostMatcher;
import io.github.gatehouse.filter.internal.HostNames;
import io.github.gatehouse.filter.internal.UrlPattern;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.DayOfWeek;
import java.time.LocalTime;
import java.time.ZonedDateTime;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Ready {@link AccessCondition}s for {@link AccessRules}: host, URL, method, client address, port, user and time.
 * Every factory checks its arguments at once and throws {@link IllegalArgumentException} naming a bad value; every
 * condition is immutable, thread-safe and has a {@code toString()} that names it in deny reasons.
 *
 * <p><b>Threading.</b> All conditions are safe to share between exchanges and threads; none blocks.
 */
public final class AccessConditions {
    private AccessConditions() {
    }

    /** Holds for every request. */
    public static AccessCondition all() {
        return named("all", e -> true);
    }

    /**
     * The target host matches one of {@code patterns} (same forms and normalisation as {@link HostRules}). Also
     * judges {@code CONNECT} targets.
     */
    public static AccessCondition host(String... patterns) {
        requireNonNull(patterns, "patterns");
        nonEmpty(patterns, "host");
        HostMatcher.Builder b = new HostMatcher.Builder(patterns.length, false);
        for (String p : patterns) {
            b.add(requireNonNull(p, "pattern"));
        }
        HostMatcher matcher = b.build();
        return named("host " + String.join(",", patterns), e -> {
            try {
                return matcher.match(HostNames.normalize(e.request().host())) != null;
            } catch (IllegalArgumentException ex) {
                return false;
            }
        });
    }

    /** The target host matches a rule of {@code list} (a list file, reloadable), whatever that list's mode. */
    public static AccessCondition hostList(HostRules list) {
        requireNonNull(list, "list");
        return named("host in " + list, e -> list.matchingRule(e.request().host()).isPresent());
    }

    /**
     * The request URL matches one of {@code globs} ({@code scheme://host[:port][/path-glob]}; see
     * {@code https://*.example.com/admin/**}): {@code *} within a path segment, {@code **} across segments.
     */
    public static AccessCondition url(String... globs) {
        requireNonNull(globs, "globs");
        nonEmpty(globs, "url");
        List<UrlPattern> patterns = Arrays.stream(globs).map(g -> UrlPattern.parse(requireNonNull(g, "glob")))
                .collect(Collectors.toUnmodifiableList());
        return named("url " + String.join(",", globs), e -> {
            for (UrlPattern p : patterns) {
                if (p.matches(e.request())) {
                    return true;
                }
            }
            return false;
        });
    }

    /**
     * The request URL ({@code scheme://host:port/path?query}, port always present, path normalised) matches
     * {@code regex} somewhere ({@link java.util.regex.Matcher#find}).
     */
    public static AccessCondition urlRegex(String regex) {
        requireNonNull(regex, "regex");
        Pattern pattern;
        try {
            pattern = Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new IllegalArgumentException("urlRegex: '" + regex + "' (expected: a valid regex): " + e.getDescription(), e);
        }
        return named("url ~ " + regex, e -> {
            String q = e.request().query().orElse(null);
            String url = e.request().scheme() + "://" + e.request().host() + ":" + e.request().port()
                    + UrlPattern.normalizePath(e.request().path()) + (q == null ? "" : "?" + q);
            return pattern.matcher(url).find();
        });
    }

    /** The normalised request path matches {@code glob} ({@code /admin/**}, {@code /*.php}). */
    public static AccessCondition path(String glob) {
        requireNonNull(glob, "glob");
        if (!glob.startsWith("/")) {
            throw new IllegalArgumentException("path: '" + glob + "' (expected: a glob starting with /)");
        }
        Pattern p = Pattern.compile(UrlPattern.globToRegex(glob));
        return named("path " + glob, e -> p.matcher(UrlPattern.normalizePath(e.request().path())).matches());
    }

    /** The method is one of {@code methods} (case-sensitive per RFC 9110, given in upper case usually). */
    public static AccessCondition method(String... methods) {
        requireNonNull(methods, "methods");
        nonEmpty(methods, "method");
        for (String m : methods) {
            if (m == null || m.isEmpty() || !m.chars().allMatch(c -> c > 32 && c < 127 && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0)) {
                throw new IllegalArgumentException("method: '" + m + "' (expected: a method token such as GET)");
            }
        }
        Set<String> set = Set.of(methods);
        return named("method " + String.join(",", methods), e -> set.contains(e.request().method()));
    }

    /** The request is a {@code CONNECT} tunnel request. */
    public static AccessCondition tunnel() {
        return named("CONNECT", e -> e.mode() == Exchange.Mode.TUNNEL);
    }

    /** The client's address is in one of {@code cidrs} ({@code 10.0.0.0/8}, {@code 2001:db8::/32}, {@code ::1}). */
    public static AccessCondition clientAddress(String... cidrs) {
        requireNonNull(cidrs, "cidrs");
        nonEmpty(cidrs, "clientAddress");
        List<Cidr> blocks = Arrays.stream(cidrs).map(c -> Cidr.parse(requireNonNull(c, "cidr")))
                .collect(Collectors.toUnmodifiableList());
        return named("client " + String.join(",", cidrs), e -> {
            InetSocketAddress client = e.clientAddress();
            if (client == null || client.getAddress() == null) {
                return false;
            }
            for (Cidr b : blocks) {
                if (b.contains(client.getAddress())) {
                    return true;
                }
            }
            return false;
        });
    }

    /** The target (destination) port is one of {@code ports}. */
    public static AccessCondition port(int... ports) {
        requireNonNull(ports, "ports");
        if (ports.length == 0) {
            throw new IllegalArgumentException("port: no ports (expected: at least one)");
        }
        for (int p : ports) {
            checkPort(p);
        }
        int[] copy = ports.clone();
        Arrays.sort(copy);
        return named("port " + Arrays.stream(ports).mapToObj(String::valueOf).collect(Collectors.joining(",")),
                e -> Arrays.binarySearch(copy, e.request().port()) >= 0);
    }

    /** The target port is within {@code from..to} inclusive. */
    public static AccessCondition portRange(int from, int to) {
        checkPort(from);
        checkPort(to);
        if (from > to) {
            throw new IllegalArgumentException("portRange: " + from + ".." + to + " (expected: from <= to)");
        }
        return named("port " + from + "-" + to, e -> e.request().port() >= from && e.request().port() <= to);
    }

    /** The authenticated user is one of {@code users} (never holds for unauthenticated requests). */
    public static AccessCondition user(String... users) {
        requireNonNull(users, "users");
        nonEmpty(users, "user");
        Set<String> set = Set.of(users);
        return named("user " + String.join(",", users), e -> e.user().map(set::contains).orElse(false));
    }

    /** The authenticated user belongs to group {@code name}, whose members are {@code members} (copied). */
    public static AccessCondition group(String name, Collection<String> members) {
        requireNonNull(name, "name");
        Set<String> set = Set.copyOf(requireNonNull(members, "members"));
        return named("group " + name, e -> e.user().map(set::contains).orElse(false));
    }

    /**
     * The authenticated user passes {@code test} (for groups from a directory or the host application; the test
     * must be fast and must not block).
     */
    public static AccessCondition userMatching(String description, Predicate<String> test) {
        requireNonNull(description, "description");
        requireNonNull(test, "test");
        return named(description, e -> e.user().map(test::test).orElse(false));
    }

    /** Any authenticated user. */
    public static AccessCondition authenticated() {
        return named("authenticated", e -> e.user().isPresent());
    }

    /**
     * The time now, on {@code clock} in the clock's zone, is within {@code from} (inclusive) and {@code to}
     * (exclusive) on one of {@code days} (all days when none are given). A range with {@code from} after
     * {@code to} spans midnight: {@code 22:00-06:00} on FRIDAY holds from Friday 22:00 to Saturday 06:00.
     */
    public static AccessCondition time(Clock clock, LocalTime from, LocalTime to, DayOfWeek... days) {
        requireNonNull(clock, "clock");
        requireNonNull(from, "from");
        requireNonNull(to, "to");
        requireNonNull(days, "days");
        if (from.equals(to)) {
            throw new IllegalArgumentException("time: " + from + "-" + to + " (expected: from != to)");
        }
        Set<DayOfWeek> set = days.length == 0 ? EnumSet.allOf(DayOfWeek.class) : EnumSet.copyOf(Arrays.asList(days));
        String desc = "time " + from + "-" + to + (days.length == 0 ? "" : " " + set.stream()
                .map(d -> d.name().substring(0, 3).toLowerCase(Locale.ROOT)).collect(Collectors.joining(",")));
        return named(desc, e -> {
            ZonedDateTime now = ZonedDateTime.now(clock);
            LocalTime t = now.toLocalTime();
            if (from.isBefore(to)) {
                return set.contains(now.getDayOfWeek()) && !t.isBefore(from) && t.isBefore(to);
            }
            if (!t.isBefore(from)) {
                return set.contains(now.getDayOfWeek());
            }
            return t.isBefore(to) && set.contains(now.getDayOfWeek().minus(1));
        });
    }

    /** Holds when {@code condition} does not. */
    public static AccessCondition not(AccessCondition condition) {
        requireNonNull(condition, "condition");
        return named("!" + condition, e -> !condition.test(e));
    }

    /** Holds when any of {@code conditions} holds. */
    public static AccessCondition anyOf(AccessCondition... conditions) {
        List<AccessCondition> list = List.of(requireNonNull(conditions, "conditions"));
        return named(list.stream().map(String::valueOf).collect(Collectors.joining(" or ", "(", ")")), e -> {
            for (AccessCondition c : list) {
                if (c.test(e)) {
                    return true;
                }
            }
            return false;
        });
    }

    /** Gives {@code condition} a description for deny reasons and logs. */
    public static AccessCondition named(String description, AccessCondition condition) {
        requireNonNull(description, "description");
        requireNonNull(condition, "condition");
        return new AccessCondition() {
            @Override
            public boolean test(Exchange exchange) {
                return condition.test(exchange);
            }

            @Override
            public String toString() {
                return description;
            }
        };
    }

    private static void checkPort(int p) {
        if (p < 1 || p > 65535) {
            throw new IllegalArgumentException("port: " + p + " (expected: 1..65535)");
        }
    }

    private static void nonEmpty(Object[] values, String what) {
        if (values.length == 0) {
            throw new IllegalArgumentException(what + ": no values (expected: at least one)");
        }
    }
}
