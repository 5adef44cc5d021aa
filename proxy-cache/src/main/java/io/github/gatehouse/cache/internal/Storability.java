package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.CacheRule;
import io.github.gatehouse.cache.EntryHead;
import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What this cache may store and how (RFC 9111 §3, §5.2.2; RFC 9213): the directives that govern it (a targeted
 * field, or {@code Cache-Control}), why a response may not be stored, whether its freshness can be known, the cache
 * rule for a URL, and the fields a stored copy must not keep.
 *
 * <p><b>Threading.</b> Stateless apart from the immutable configuration; safe from any thread.
 */
final class Storability {
    private final CacheConfig config;

    Storability(CacheConfig config) {
        this.config = config;
    }

    boolean mustRevalidate(StoredEntry entry, List<String> targeted) {
        Directives cc = responseDirectives(entry.head().headers(), targeted);
        return cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage");
    }

    /** Why the response may not be stored (RFC 9111 §3), or {@code null} if it may. */
    String reason(Exchange exchange, Pending st, int status, HttpHeaders headers) {
        RequestHead request = exchange.request();
        if (!request.method().equals("GET")) {
            return "method " + request.method();
        }
        if (st.storing() == Pending.Storing.REQUEST_NO_STORE) {
            return "request no-store";
        }
        if (status == 206) {
            if (!request.headers().contains("Range")) {
                return "206 to a request without Range";
            }
            if (st.stored() != null && PartialContent.Layout.of(st.stored().head()) == null) {
                return "206 to a revalidation"; // the cache asked for the whole representation
            }
            String why = PartialContent.unstorableReason(headers, config.maxObjectBytes());
            if (why != null) {
                return why;
            }
        } else if (status < 200 || status == 304 || status > 599) {
            return "status " + status;
        }
        Directives cc = responseDirectives(headers, targeted(exchange));
        if (cc.has("must-understand")) {
            if (!Freshness.HEURISTICALLY_CACHEABLE.contains(status) || status == 206) {
                return "must-understand with status " + status;
            }
        } else if (cc.has("no-store")) {
            return "no-store";
        }
        if (cc.isUnqualified("private")) {
            return "private";
        }
        if (request.headers().contains("Authorization")
                && !(cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate"))) {
            return "request has Authorization";
        }
        if (cookieForbidsStoring(cc, headers)) {
            // conservative default (as Varnish's): a cookie is usually one user's; the origin opts in with
            // public or s-maxage when the response really is shared
            return "Set-Cookie without public or s-maxage";
        }
        for (String v : headers.getTokens("Vary")) {
            if (v.equals("*")) {
                return "Vary: *";
            }
        }
        String cl = headers.get("Content-Length");
        if (cl != null) {
            try {
                if (Long.parseLong(cl.trim()) > config.maxObjectBytes()) {
                    return "larger than maxObjectSize";
                }
            } catch (NumberFormatException e) {
                return "invalid Content-Length";
            }
        }
        return freshnessKnowable(status, headers, cc, ruleFor(exchange)) ? null
                : "no explicit freshness and status " + status + " not heuristically cacheable";
    }

    /**
     * Whether a response's freshness can be known without guessing beyond RFC 9110 §15.1: explicit freshness
     * ({@code max-age}, {@code s-maxage}, {@code Expires} unless a targeted field governs), a heuristically cacheable
     * status, or a configured TTL for the status. {@code public} alone is not enough: a 500, 503 or 302 is stored only
     * with explicit freshness.
     */
    boolean freshnessKnowable(int status, HttpHeaders headers, Directives cc, CacheRule rule) {
        if (Freshness.ruleApplies(rule, status, config.forcedTtl()) && rule.max().isZero()
                && !Freshness.hasExplicitFreshness(headers, cc) && headers.get("ETag") == null
                && HttpDates.parse(headers.get("Last-Modified")) == null) {
            return false; // a rule with MAX 0 and nothing to revalidate with: a stored copy could never be reused
        }
        return Freshness.hasExplicitFreshness(headers, cc) || Freshness.HEURISTICALLY_CACHEABLE.contains(status)
                || config.forcedTtl().containsKey(status);
    }

    /** Whether the origin's unqualified {@code no-cache} forces a revalidation (unless a rule overrides it). */
    boolean originNoCache(Directives cc, CacheRule rule, int status) {
        return cc.isUnqualified("no-cache") && !(Freshness.ruleApplies(rule, status, config.forcedTtl())
                && rule.has(CacheRule.Option.OVERRIDE_NO_CACHE));
    }

    /**
     * The first cache rule whose pattern is found in the request's full URL {@code scheme://host[:port]/path?query}
     * (port only when not the default), or {@code null}.
     */
    CacheRule ruleFor(Exchange exchange) {
        List<CacheRule> rules = config.rules();
        if (rules.isEmpty()) {
            return null;
        }
        String url = ruleUrl(exchange.request().uri());
        for (CacheRule r : rules) {
            if (r.matches(url)) {
                return r;
            }
        }
        return null;
    }

    /** {@code scheme://host[:port]/path[?query]}: lower-case scheme and host, the port only when not the default. */
    static String ruleUrl(URI uri) {
        String scheme = uri.getScheme() == null ? "http" : uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        int port = uri.getPort();
        boolean defaultPort = port < 0 || port == (scheme.equals("https") ? 443 : 80);
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return scheme + "://" + host + (defaultPort ? "" : ":" + port) + path
                + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
    }

    /**
     * Whether a response that sets a cookie may not be stored: unless the origin says it is shared ({@code public},
     * {@code s-maxage}) or keeps the cookie out of the stored copy itself ({@code private="Set-Cookie"},
     * {@code no-cache="Set-Cookie"}).
     */
    static boolean cookieForbidsStoring(Directives cc, HttpHeaders headers) {
        return headers.contains("Set-Cookie") && !(cc.has("public") || cc.has("s-maxage"))
                && !names(cc.fieldNames("private"), "Set-Cookie") && !names(cc.fieldNames("no-cache"), "Set-Cookie");
    }

    private static boolean names(List<String> fields, String name) {
        for (String f : fields) {
            if (f.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The fields of a 304 that the cache does not keep in the stored copy ({@code private} and {@code no-cache}
     * qualified names, and {@code Set-Cookie} unless replayed): they still go to the client whose request the 304
     * answered, as they would on a miss. Empty when there are none.
     */
    HttpHeaders notStoredFields(HttpHeaders notModified, List<String> targeted) {
        Set<String> names = privateFieldNames(responseDirectives(notModified, targeted));
        HttpHeaders own = new HttpHeaders();
        for (HttpHeaders.Field f : notModified) {
            if (names.contains(f.name().toLowerCase(Locale.ROOT))) {
                own.add(f.name(), f.value());
            }
        }
        return own;
    }

    /** Lower-case names of the fields a stored copy must not hold (RFC 9111 §5.2.2.4, §5.2.2.7, and Set-Cookie). */
    Set<String> privateFieldNames(Directives cc) {
        Set<String> names = new java.util.HashSet<>(4);
        cc.fieldNames("private").forEach(n -> names.add(n.toLowerCase(Locale.ROOT)));
        cc.fieldNames("no-cache").forEach(n -> names.add(n.toLowerCase(Locale.ROOT)));
        if (!config.replaySetCookie()) {
            names.add("set-cookie");
        }
        return names;
    }

    /** The targeted fields (RFC 9213) this cache honours for {@code exchange}'s mode, most specific first. */
    List<String> targeted(Exchange exchange) {
        return exchange.mode() == Exchange.Mode.REVERSE ? config.targetedReverse() : config.targetedForward();
    }

    /**
     * The directives that govern this cache: those of the first of {@code targeted} that is present and valid (RFC
     * 9213 §2.1: a Dictionary structured field), marked as targeted so that {@code Expires} is ignored too (§2.2);
     * else {@code Cache-Control}.
     */
    Directives responseDirectives(HttpHeaders headers, List<String> targeted) {
        for (String field : targeted) {
            List<String> lines = headers.getAll(field);
            if (lines.isEmpty()) {
                continue;
            }
            if (!TargetedFields.isValidDictionary(String.join(", ", lines))) {
                continue; // an invalid targeted field is ignored, as if absent
            }
            Directives directives = Directives.of(headers, field);
            if (!directives.isEmpty()) {
                return directives.fromTargetedField(field);
            }
        }
        return Directives.of(headers, "Cache-Control");
    }

    HttpHeaders headersToStore(HttpHeaders response, boolean relayed, List<String> targeted) {
        HttpHeaders stored = new HttpHeaders(response);
        if (relayed) {
            removeLastVia(stored);
        }
        // private="..." fields MUST NOT be stored; no-cache="..." fields may not be served without revalidation,
        // which the cache meets by never keeping them; Set-Cookie stays with the client that caused it (unless replayed)
        for (String name : privateFieldNames(responseDirectives(response, targeted))) {
            stored.remove(name);
        }
        stored.remove("Transfer-Encoding");
        return stored;
    }

    /** The relay appends its own Via line to upstream responses; the cache adds it again when serving. */
    static void removeLastVia(HttpHeaders headers) {
        List<HttpHeaders.Field> fields = headers.asList();
        int last = -1;
        for (int i = 0; i < fields.size(); i++) {
            if (fields.get(i).is("Via")) {
                last = i;
            }
        }
        if (last < 0) {
            return;
        }
        headers.clear();
        for (int i = 0; i < fields.size(); i++) {
            if (i != last) {
                headers.add(fields.get(i).name(), fields.get(i).value());
            }
        }
    }
}
