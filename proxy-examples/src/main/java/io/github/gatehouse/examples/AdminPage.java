package io.github.gatehouse.examples;

import io.github.gatehouse.core.CacheCounters;
import io.github.gatehouse.core.ExchangeEvent;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamStats;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The admin status page (HTML rendered here, no script, no external asset) and the JSON of {@code /api/stats}, both
 * from the same live reads of the proxy. Stateless.
 */
final class AdminPage {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
    private static final int ERRORS_SHOWN = 20;

    private AdminPage() {
    }

    /** A member's state as the page and the API name it. */
    static String state(UpstreamMember m) {
        return m.isDraining() ? "drained" : !m.isHealthy() ? "down" : m.isEjected() ? "ejected" : "up";
    }

    static String render(ProxyServer proxy, AdminServer.Totals totals, int refreshSeconds) {
        StringBuilder h = new StringBuilder(8192);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"refresh\" content=\"").append(refreshSeconds).append("\">")
                .append("<title>Gatehouse ").append(esc(proxy.viaName())).append("</title><style>")
                .append("body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}")
                .append("h1{font-size:18px;margin:0 0 4px}h2{font-size:14px;margin:18px 0 4px}")
                .append(".sub{color:#666;margin-bottom:10px}")
                .append("table{border-collapse:collapse;margin-bottom:6px;background:#fff}")
                .append("th,td{border:1px solid #bbb;padding:3px 8px;text-align:right;white-space:nowrap}")
                .append("th{background:#2d4a6b;color:#fff;font-weight:600}td.l,th.l{text-align:left}")
                .append("tr.state-up td.st{background:#b8e6b8}tr.state-drained td.st{background:#9ec5ef}")
                .append("tr.state-ejected td.st{background:#f5c27a}tr.state-down td.st{background:#f19a9a}")
                .append("tr.state-drained{color:#456}tr.state-down{color:#900}")
                .append(".pool{color:#555;margin:0 0 6px}.none{color:#888}td.reason{text-align:left;white-space:normal}")
                .append("</style></head><body>\n");
        long uptime = ManagementFactory.getRuntimeMXBean().getUptime();
        h.append("<h1>Gatehouse <span class=\"sub\">").append(esc(proxy.viaName())).append("</span></h1>")
                .append("<div class=\"sub\">").append(proxy.isRunning() ? "serving on " + esc(proxy.uri().toString())
                        + (proxy.hasTls() ? " and " + esc(proxy.tlsUri().toString()) : "") : "not running")
                .append(" &middot; up ").append(esc(duration(Duration.ofMillis(uptime))))
                .append(" &middot; page refreshes every ").append(refreshSeconds).append(" s &middot; ")
                .append(TIME.format(Instant.now())).append(" UTC</div>\n");

        h.append("<h2>Totals</h2><table id=\"totals\"><tr><th>Active exchanges</th><th>Connections</th><th>Tunnels</th>")
                .append("<th>Requests</th><th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>Denied</th>")
                .append("<th>Errors</th></tr><tr><td>").append(proxy.activeExchanges()).append("</td><td>")
                .append(proxy.openConnections()).append("</td><td>").append(proxy.openTunnels()).append("</td><td>")
                .append(totals.requests.sum()).append("</td>");
        for (int i = 0; i < 5; i++) {
            h.append("<td>").append(totals.byClass[i].sum()).append("</td>");
        }
        h.append("<td>").append(totals.denied.sum()).append("</td><td>").append(totals.errors.sum())
                .append("</td></tr></table>\n");

        h.append("<h2>Cache</h2>");
        Optional<CacheCounters> cache = proxy.cache().flatMap(c -> c.counters());
        if (cache.isEmpty()) {
            h.append("<p class=\"none\">").append(proxy.cache().isPresent() ? "the cache reports no counters" : "no cache")
                    .append("</p>\n");
        } else {
            CacheCounters c = cache.get();
            h.append("<table id=\"cache\"><tr><th>Hit ratio</th><th>Hits</th><th>Misses</th><th>Stale</th>")
                    .append("<th>Revalidations</th><th>Entries</th><th>Size</th><th>Capacity</th><th>Stored</th>")
                    .append("<th>Evictions</th></tr><tr><td>").append(String.format(Locale.ROOT, "%.1f%%", 100 * c.hitRatio()))
                    .append("</td><td>").append(c.hits()).append("</td><td>").append(c.misses()).append("</td><td>")
                    .append(c.stale()).append("</td><td>").append(c.revalidations()).append("</td><td>").append(c.entries())
                    .append("</td><td>").append(bytes(c.sizeBytes())).append("</td><td>")
                    .append(c.capacityBytes() == 0 ? "?" : bytes(c.capacityBytes())).append("</td><td>")
                    .append(bytes(c.bytesStored())).append("</td><td>").append(c.evictions()).append("</td></tr></table>\n");
        }

        h.append("<h2>Routes and pools</h2>");
        List<Route> routes = proxy.routes();
        if (routes.isEmpty()) {
            h.append("<p class=\"none\">no reverse routes (forward proxy)</p>\n");
        }
        int r = 0;
        for (Route route : routes) {
            r++;
            UpstreamPool pool = route.pool().orElse(null);
            h.append("<h2 class=\"route\">Route ").append(r).append(": ").append(esc(route.label())).append("</h2>");
            if (pool == null) {
                continue;
            }
            UpstreamPool.Counters pc = pool.counters();
            h.append("<div class=\"pool\">balance ").append(esc(pool.balancer().toString()))
                    .append(pool.healthCheck().isPresent() ? " &middot; health check " + esc(pool.healthCheck().get().toString()) : "")
                    .append(" &middot; retries ").append(pc.retries())
                    .append(String.format(Locale.ROOT, " &middot; retry budget %.1f", pc.retryBudgetLeft()))
                    .append(" &middot; circuit-breaker rejections ").append(pc.circuitBreakerRejections()).append("</div>");
            h.append("<table class=\"members\"><tr><th class=\"l\">Member</th><th>State</th><th>Weight</th><th>Active</th>")
                    .append("<th>Requests</th><th>Errors</th><th>Ejections</th><th>p50</th><th>p99</th></tr>");
            List<UpstreamMember> members = pool.members();
            for (int i = 0; i < members.size(); i++) {
                UpstreamMember m = members.get(i);
                UpstreamStats s = m.stats();
                String state = state(m);
                h.append("<tr class=\"state-").append(state).append("\" id=\"member-").append(r).append('-').append(i + 1)
                        .append("\" data-member=\"").append(esc(s.upstream())).append("\" data-state=\"").append(state)
                        .append("\"><td class=\"l\">").append(esc(s.upstream())).append("</td><td class=\"st\">")
                        .append(state).append("</td><td>").append(s.weight()).append("</td><td>").append(s.activeRequests())
                        .append("</td><td>").append(s.requests()).append("</td><td>").append(s.errors()).append("</td><td>")
                        .append(s.ejections()).append("</td><td>").append(millis(s.latencyP50())).append("</td><td>")
                        .append(millis(s.latencyP99())).append("</td></tr>");
            }
            h.append("</table>\n");
        }

        h.append("<h2>Recent errors</h2>");
        List<ExchangeEvent> errors = totals.recentErrors(ERRORS_SHOWN);
        if (errors.isEmpty()) {
            h.append("<p class=\"none\">none since the admin listener started</p>\n");
        } else {
            h.append("<table id=\"errors\"><tr><th>Time (UTC)</th><th class=\"l\">Exchange</th><th class=\"l\">Request</th>")
                    .append("<th>Status</th><th class=\"l\">Outcome</th><th class=\"l\">Upstream</th><th class=\"l\">Reason</th></tr>");
            for (ExchangeEvent e : errors) {
                h.append("<tr><td>").append(TIME.format(e.start())).append("</td><td class=\"l\">").append(esc(e.exchangeId()))
                        .append("</td><td class=\"l\">").append(esc(e.method())).append(' ').append(esc(abbreviate(e.target())))
                        .append("</td><td>").append(e.status() == 0 ? "-" : Integer.toString(e.status()))
                        .append("</td><td class=\"l\">").append(esc(e.outcome())).append("</td><td class=\"l\">")
                        .append(e.member() == null ? "-" : esc(e.member())).append("</td><td class=\"reason\">")
                        .append(e.reason() == null ? "-" : esc(abbreviate(e.reason()))).append("</td></tr>");
            }
            h.append("</table>\n");
        }
        h.append("<p class=\"sub\">JSON: <code>/api/stats</code>, <code>/api/errors</code> &middot; Prometheus: ")
                .append("<code>/metrics</code></p>\n</body></html>\n");
        return h.toString();
    }

    static String statsJson(ProxyServer proxy, AdminServer.Totals totals) {
        AdminJson j = new AdminJson().beginObject();
        j.field("proxy", proxy.viaName()).field("running", proxy.isRunning());
        j.name("totals").beginObject().field("activeExchanges", proxy.activeExchanges())
                .field("openConnections", proxy.openConnections()).field("openTunnels", proxy.openTunnels())
                .field("requests", totals.requests.sum()).field("denied", totals.denied.sum())
                .field("errors", totals.errors.sum());
        for (int i = 0; i < 5; i++) {
            j.field((i + 1) + "xx", totals.byClass[i].sum());
        }
        j.endObject();
        Optional<CacheCounters> cache = proxy.cache().flatMap(c -> c.counters());
        j.name("cache");
        if (cache.isEmpty()) {
            j.value((String) null);
        } else {
            CacheCounters c = cache.get();
            j.beginObject().field("hitRatio", c.hitRatio()).field("hits", c.hits()).field("misses", c.misses())
                    .field("stale", c.stale()).field("revalidations", c.revalidations()).field("entries", c.entries())
                    .field("sizeBytes", c.sizeBytes()).field("capacityBytes", c.capacityBytes())
                    .field("bytesStored", c.bytesStored()).field("evictions", c.evictions()).endObject();
        }
        // several instances: the cluster's members, and hits from this instance's near tier and from the grid
        Optional<io.github.gatehouse.cache.SharedTierStats> shared = proxy.cache()
                .filter(c -> c instanceof io.github.gatehouse.cache.SharedCache)
                .flatMap(c -> ((io.github.gatehouse.cache.SharedCache) c).sharedTier());
        if (shared.isPresent()) {
            io.github.gatehouse.cache.SharedTierStats t = shared.get();
            j.name("cluster").beginObject().name("members").beginArray();
            t.members().forEach(j::value);
            j.endArray().field("nearHits", t.nearHits()).field("gridHits", t.gridHits())
                    .field("gridMisses", t.gridMisses()).field("gridWrites", t.gridWrites())
                    .field("gridFailures", t.gridFailures()).field("remoteWaits", t.remoteWaits()).endObject();
        }
        // cache-peer routing (CARP): the members keys are spread over, and what went to their homes
        Optional<io.github.gatehouse.core.CachePeerStats> carp = proxy.cachePeers().map(p -> p.stats());
        if (carp.isPresent()) {
            io.github.gatehouse.core.CachePeerStats p = carp.get();
            j.name("cachePeers").beginObject().field("self", p.self()).name("members").beginArray();
            p.members().forEach(j::value);
            j.endArray().field("peerFetches", p.peerFetches()).field("peerHits", p.peerHits())
                    .field("peerFallbacks", p.peerFallbacks()).field("peerRequestsServed", p.peerRequestsServed())
                    .field("peerRequestsRefused", p.peerRequestsRefused()).endObject();
        }
        j.name("routes").beginArray();
        for (Route route : proxy.routes()) {
            j.beginObject().field("route", route.label());
            UpstreamPool pool = route.pool().orElse(null);
            if (pool != null) {
                UpstreamPool.Counters pc = pool.counters();
                j.field("balance", pool.balancer().toString()).field("retries", pc.retries())
                        .field("retryBudgetLeft", pc.retryBudgetLeft())
                        .field("circuitBreakerRejections", pc.circuitBreakerRejections());
                j.name("members").beginArray();
                for (UpstreamMember m : pool.members()) {
                    UpstreamStats s = m.stats();
                    j.beginObject().field("url", s.upstream()).field("state", state(m)).field("weight", s.weight())
                            .field("healthy", s.healthy()).field("ejected", s.ejected()).field("draining", s.draining())
                            .field("active", s.activeRequests()).field("requests", s.requests())
                            .field("errors", s.errors()).field("ejections", s.ejections())
                            .field("p50Ms", s.latencyP50().toNanos() / 1e6).field("p99Ms", s.latencyP99().toNanos() / 1e6)
                            .endObject();
                }
                j.endArray();
            }
            j.endObject();
        }
        j.endArray();
        return j.endObject().toString();
    }

    static void errorJson(AdminJson j, ExchangeEvent e) {
        j.beginObject().field("time", e.start().toString()).field("id", e.exchangeId()).field("route", e.route())
                .field("method", e.method()).field("target", e.target()).field("status", e.status())
                .field("outcome", e.outcome()).field("member", e.member()).field("tries", e.tries())
                .field("durationMs", e.duration().toNanos() / 1e6).field("reason", e.reason()).endObject();
    }

    private static String abbreviate(String s) {
        return s.length() <= 160 ? s : s.substring(0, 157) + "...";
    }

    private static String millis(Duration d) {
        return d.isZero() ? "-" : String.format(Locale.ROOT, "%.1f ms", d.toNanos() / 1e6);
    }

    private static String duration(Duration d) {
        long s = d.getSeconds();
        return s < 60 ? s + " s" : s < 3600 ? (s / 60) + " min" : (s / 3600) + " h " + (s % 3600 / 60) + " min";
    }

    private static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        if (n < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        }
        if (n < 1024L * 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f GiB", n / (1024.0 * 1024 * 1024));
    }

    /** HTML-escapes text for element content and double-quoted attributes. */
    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<': b.append("&lt;"); break;
                case '>': b.append("&gt;"); break;
                case '&': b.append("&amp;"); break;
                case '"': b.append("&quot;"); break;
                case '\'': b.append("&#39;"); break;
                default: b.append(c < 0x20 ? '?' : c);
            }
        }
        return b.toString();
    }
}
