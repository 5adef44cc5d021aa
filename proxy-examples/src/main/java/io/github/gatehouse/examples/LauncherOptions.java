package io.github.gatehouse.examples;

import io.github.gatehouse.core.AccessLogFormat;
import io.github.gatehouse.core.DataSize;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The launcher's command line, parsed and checked. Immutable once parsed; {@link #parse} throws
 * {@link UsageException} with a message naming the bad flag or value.
 */
public final class LauncherOptions {
    /** Forward or reverse. */
    public enum Mode { FORWARD, REVERSE }

    /** A bad command line; the launcher prints the message and exits with status 2. */
    public static class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    Mode mode;
    int port = -1;
    String bind = "127.0.0.1";
    final List<String> upstreams = new ArrayList<>();
    final Set<Integer> connectPorts = new LinkedHashSet<>();
    String accessLog;
    AccessLogFormat accessLogFormat = AccessLogFormat.squid();
    Duration idleTimeout;
    Duration upstreamTimeout;
    Duration headerTimeout;
    DataSize minDataRate;
    DataSize minRequestRate;
    DataSize minResponseRate;
    Duration dataRateGrace;
    String balance = "round-robin";
    final List<String> allowedInternal = new ArrayList<>();
    boolean allowAllInternal;
    DataSize cacheMemory;
    Path cacheDir;
    DataSize cacheDisk;
    DataSize cacheMaxObject;
    boolean cacheReplaySetCookie;
    /** {@code --cache-targeted-fields}: null for the default, empty for off, else the fields, most specific first. */
    List<String> cacheTargetedFields;
    /** {@code --cache-rule}, in order. */
    final List<io.github.gatehouse.cache.CacheRule> cacheRules = new ArrayList<>();
    /** {@code --cache-finish-without-client}, or null for the default. */
    DataSize cacheFinishWithoutClient;
    /** {@code --cache-background-revalidation on|off}, or null for the default (on). */
    Boolean cacheBackgroundRevalidation;
    final List<String> allowHosts = new ArrayList<>();
    final List<String> denyHosts = new ArrayList<>();
    final List<Path> allowLists = new ArrayList<>();
    final List<Path> denyLists = new ArrayList<>();
    final List<String> blockKeywords = new ArrayList<>();
    Path users;
    Integer rateLimit;
    /** {@code --cluster-*}: this instance's member port (null when not clustered), interface, the others, the name. */
    Integer clusterPort;
    String clusterBind;
    final List<String> clusterMembers = new ArrayList<>();
    String clusterName;
    /** {@code --cache-peer}, {@code --carp}, {@code --cache-peer-*}: cache-peer routing (CARP); see {@link #routesToPeers}. */
    final List<String> cachePeers = new ArrayList<>();
    String carp;
    Duration cachePeerTimeout;
    String cachePeerSelf;
    String cachePeerSecret;
    String healthCheck;
    Duration healthInterval;
    Integer retries;
    /** --retry-on: the conditions and the statuses, or null for the default. */
    java.util.Set<io.github.gatehouse.core.RetryPolicy.Condition> retryConditions;
    java.util.Set<Integer> retryStatuses;
    String stickyCookie;
    boolean noUpgrade;
    final List<Path> tlsCerts = new ArrayList<>();
    final List<Path> tlsKeys = new ArrayList<>();
    Path tlsKeystore;
    Path tlsKeystorePasswordFile;
    int tlsPort = -1;
    Duration tlsCheck;
    int socksPort = -1;
    final List<String> proxyProtocolFrom = new ArrayList<>();
    boolean ftp;
    boolean redirectHttps;
    Integer maxConcurrentStreams;
    /** {@code --h2-websocket on|off}, or null for the default (on). */
    Boolean h2WebSocket;
    /** Upstream TLS and HTTPS inspection ({@code --upstream-*}, {@code --intercept-*}). */
    final List<Path> upstreamCas = new ArrayList<>();
    boolean upstreamInsecure;
    Path upstreamClientCert;
    Path upstreamClientKey;
    Path upstreamClientKeystore;
    Path upstreamClientKeystorePasswordFile;
    String upstreamSni;
    io.github.gatehouse.core.UpstreamProtocol upstreamProtocol;
    io.github.gatehouse.core.ProxyProtocolVersion upstreamProxyProtocol;
    Path interceptCa;
    Path interceptKey;
    Path interceptKeystore;
    Path interceptKeystorePasswordFile;
    final List<String> interceptHosts = new ArrayList<>();
    final List<String> noInterceptHosts = new ArrayList<>();
    /** --admin-*: the admin listener, off unless --admin-port is given. */
    int adminPort = -1;
    String adminBind;
    String adminToken;
    Path adminTokenFile;
    final List<String> adminAllow = new ArrayList<>();
    boolean help;
    /** {@code --version}: print {@code gatehouse VERSION} and exit 0. */
    boolean version;
    /** The {@code routes:} of a {@code --config} file, tried before the catch-all route of {@code --upstream}. */
    final List<io.github.gatehouse.core.Route> fileRoutes = new ArrayList<>();
    /** {@code --config FILE}, or null. */
    Path configFile;
    /** {@code --har FILE}, or null. */
    Path har;
    /** {@code --har-body-limit}, or null for the default. */
    DataSize harBodyLimit;

    private LauncherOptions() {
    }

    /** The usage text printed by {@code --help}. */
    public static String usage() {
        return String.join("\n",
                "usage: java -jar gatehouse.jar forward|reverse [flags]",
                "       java -jar gatehouse.jar ca --out DIR   (a new CA for HTTPS inspection: DIR/ca.pem, DIR/ca-key.pem)",
                "",
                "  forward                      forward proxy: absolute-form http:// requests and CONNECT tunnels",
                "  reverse                      reverse proxy to the --upstream servers",
                "",
                "  --port N                     listening port (default 3128 forward, 8080 reverse; 0 = any free port)",
                "  --bind ADDRESS               listening address (default 127.0.0.1; 0.0.0.0 exposes the proxy)",
                "  --upstream URL[,weight=N]    reverse: an upstream server such as http://10.0.0.1:8080 (repeatable)",
                "  --balance STRATEGY           reverse: round-robin (default), weighted, least-requests, random,",
                "                               hash:client, hash:url, hash:header:NAME or hash:cookie:NAME",
                "  --health-check PATH          reverse: check each upstream with GET PATH (down after 3 failures)",
                "  --health-interval DURATION   reverse: time between health checks (default 5s)",
                "  --retries N                  reverse: retries on another upstream (default 1; 0 disables)",
                "  --retry-on LIST              reverse: what triggers a retry, from connect-failure, reset, timeout",
                "                               and 5xx statuses (default connect-failure,reset; e.g. connect-failure,503)",
                "  --sticky-cookie NAME         reverse: sticky sessions with a proxy-set cookie NAME",
                "  --no-upgrade                 refuse Upgrade requests (WebSocket, also over HTTP/2) with 403 and",
                "                               Proxy-Status instead of relaying the upstream's 101 and tunnelling the",
                "                               connection (reverse: the --upstream route; forward: every request;",
                "                               CONNECT tunnels are not affected)",
                "  --connect-ports LIST         forward: ports CONNECT may reach, comma-separated (default 443)",
                "  --allow-internal-destination HOST:PORT",
                "                               forward: let the proxy reach this one address on the proxy host or",
                "                               link-local network (denied by default; repeatable)",
                "  --allow-all-internal-destinations",
                "                               forward: let the proxy reach every internal address (testing only;",
                "                               --allow-internal-destinations is the former name)",
                "  --socks-port N               forward: also listen for SOCKS5 on port N (0 = any free port); CONNECT",
                "                               only, same users, rules, connect ports and access log as HTTP CONNECT",
                "  --ftp                        forward: serve GET ftp://host/path (FTP gateway, passive mode)",
                "  --proxy-protocol-from CIDR   accept PROXY protocol v1/v2 headers from these sources only (repeatable);",
                "                               the client address they carry is used for rules, logs, X-Forwarded-For",
                "  --cache-memory SIZE          cache responses in memory, e.g. 256m (RFC 9111 shared cache)",
                "  --cluster-port N             share the cache, rate limits and lockouts with other instances: this",
                "                               instance's cluster member port (Hazelcast; default 5701 with the",
                "                               other --cluster-* flags); --cache-memory becomes the near tier",
                "  --cluster-member HOST:PORT   another instance's cluster port (repeatable; TCP-IP join, no multicast)",
                "  --cluster-name NAME          instances with the same name share (default gatehouse)",
                "  --cluster-bind HOST          the interface the cluster port listens on (default 127.0.0.1). The",
                "                               cluster port is unauthenticated and unencrypted: private network only",
                "  --carp alone|grid            route cache misses to their home instance among the cluster members",
                "                               (CARP, rendezvous hashing of the URL): alone keeps each body on its",
                "                               home only (the cluster shares limits and lockouts, not the cache);",
                "                               grid keeps the shared grid tier as well",
                "  --cache-peer URL             another instance's proxy listener, http://host:port (repeatable; the",
                "                               list may include this instance): CARP over a static list; the same",
                "                               on every instance",
                "  --cache-peer-timeout DURATION  connect + response head allowed to the home, then the origin",
                "                               (default 1s)",
                "  --cache-peer-self URL        this instance's URL as the others list it (default http://BIND:PORT)",
                "  --cache-peer-secret SECRET   what peer requests carry and homes check (16+ characters; default:",
                "                               the cluster's own; without one, peers are known by their address)",
                "  --cache-dir DIR              cache responses on disk in DIR (survives restarts)",
                "  --cache-disk SIZE            disk cache capacity (default 1g, with --cache-dir)",
                "  --cache-max-object SIZE      largest response stored (default 64m)",
                "  --cache-replay-set-cookie    serve a stored response's Set-Cookie to every client (RFC 9111 literal;",
                "                               by default only the client whose request reached the origin gets it)",
                "  --cache-targeted-fields LIST|off  targeted cache-control fields (RFC 9213) honoured, most specific",
                "                               first, comma-separated, on every route (default: CDN-Cache-Control on",
                "                               reverse routes, none when forwarding); off: Cache-Control alone",
                "  --cache-rule 'REGEX MIN PERCENT% MAX [OPTIONS]'",
                "                               freshness for URLs whose origins send none (Squid's refresh_pattern;",
                "                               repeatable, first match wins): REGEX found in scheme://host[:port]/path?query",
                "                               (-i first: ignore case), fresh for PERCENT of the age since Last-Modified,",
                "                               at least MIN and at most MAX minutes; OPTIONS: override-expire (bound the",
                "                               origin's own max-age/Expires too), override-no-cache (serve no-cache",
                "                               responses without revalidating), ignore-reload (ignore clients' no-cache)",
                "  --cache-finish-without-client SIZE  bytes a fill still reads from the origin once no client waits",
                "                               for it (default 1m; 0 = stop at once); waiting followers always get theirs",
                "  --cache-background-revalidation on|off  serve stale-while-revalidate responses while a background",
                "                               request revalidates them (default on); off: such requests wait for the",
                "                               origin as any stale one does",
                "  --allow-host PATTERN         only these hosts may be reached (name, *.suffix, .domain, IP; repeatable)",
                "  --deny-host PATTERN          these hosts are refused with 403 (repeatable)",
                "  --allow-list FILE            whitelist file, one pattern a line, # comments",
                "  --deny-list FILE             blacklist file, one pattern a line, # comments",
                "  --block-keyword WORD         block text pages containing WORD (repeatable)",
                "  --users HTPASSWD_FILE        require Basic authentication (407 forward, 401 reverse)",
                "  --rate-limit N/s             at most N requests a second per client address (429 beyond)",
                "  --access-log FILE|off        where access lines go (default: standard output)",
                "  --access-log-format FORMAT   squid (default), combined or json",
                "  --idle-timeout DURATION      idle timeout of connections and tunnels, e.g. 60s (default 60s)",
                "  --upstream-timeout DURATION  time allowed for the upstream's response head, e.g. 10s (default 60s)",
                "  --header-timeout DURATION    time allowed for a client's whole request head (default 30s)",
                "  --min-data-rate RATE         slowest a client may send a request body or take a response body,",
                "                               in bytes a second, e.g. 500 or 1k (default off; like Apache's MinRate)",
                "  --min-request-rate RATE      as --min-data-rate, for request bodies only (wins over it)",
                "  --min-response-rate RATE     as --min-data-rate, for response bodies only (wins over it)",
                "  --data-rate-grace DURATION   waiting allowed before the minimum rates apply (default 10s)",
                "  --tls-cert FILE              HTTPS listener: a PEM certificate chain (server certificate first);",
                "                               give --tls-key after each (repeatable pairs: SNI picks by the",
                "                               certificates' names, the first pair is the default)",
                "  --tls-key FILE               the PEM private key of the --tls-cert before it (PKCS#8, RSA or EC)",
                "  --tls-keystore FILE          HTTPS listener: a PKCS#12 key store (every key entry; with --tls-cert too)",
                "  --tls-keystore-password-file FILE  the key store's password, the file's first line",
                "  --tls-port N                 HTTPS listening port (default 8443; 0 = any free port); HTTP/2 and",
                "                               HTTP/1.1 by ALPN, beside the plain --port listener",
                "  --tls-check DURATION         how often the TLS files are checked for changes and reloaded",
                "                               (default 10s; 0 = never)",
                "  --redirect-https             reverse: answer plain HTTP requests with 308 to the HTTPS listener",
                "  --max-concurrent-streams N   HTTP/2 streams one connection may have open (default 128)",
                "  --h2-websocket on|off        WebSocket over HTTP/2 (RFC 8441 extended CONNECT) for h2 and h2c",
                "                               clients, relayed to HTTP/1.1 upstreams (default on)",
                "  --upstream-ca FILE           trust the CA certificates of PEM FILE for TLS to upstreams and",
                "                               HTTPS inspection, besides the JDK's trust store (repeatable)",
                "  --upstream-insecure-skip-verify  DANGER: accept any upstream certificate, for any name (test",
                "                               benches only; logs a warning at start)",
                "  --upstream-client-cert FILE  a PEM client certificate shown to upstreams that ask (mTLS); with",
                "  --upstream-client-key FILE   its PEM private key",
                "  --upstream-client-keystore FILE  the client certificate as a PKCS#12 key store, with",
                "  --upstream-client-keystore-password-file FILE  its password (the file's first line)",
                "  --upstream-sni NAME          reverse: ask upstreams for NAME in SNI and check their certificate",
                "                               against it (default: the member's host)",
                "  --upstream-protocol P        reverse: h1 (default), h2 (HTTP/2 over TLS, https:// members) or",
                "                               h2c (cleartext HTTP/2 with prior knowledge, http:// members)",
                "  --upstream-proxy-protocol V  reverse: send a PROXY protocol header, v1 or v2, with the client's",
                "                               address at the start of each upstream connection",
                "  --intercept-ca FILE          forward: HTTPS inspection, signing with the PEM CA certificate FILE",
                "  --intercept-key FILE         and its PEM private key (make both with: gatehouse.jar ca --out DIR)",
                "  --intercept-keystore FILE    the inspection CA as a PKCS#12 key store instead, with",
                "  --intercept-keystore-password-file FILE  its password (the file's first line)",
                "  --intercept-host PATTERN     intercept CONNECTs to PATTERN: a host, *.domain or * (repeatable;",
                "                               default: none)",
                "  --no-intercept-host PATTERN  never intercept PATTERN, whatever --intercept-host says (repeatable)",
                "  --config FILE                a YAML file with these flags as keys (no dashes; a list for a",
                "                               repeatable flag, true for a switch), mode: and routes:; flags given",
                "                               too win over the file. Reloaded on SIGHUP and when the file changes",
                "  --har FILE                   record exchanges as HAR 1.2 in FILE (credentials and cookies redacted)",
                "  --har-body-limit SIZE        response body bytes kept per HAR entry (default 64k; 0 = none)",
                "  --admin-port N               admin listener: status page at /, JSON API under /api/, Prometheus",
                "                               text at /metrics (off by default; 0 = any free port)",
                "  --admin-bind ADDRESS         admin listening address (default 127.0.0.1)",
                "  --admin-token TOKEN          bearer token the admin listener requires (default: a random one,",
                "                               printed at start); --admin-token-file FILE reads it from FILE's first line",
                "  --admin-allow CIDR           admin: only clients in CIDR, on top of the token (repeatable)",
                "  --help                       this text",
                "  --version                    prints gatehouse VERSION",
                "",
                "Durations: 500ms, 10s, 5m, 1h. Rates: bytes a second, 500, 1k, 64k/s (0 = off).",
                "Exit status 2 on a bad command line, 1 when the proxy cannot start (such as a port in use).",
                "",
                "JVM: the default G1 collector with -Xms equal to -Xmx (for example java -Xms1g -Xmx1g -jar ...)",
                "gave the best throughput and the same p99 as Parallel and ZGC in the README's runs; ZGC uses",
                "about three times the memory.");
    }

    /** Parses {@code args}. */
    public static LauncherOptions parse(String... args) throws UsageException {
        LauncherOptions o = new LauncherOptions();
        apply(o, args);
        return finish(o);
    }

    /** An empty option set, for {@link ConfigFile} to {@link #apply} flags to. */
    static LauncherOptions empty() {
        return new LauncherOptions();
    }

    /** A flag the parser does not know; {@link ConfigFile} reports it as an unknown key. */
    static final class UnknownFlagException extends UsageException {
        private static final long serialVersionUID = 1L;

        UnknownFlagException(String message) {
            super(message);
        }
    }

    /**
     * Flags whose value is a comma-separated list and that do not accumulate when repeated: a YAML list for one of
     * them is joined with commas ({@link ConfigFile}). Every other flag given a YAML list is repeated, once an item.
     */
    /** Flags whose value is on or off: in a {@code --config} file, {@code true} and {@code false} mean those. */
    static final Set<String> ON_OFF_FLAGS = Set.of("h2-websocket");
    static final Set<String> COMMA_LIST_FLAGS = Set.of("retry-on", "cache-targeted-fields", "connect-ports");

    /** Applies {@code args} to {@code o} one flag at a time, without the checks across flags of {@link #finish}. */
    static void apply(LauncherOptions o, String... args) throws UsageException {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                value = arg.substring(eq + 1);
                arg = arg.substring(0, eq);
            }
            switch (arg) {
                case "forward":
                case "reverse":
                    if (o.mode != null) {
                        throw new UsageException("mode given twice: " + o.mode.name().toLowerCase(Locale.ROOT) + " and " + arg);
                    }
                    o.mode = arg.equals("forward") ? Mode.FORWARD : Mode.REVERSE;
                    break;
                case "--help":
                case "-h":
                    o.help = true;
                    break;
                case "--version":
                    o.version = true;
                    break;
                case "--config":
                    o.configFile = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--har":
                    o.har = Path.of(value != null ? value : next(args, ++i, arg));
                    break;
                case "--har-body-limit":
                    o.harBodyLimit = parseSize(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--port":
                    o.port = parsePort(value != null ? value : next(args, ++i, arg), arg, true);
                    break;
                case "--bind":
                    o.bind = value != null ? value : next(args, ++i, arg);
                    break;
                case "--upstream":
                    o.upstreams.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--balance":
                    o.balance = value != null ? value : next(args, ++i, arg);
                    if (!o.balance.matches("round-robin|weighted|least-requests|random|hash:client|hash:url|hash:header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|hash:cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                        throw new UsageException("--balance: '" + o.balance + "' (expected: round-robin, weighted, least-requests,"
                                + " random, hash:client, hash:url, hash:header:NAME or hash:cookie:NAME)");
                    }
                    break;
                case "--cache-memory":
                    o.cacheMemory = parseSize(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cluster-port":
                    o.clusterPort = parsePort(value != null ? value : next(args, ++i, arg), arg, false);
                    break;
                case "--cluster-member":
                    o.clusterMembers.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--cluster-name":
                    o.clusterName = value != null ? value : next(args, ++i, arg);
                    break;
                case "--cluster-bind":
                    o.clusterBind = value != null ? value : next(args, ++i, arg);
                    break;
                case "--carp":
                    o.carp = value != null ? value : next(args, ++i, arg);
                    if (!o.carp.equals("alone") && !o.carp.equals("grid")) {
                        throw new UsageException(arg + ": '" + o.carp + "' (expected: alone or grid)");
                    }
                    break;
                case "--cache-peer":
                    o.cachePeers.add(peerUrl(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--cache-peer-timeout":
                    o.cachePeerTimeout = parseDuration(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cache-peer-self":
                    o.cachePeerSelf = peerUrl(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cache-peer-secret":
                    o.cachePeerSecret = value != null ? value : next(args, ++i, arg);
                    break;
                case "--cache-dir":
                    o.cacheDir = Path.of(value != null ? value : next(args, ++i, arg));
                    break;
                case "--cache-disk":
                    o.cacheDisk = parseSize(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cache-max-object":
                    o.cacheMaxObject = parseSize(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cache-replay-set-cookie":
                    if (value != null) {
                        throw new UsageException("--cache-replay-set-cookie takes no value (got '" + value + "')");
                    }
                    o.cacheReplaySetCookie = true;
                    break;
                case "--cache-targeted-fields":
                    o.cacheTargetedFields = parseTargetedFields(value != null ? value : next(args, ++i, arg));
                    break;
                case "--cache-rule":
                    String rule = value != null ? value : next(args, ++i, arg);
                    try {
                        o.cacheRules.add(io.github.gatehouse.cache.CacheRule.parse(rule));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--cache-rule: " + e.getMessage());
                    }
                    break;
                case "--cache-finish-without-client":
                    o.cacheFinishWithoutClient = parseSize(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--cache-background-revalidation":
                    String onOff = (value != null ? value : next(args, ++i, arg)).trim();
                    if (!onOff.equalsIgnoreCase("on") && !onOff.equalsIgnoreCase("off")) {
                        throw new UsageException("--cache-background-revalidation: '" + onOff + "' (expected: on or off)");
                    }
                    o.cacheBackgroundRevalidation = onOff.equalsIgnoreCase("on");
                    break;
                case "--allow-host":
                    o.allowHosts.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--deny-host":
                    o.denyHosts.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--allow-list":
                    o.allowLists.add(existingFile(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--deny-list":
                    o.denyLists.add(existingFile(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--block-keyword":
                    String word = value != null ? value : next(args, ++i, arg);
                    if (word.isBlank()) {
                        throw new UsageException("--block-keyword: empty (expected: a word or phrase)");
                    }
                    o.blockKeywords.add(word);
                    break;
                case "--users":
                    o.users = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--rate-limit":
                    String rate = value != null ? value : next(args, ++i, arg);
                    try {
                        String n = rate.endsWith("/s") ? rate.substring(0, rate.length() - 2) : rate;
                        o.rateLimit = Integer.parseInt(n);
                        if (o.rateLimit < 1) {
                            throw new NumberFormatException();
                        }
                    } catch (NumberFormatException e) {
                        throw new UsageException("--rate-limit: '" + rate + "' (expected: N/s with N >= 1, e.g. 50/s)");
                    }
                    break;
                case "--health-check":
                    o.healthCheck = value != null ? value : next(args, ++i, arg);
                    if (!o.healthCheck.startsWith("/")) {
                        throw new UsageException("--health-check: '" + o.healthCheck + "' (expected: a path such as /health)");
                    }
                    break;
                case "--sticky-cookie":
                    o.stickyCookie = value != null ? value : next(args, ++i, arg);
                    if (!o.stickyCookie.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                        throw new UsageException("--sticky-cookie: '" + o.stickyCookie + "' (expected: a cookie name)");
                    }
                    break;
                case "--no-upgrade":
                    o.noUpgrade = true;
                    break;
                case "--health-interval":
                    o.healthInterval = parseDuration(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--retries":
                    String r = value != null ? value : next(args, ++i, arg);
                    try {
                        o.retries = Integer.parseInt(r);
                        if (o.retries < 0 || o.retries > 10) {
                            throw new NumberFormatException();
                        }
                    } catch (NumberFormatException e) {
                        throw new UsageException("--retries: '" + r + "' (expected: 0..10)");
                    }
                    break;
                case "--retry-on":
                    parseRetryOn(o, value != null ? value : next(args, ++i, arg));
                    break;
                case "--connect-ports":
                    for (String p : (value != null ? value : next(args, ++i, arg)).split(",")) {
                        o.connectPorts.add(parsePort(p.trim(), arg, false));
                    }
                    break;
                case "--allow-internal-destination":
                    String hp = value != null ? value : next(args, ++i, arg);
                    try {
                        io.github.gatehouse.core.ProxyServer.builder().allowInternalDestination(hp);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--allow-internal-destination: " + e.getMessage());
                    }
                    o.allowedInternal.add(hp);
                    break;
                case "--allow-all-internal-destinations":
                case "--allow-internal-destinations":      // the former name, one letter from the flag above
                    o.allowAllInternal = true;
                    break;
                case "--socks-port":
                    o.socksPort = parsePort(value != null ? value : next(args, ++i, arg), arg, true);
                    break;
                case "--ftp":
                    if (value != null) {
                        throw new UsageException("--ftp takes no value (got '" + value + "')");
                    }
                    o.ftp = true;
                    break;
                case "--proxy-protocol-from":
                    String ppf = value != null ? value : next(args, ++i, arg);
                    try {
                        io.github.gatehouse.core.ProxyServer.builder().proxyProtocolFrom(ppf);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--proxy-protocol-from: " + e.getMessage());
                    }
                    o.proxyProtocolFrom.add(ppf);
                    break;
                case "--access-log":
                    o.accessLog = value != null ? value : next(args, ++i, arg);
                    break;
                case "--access-log-format":
                    String f = value != null ? value : next(args, ++i, arg);
                    try {
                        o.accessLogFormat = AccessLogFormat.named(f);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--access-log-format: '" + f + "' (expected: squid, combined or json)");
                    }
                    break;
                case "--idle-timeout":
                    o.idleTimeout = parseDuration(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--upstream-timeout":
                    o.upstreamTimeout = parseDuration(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--header-timeout":
                    o.headerTimeout = parseDuration(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--min-data-rate":
                    o.minDataRate = parseRate(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--min-request-rate":
                    o.minRequestRate = parseRate(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--min-response-rate":
                    o.minResponseRate = parseRate(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--tls-cert":
                    if (o.tlsCerts.size() > o.tlsKeys.size()) {
                        throw new UsageException("--tls-cert " + o.tlsCerts.get(o.tlsCerts.size() - 1)
                                + " has no --tls-key (expected: --tls-cert FILE --tls-key FILE pairs)");
                    }
                    o.tlsCerts.add(existingFile(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--tls-key":
                    if (o.tlsKeys.size() >= o.tlsCerts.size()) {
                        throw new UsageException("--tls-key without a --tls-cert before it (expected: --tls-cert FILE --tls-key FILE pairs)");
                    }
                    o.tlsKeys.add(existingFile(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--tls-keystore":
                    o.tlsKeystore = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--tls-keystore-password-file":
                    o.tlsKeystorePasswordFile = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--tls-port":
                    o.tlsPort = parsePort(value != null ? value : next(args, ++i, arg), arg, true);
                    break;
                case "--tls-check":
                    String tc = value != null ? value : next(args, ++i, arg);
                    o.tlsCheck = "0".equals(tc.trim()) ? Duration.ZERO : parseDuration(tc, arg);
                    break;
                case "--redirect-https":
                    if (value != null) {
                        throw new UsageException("--redirect-https takes no value (got '" + value + "')");
                    }
                    o.redirectHttps = true;
                    break;
                case "--h2-websocket":
                    String hw = value != null ? value : next(args, ++i, arg);
                    switch (hw.trim().toLowerCase(java.util.Locale.ROOT)) {
                        case "on":
                        case "true":
                            o.h2WebSocket = true;
                            break;
                        case "off":
                        case "false":
                            o.h2WebSocket = false;
                            break;
                        default:
                            throw new UsageException("--h2-websocket: '" + hw + "' (expected: on or off)");
                    }
                    break;
                case "--max-concurrent-streams":
                    String mcs = value != null ? value : next(args, ++i, arg);
                    try {
                        o.maxConcurrentStreams = Integer.parseInt(mcs.trim());
                    } catch (NumberFormatException e) {
                        throw new UsageException("--max-concurrent-streams: '" + mcs + "' (expected: 1..10000)");
                    }
                    if (o.maxConcurrentStreams < 1 || o.maxConcurrentStreams > 10_000) {
                        throw new UsageException("--max-concurrent-streams: '" + mcs + "' (expected: 1..10000)");
                    }
                    break;
                case "--upstream-ca":
                    o.upstreamCas.add(existingFile(value != null ? value : next(args, ++i, arg), arg));
                    break;
                case "--upstream-insecure-skip-verify":
                    if (value != null) {
                        throw new UsageException("--upstream-insecure-skip-verify takes no value (got '" + value + "')");
                    }
                    o.upstreamInsecure = true;
                    break;
                case "--upstream-client-cert":
                    o.upstreamClientCert = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--upstream-client-key":
                    o.upstreamClientKey = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--upstream-client-keystore":
                    o.upstreamClientKeystore = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--upstream-client-keystore-password-file":
                    o.upstreamClientKeystorePasswordFile = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--upstream-sni":
                    o.upstreamSni = value != null ? value : next(args, ++i, arg);
                    break;
                case "--upstream-protocol":
                    String up = (value != null ? value : next(args, ++i, arg)).trim();
                    switch (up) {
                        case "h1", "http/1.1" -> o.upstreamProtocol = io.github.gatehouse.core.UpstreamProtocol.HTTP_1_1;
                        case "h2" -> o.upstreamProtocol = io.github.gatehouse.core.UpstreamProtocol.H2;
                        case "h2c" -> o.upstreamProtocol = io.github.gatehouse.core.UpstreamProtocol.H2C;
                        default -> throw new UsageException("--upstream-protocol: '" + up + "' (expected: h1, h2 or h2c)");
                    }
                    break;
                case "--upstream-proxy-protocol":
                    String ppv = (value != null ? value : next(args, ++i, arg)).trim().toLowerCase(java.util.Locale.ROOT);
                    switch (ppv) {
                        case "v1", "1" -> o.upstreamProxyProtocol = io.github.gatehouse.core.ProxyProtocolVersion.V1;
                        case "v2", "2" -> o.upstreamProxyProtocol = io.github.gatehouse.core.ProxyProtocolVersion.V2;
                        default -> throw new UsageException("--upstream-proxy-protocol: '" + ppv + "' (expected: v1 or v2)");
                    }
                    break;
                case "--intercept-ca":
                    o.interceptCa = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--intercept-key":
                    o.interceptKey = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--intercept-keystore":
                    o.interceptKeystore = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--intercept-keystore-password-file":
                    o.interceptKeystorePasswordFile = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--intercept-host":
                    o.interceptHosts.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--no-intercept-host":
                    o.noInterceptHosts.add(value != null ? value : next(args, ++i, arg));
                    break;
                case "--admin-port":
                    o.adminPort = parsePort(value != null ? value : next(args, ++i, arg), arg, true);
                    break;
                case "--admin-bind":
                    o.adminBind = value != null ? value : next(args, ++i, arg);
                    break;
                case "--admin-token":
                    o.adminToken = value != null ? value : next(args, ++i, arg);
                    if (o.adminToken.length() < 16 || !o.adminToken.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
                        throw new UsageException("--admin-token: " + o.adminToken.length()
                                + " characters (expected: at least 16 visible ASCII characters)");
                    }
                    break;
                case "--admin-token-file":
                    o.adminTokenFile = existingFile(value != null ? value : next(args, ++i, arg), arg);
                    break;
                case "--admin-allow":
                    String cidr = value != null ? value : next(args, ++i, arg);
                    try {
                        io.github.gatehouse.core.internal.Cidr.parse(cidr);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--admin-allow: " + e.getMessage());
                    }
                    o.adminAllow.add(cidr);
                    break;
                case "--data-rate-grace":
                    String g = value != null ? value : next(args, ++i, arg);
                    o.dataRateGrace = "0".equals(g.trim()) ? Duration.ZERO : parseDuration(g, arg);
                    break;
                default:
                    throw new UnknownFlagException("unknown argument: " + args[i] + " (see --help)");
            }
        }
    }

    /** The checks across flags, and the defaults that depend on the mode; returns {@code o}. */
    static LauncherOptions finish(LauncherOptions o) throws UsageException {
        if (o.help || o.version) {
            return o;
        }
        if (o.mode == null) {
            throw new UsageException("missing mode (expected: forward or reverse)");
        }
        if (o.mode == Mode.REVERSE && o.upstreams.isEmpty() && o.fileRoutes.isEmpty()) {
            throw new UsageException("reverse mode needs at least one --upstream URL (or routes: in --config FILE)");
        }
        if (o.mode != Mode.FORWARD && (o.socksPort >= 0 || o.ftp)) {
            throw new UsageException("--socks-port and --ftp are for forward mode");
        }
        if (o.mode == Mode.FORWARD && !o.upstreams.isEmpty()) {
            throw new UsageException("--upstream is for reverse mode");
        }
        if (o.mode == Mode.FORWARD && (o.healthCheck != null || o.retries != null || o.healthInterval != null
                || o.stickyCookie != null || o.retryConditions != null
                || !o.balance.equals("round-robin"))) {
            throw new UsageException("--balance, --health-check, --health-interval, --retries, --retry-on and"
                    + " --sticky-cookie are for reverse mode");
        }
        if (o.harBodyLimit != null && o.har == null) {
            throw new UsageException("--har-body-limit needs --har FILE");
        }
        if (o.carp != null && !o.clustered()) {
            throw new UsageException("--carp needs a cluster (--cluster-port, --cluster-member ...); for a static list"
                    + " of instances use --cache-peer URL");
        }
        if (o.routesToPeers() && !o.caches()) {
            throw new UsageException((o.carp != null ? "--carp" : "--cache-peer") + " needs a cache (--cache-memory SIZE"
                    + " or --cache-dir DIR)");
        }
        if ((o.cachePeerTimeout != null || o.cachePeerSelf != null || o.cachePeerSecret != null) && !o.routesToPeers()) {
            throw new UsageException("--cache-peer-timeout, --cache-peer-self and --cache-peer-secret need --carp or"
                    + " --cache-peer URL");
        }
        if (o.routesToPeers()) {
            try {
                o.cachePeersBuilder(); // checks the timeout and the secret
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new UsageException(e.getMessage());
            }
        }
        if (o.clustered()) {
            try {
                o.clusterConfig();
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            if (o.cacheDir != null && o.sharesCache()) {
                throw new UsageException("--cache-dir does not combine with --cluster-* (the shared tier replaces it;"
                        + " --cache-memory SIZE is its near tier)");
            }
        }
        if (o.cacheDisk != null && o.cacheDir == null) {
            throw new UsageException("--cache-disk needs --cache-dir DIR");
        }
        if (o.cacheReplaySetCookie && !o.caches()) {
            throw new UsageException("--cache-replay-set-cookie needs a cache (--cache-memory SIZE or --cache-dir DIR)");
        }
        if (o.cacheTargetedFields != null && !o.caches()) {
            throw new UsageException("--cache-targeted-fields needs a cache (--cache-memory SIZE or --cache-dir DIR)");
        }
        if (!o.cacheRules.isEmpty() && !o.caches()) {
            throw new UsageException("--cache-rule needs a cache (--cache-memory SIZE or --cache-dir DIR)");
        }
        if (o.cacheFinishWithoutClient != null && !o.caches()) {
            throw new UsageException("--cache-finish-without-client needs a cache (--cache-memory SIZE or --cache-dir DIR)");
        }
        if (o.cacheBackgroundRevalidation != null && !o.caches()) {
            throw new UsageException("--cache-background-revalidation needs a cache (--cache-memory SIZE or --cache-dir DIR)");
        }
        if (o.healthInterval != null && o.healthCheck == null) {
            throw new UsageException("--health-interval needs --health-check PATH");
        }
        if (o.mode == Mode.REVERSE && !o.connectPorts.isEmpty()) {
            throw new UsageException("--connect-ports is for forward mode");
        }
        if (o.tlsCerts.size() != o.tlsKeys.size()) {
            throw new UsageException("--tls-cert " + o.tlsCerts.get(o.tlsCerts.size() - 1)
                    + " has no --tls-key (expected: --tls-cert FILE --tls-key FILE pairs)");
        }
        if ((o.tlsKeystore == null) != (o.tlsKeystorePasswordFile == null)) {
            throw new UsageException("--tls-keystore and --tls-keystore-password-file go together");
        }
        if (!o.tls() && (o.tlsPort >= 0 || o.tlsCheck != null || o.redirectHttps)) {
            throw new UsageException("--tls-port, --tls-check and --redirect-https need certificates"
                    + " (--tls-cert FILE --tls-key FILE, or --tls-keystore FILE)");
        }
        if (o.redirectHttps && o.mode != Mode.REVERSE) {
            throw new UsageException("--redirect-https is for reverse mode");
        }
        if ((o.upstreamClientCert == null) != (o.upstreamClientKey == null)) {
            throw new UsageException("--upstream-client-cert and --upstream-client-key go together");
        }
        if ((o.upstreamClientKeystore == null) != (o.upstreamClientKeystorePasswordFile == null)) {
            throw new UsageException("--upstream-client-keystore and --upstream-client-keystore-password-file go together");
        }
        if (o.upstreamClientCert != null && o.upstreamClientKeystore != null) {
            throw new UsageException("one client certificate: --upstream-client-cert/--upstream-client-key or --upstream-client-keystore");
        }
        if (o.mode == Mode.FORWARD && (o.upstreamProtocol != null || o.upstreamSni != null)) {
            throw new UsageException("--upstream-protocol and --upstream-sni are for reverse mode");
        }
        if (o.mode == Mode.FORWARD && o.upstreamProxyProtocol != null) {
            throw new UsageException("--upstream-proxy-protocol is for reverse mode");
        }
        if ((o.interceptCa == null) != (o.interceptKey == null)) {
            throw new UsageException("--intercept-ca and --intercept-key go together");
        }
        if ((o.interceptKeystore == null) != (o.interceptKeystorePasswordFile == null)) {
            throw new UsageException("--intercept-keystore and --intercept-keystore-password-file go together");
        }
        if (o.interceptKeystore != null && o.interceptCa != null) {
            throw new UsageException("one inspection CA: --intercept-ca/--intercept-key or --intercept-keystore");
        }
        if (o.interceptKeystore != null && o.mode != Mode.FORWARD) {
            throw new UsageException("HTTPS inspection (--intercept-keystore) is for forward mode");
        }
        if (o.interceptCa != null && o.mode != Mode.FORWARD) {
            throw new UsageException("HTTPS inspection (--intercept-ca) is for forward mode");
        }
        if (o.interceptCa == null && o.interceptKeystore == null
                && (!o.interceptHosts.isEmpty() || !o.noInterceptHosts.isEmpty())) {
            throw new UsageException("--intercept-host and --no-intercept-host need --intercept-ca FILE --intercept-key FILE");
        }
        if (o.adminPort < 0 && (o.adminBind != null || o.adminToken != null || o.adminTokenFile != null
                || !o.adminAllow.isEmpty())) {
            throw new UsageException("--admin-bind, --admin-token, --admin-token-file and --admin-allow need --admin-port N");
        }
        if (o.adminToken != null && o.adminTokenFile != null) {
            throw new UsageException("--admin-token and --admin-token-file: give one");
        }
        if (o.port < 0) {
            o.port = o.mode == Mode.FORWARD ? 3128 : 8080;
        }
        if (o.adminPort > 0 && (o.adminPort == o.port || o.tls() && o.adminPort == o.tlsPort)) {
            throw new UsageException("--admin-port " + o.adminPort + " is the proxy's own port (expected: another port)");
        }
        if (o.tls() && o.tlsPort < 0) {
            o.tlsPort = 8443;
        }
        if (o.tls() && o.tlsPort != 0 && o.tlsPort == o.port) {
            throw new UsageException("--tls-port " + o.tlsPort + " is the --port too (expected: two different ports)");
        }
        return o;
    }

    private static DataSize parseSize(String s, String flag) throws UsageException {
        try {
            return DataSize.parse(s);
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": '" + s + "' (expected: a size such as 64m or 1g)");
        }
    }

    /** A rate in bytes a second: a size such as {@code 500}, {@code 1k} or {@code 64k/s}; {@code 0} is off. */
    static DataSize parseRate(String s, String flag) throws UsageException {
        String t = s.trim();
        if (t.toLowerCase(Locale.ROOT).endsWith("/s")) {
            t = t.substring(0, t.length() - 2);
        }
        try {
            DataSize rate = DataSize.parse(t);
            if (rate.toBytes() > 1L << 30) {
                throw new IllegalArgumentException("too large");
            }
            return rate;
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": '" + s + "' (expected: bytes a second such as 500, 1k or 64k/s; 0 = off)");
        }
    }

    /** The request-body rate: {@code --min-request-rate}, else {@code --min-data-rate}, else null (default). */
    DataSize requestRate() {
        return minRequestRate != null ? minRequestRate : minDataRate;
    }

    /** The response-body rate: {@code --min-response-rate}, else {@code --min-data-rate}, else null (default). */
    DataSize responseRate() {
        return minResponseRate != null ? minResponseRate : minDataRate;
    }

    private static Path existingFile(String s, String flag) throws UsageException {
        Path p = Path.of(s);
        if (!java.nio.file.Files.isRegularFile(p) || !java.nio.file.Files.isReadable(p)) {
            throw new UsageException(flag + ": '" + s + "' is not a readable file");
        }
        return p;
    }

    /** {@code off}, or a comma-separated list of distinct header field names (not Cache-Control). */
    static List<String> parseTargetedFields(String value) throws UsageException {
        if (value.trim().equalsIgnoreCase("off")) {
            return List.of();
        }
        List<String> fields = new ArrayList<>();
        for (String part : value.split(",", -1)) {
            String f = part.trim();
            if (!f.matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+") || f.equalsIgnoreCase("Cache-Control")
                    || f.equalsIgnoreCase("off")) {
                throw new UsageException("--cache-targeted-fields: '" + f + "' in '" + value
                        + "' (expected: off, or header names such as Gatehouse-Cache-Control,CDN-Cache-Control)");
            }
            if (fields.stream().anyMatch(f::equalsIgnoreCase)) {
                throw new UsageException("--cache-targeted-fields: '" + f + "' is listed twice in '" + value + "'");
            }
            fields.add(f);
        }
        return List.copyOf(fields);
    }

    /** Whether any cache flag was given. */
    /** Whether an HTTPS listener was asked for. */
    boolean tls() {
        return !tlsCerts.isEmpty() || tlsKeystore != null;
    }

    /** Whether misses go to their home instance: {@code --carp} or {@code --cache-peer}. */
    boolean routesToPeers() {
        return carp != null || !cachePeers.isEmpty();
    }

    /** Whether the cache is the cluster's shared tier: clustered, unless {@code --carp alone}. */
    boolean sharesCache() {
        return clustered() && !"alone".equals(carp);
    }

    /** The cache-peer routing of the flags, without the cluster ({@code --carp} adds it). */
    io.github.gatehouse.core.CachePeers.Builder cachePeersBuilder() {
        var b = io.github.gatehouse.core.CachePeers.builder();
        cachePeers.forEach(b::peer);
        if (cachePeerTimeout != null) {
            b.timeout(cachePeerTimeout);
        }
        if (cachePeerSelf != null) {
            b.self(cachePeerSelf);
        }
        if (cachePeerSecret != null) {
            b.secret(cachePeerSecret);
        }
        return b;
    }

    private static String peerUrl(String url, String flag) throws UsageException {
        try {
            return io.github.gatehouse.core.internal.PeerRouting.normalize(url);
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": " + e.getMessage());
        }
    }

    /** Whether any --cluster-* flag was given. */
    boolean clustered() {
        return clusterPort != null || !clusterMembers.isEmpty() || clusterName != null || clusterBind != null;
    }

    /** The cluster of the --cluster-* flags. */
    io.github.gatehouse.core.cluster.ClusterConfig clusterConfig() {
        var b = io.github.gatehouse.core.cluster.ClusterConfig.builder()
                .bind(clusterBind != null ? clusterBind : "127.0.0.1",
                        clusterPort != null ? clusterPort : io.github.gatehouse.core.cluster.ClusterConfig.DEFAULT_PORT)
                .members(clusterMembers);
        if (clusterName != null) {
            b.name(clusterName);
        }
        return b.build();
    }

    boolean caches() {
        return cacheMemory != null || cacheDir != null || cacheDisk != null || cacheMaxObject != null;
    }

    private static String next(String[] args, int i, String flag) throws UsageException {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new UsageException(flag + " needs a value");
        }
        return args[i];
    }

    private static void parseRetryOn(LauncherOptions o, String list) throws UsageException {
        java.util.Set<io.github.gatehouse.core.RetryPolicy.Condition> conditions =
                java.util.EnumSet.noneOf(io.github.gatehouse.core.RetryPolicy.Condition.class);
        java.util.Set<Integer> statuses = new java.util.TreeSet<>();
        for (String item : list.split(",")) {
            String t = item.trim().toLowerCase(java.util.Locale.ROOT);
            switch (t) {
                case "connect-failure":
                    conditions.add(io.github.gatehouse.core.RetryPolicy.Condition.CONNECT_FAILURE);
                    break;
                case "reset":
                    conditions.add(io.github.gatehouse.core.RetryPolicy.Condition.RESET);
                    break;
                case "timeout":
                    conditions.add(io.github.gatehouse.core.RetryPolicy.Condition.TIMEOUT);
                    break;
                default:
                    int status;
                    try {
                        status = Integer.parseInt(t);
                    } catch (NumberFormatException e) {
                        status = -1;
                    }
                    if (status < 500 || status > 599) {
                        throw new UsageException("--retry-on: '" + item.trim()
                                + "' (expected: connect-failure, reset, timeout or a status 500..599)");
                    }
                    statuses.add(status);
            }
        }
        o.retryConditions = conditions;
        o.retryStatuses = statuses;
    }

    private static int parsePort(String s, String flag, boolean zeroAllowed) throws UsageException {
        try {
            int p = Integer.parseInt(s);
            if (p < (zeroAllowed ? 0 : 1) || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + ": '" + s + "' (expected: a port " + (zeroAllowed ? "0" : "1") + "..65535)");
        }
    }

    /** Parses {@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h}, or ISO-8601 such as {@code PT10S}. */
    static Duration parseDuration(String s, String flag) throws UsageException {
        String t = s.trim().toLowerCase(Locale.ROOT);
        try {
            Duration d;
            if (t.startsWith("pt")) {
                d = Duration.parse(s.trim().toUpperCase(Locale.ROOT));
            } else if (t.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            } else if (t.endsWith("s")) {
                d = Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            } else if (t.endsWith("m")) {
                d = Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            } else if (t.endsWith("h")) {
                d = Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            } else {
                throw new NumberFormatException();
            }
            if (d.isNegative() || d.isZero()) {
                throw new NumberFormatException();
            }
            return d;
        } catch (RuntimeException e) {
            throw new UsageException(flag + ": '" + s + "' (expected: a duration such as 500ms, 10s, 5m or 1h)");
        }
    }

    /** The access log file, or null for standard output; "off" is reported by {@link #accessLogOff()}. */
    Path accessLogFile() {
        return accessLog == null || accessLogOff() ? null : Path.of(accessLog);
    }

    boolean accessLogOff() {
        return "off".equals(accessLog);
    }
}
