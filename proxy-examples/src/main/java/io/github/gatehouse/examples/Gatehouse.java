package io.github.gatehouse.examples;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.filter.BasicAuthenticator;
import io.github.gatehouse.filter.HostRules;
import io.github.gatehouse.filter.KeywordFilter;
import io.github.gatehouse.filter.RateLimits;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.LoadBalancer;
import io.github.gatehouse.core.RetryPolicy;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Tls;
import io.github.gatehouse.core.UpstreamPool;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The Gatehouse launcher: starts a forward or reverse proxy from command-line flags.
 *
 * <pre>
 * java -jar proxy-examples/target/gatehouse.jar forward
 * java -jar proxy-examples/target/gatehouse.jar reverse --port 8080 --upstream http://127.0.0.1:9000
 * </pre>
 *
 * <p>Prints {@code gatehouse listening on http://HOST:PORT} once it accepts connections (with {@code --tls-cert},
 * {@code gatehouse listening on https://HOST:PORT} for the HTTPS listener just before it, and with
 * {@code --socks-port}, {@code gatehouse listening on socks5://HOST:PORT}), writes access lines to
 * standard output (unless {@code --access-log} says otherwise), logs to standard error, and stops cleanly on
 * SIGTERM or SIGINT. A bad command line prints a message and exits with status 2.
 *
 * <p>With {@code --config FILE} ({@link ConfigFile}) it reloads the file on SIGHUP and when the file changes
 * ({@link ConfigReloader}); a file with an error leaves the configuration in force and logs why.
 */
public final class Gatehouse {
    private Gatehouse() {
    }

    public static void main(String[] args) throws InterruptedException {
        Launched launched;
        try {
            launched = launch(args, System.out);
        } catch (LauncherOptions.UsageException e) {
            System.err.println("gatehouse: " + e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            System.err.println("gatehouse: " + startFailure(e));
            System.exit(1);
            return;
        }
        if (launched == null) {
            return; // --help, --version, ca
        }
        ProxyServer proxy = launched.proxy();
        ConfigReloader reloader = launched.reloader();
        if (reloader != null) {
            reloader.onSignal("HUP");
            reloader.watchFile();
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (reloader != null) {
                reloader.close();
            }
            if (launched.admin() != null) {
                launched.admin().close();
            }
            proxy.close();
            stopped.countDown();
        }, "gatehouse-shutdown"));
        stopped.await();
    }

    /**
     * The launcher's version: {@code Implementation-Version} of the jar's manifest, else the {@code version.properties}
     * Maven filtered at build time, else {@code unknown}.
     */
    static String version() {
        String fromManifest = Gatehouse.class.getPackage().getImplementationVersion();
        if (fromManifest != null) {
            return fromManifest;
        }
        try (java.io.InputStream in = Gatehouse.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                java.util.Properties p = new java.util.Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank() && !v.startsWith("${")) {
                    return v.trim();
                }
            }
        } catch (java.io.IOException e) {
            // fall through: unknown
        }
        return "unknown";
    }

    /**
     * The one line {@code main} prints when the proxy (or the admin listener) cannot start: for a port in use
     * {@code cannot listen on HOST:PORT: address already in use}, naming the port; otherwise
     * {@code cannot start: } and the causes' messages. Never a stack trace.
     */
    static String startFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException) {
                return "cannot listen on " + boundAddress(failure) + ": address already in use"
                        + " (another process listens there; choose another port)";
            }
        }
        StringBuilder sb = new StringBuilder("cannot start");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && seen.add(m)) {
                sb.append(": ").append(m);
            }
        }
        return sb.toString();
    }

    /** HOST:PORT of the listener that failed to bind, from Jetty's "Failed to bind to /HOST:PORT" or ours. */
    private static String boundAddress(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m == null) {
                continue;
            }
            java.util.regex.Matcher jetty = java.util.regex.Pattern.compile("[Ff]ailed to bind to (\\S*/)?(\\S+)").matcher(m);
            if (jetty.find()) {
                return jetty.group(2);
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            java.util.regex.Matcher ours = m == null ? null
                    : java.util.regex.Pattern.compile("(?:listen|proxy) on (\\S+?:\\d+)").matcher(m);
            if (ours != null && ours.find()) {
                return ours.group(1);
            }
        }
        return "the configured port";
    }

    /**
     * Parses {@code args}, starts the proxy and prints the listening line to {@code out}; returns null after
     * printing the usage for {@code --help}.
     *
     * @throws LauncherOptions.UsageException for a bad command line
     */
    public static ProxyServer start(String[] args, PrintStream out) throws LauncherOptions.UsageException {
        Launched launched = launch(args, out);
        return launched == null ? null : launched.proxy();
    }

    /**
     * What {@link #launch} started: the proxy; with {@code --config FILE} the reloader that reads the file again
     * ({@link ConfigReloader#reload()}, also behind the admin listener's {@code POST /api/reload}), else null; and the
     * admin listener, or null without {@code --admin-port}.
     */
    public record Launched(ProxyServer proxy, ConfigReloader reloader, AdminServer admin,
            io.github.gatehouse.core.cluster.Cluster cluster) implements AutoCloseable {
        /** Without a cluster. */
        public Launched(ProxyServer proxy, ConfigReloader reloader, AdminServer admin) {
            this(proxy, reloader, admin, null);
        }

        /** Stops the admin listener and the reloader, then the proxy, then leaves the cluster. */
        @Override
        public void close() {
            if (admin != null) {
                admin.close();
            }
            if (reloader != null) {
                reloader.close();
            }
            proxy.close();
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    /**
     * As {@link #start}, and returns the reloader and the admin listener too; {@code main} hooks the reloader to SIGHUP
     * and to changes of the file. With {@code --admin-port} it prints {@code gatehouse admin listening on
     * http://HOST:PORT} after the proxy's line, and the token when it generated one. Returns null after printing the
     * usage for {@code --help} (or after the {@code ca} command).
     *
     * @throws LauncherOptions.UsageException for a bad command line or configuration file
     */
    public static Launched launch(String[] args, PrintStream out) throws LauncherOptions.UsageException {
        if (args.length > 0 && args[0].equals("ca")) {
            InspectionFlags.makeCa(args, out);
            return null;
        }
        LauncherOptions o = ConfigFile.options(args);
        if (o.help) {
            out.println(LauncherOptions.usage());
            return null;
        }
        if (o.version) {
            out.println("gatehouse " + version());
            out.flush();
            return null;
        }
        Resources resources = new Resources();
        ProxyServer proxy;
        try {
            proxy = configure(o, out, resources).build().start();
        } catch (IllegalStateException e) {
            throw new LauncherOptions.UsageException(e.getMessage());
        }
        // start() returns once every listener accepts connections: the HTTPS line first, then the plain one
        if (proxy.hasTls()) {
            out.println("gatehouse listening on " + proxy.tlsUri());
        }
        if (proxy.hasSocks()) {
            out.println("gatehouse listening on " + proxy.socksUri());
        }
        out.println("gatehouse listening on " + proxy.uri());
        out.flush();
        ConfigReloader reloader = o.configFile == null ? null
                : new ConfigReloader(o.configFile, args, proxy, resources, out);
        AdminServer admin = null;
        if (o.adminPort >= 0) {
            try {
                admin = admin(o, proxy, reloader).start();
            } catch (RuntimeException e) {
                proxy.close();
                throw e;
            }
            out.println("gatehouse admin listening on " + admin.uri());
            if (admin.isTokenGenerated()) {
                out.println("gatehouse admin token " + admin.token()
                        + " (generated; send it as Authorization: Bearer TOKEN, or open /login?token=TOKEN once)");
            }
            out.flush();
        }
        return new Launched(proxy, reloader, admin, resources.cluster);
    }

    /** The admin listener of the --admin-* flags, with the JVM's own meters beside the proxy's on /metrics. */
    static AdminServer admin(LauncherOptions o, ProxyServer proxy, ConfigReloader reloader)
            throws LauncherOptions.UsageException {
        AdminServer.Builder b = AdminServer.builder(proxy).port(o.adminPort);
        if (reloader != null) {
            b.onReload(() -> {
                if (!reloader.reload()) {
                    throw new IllegalArgumentException(reloader.file() + " was not applied (see the log for the line and key)");
                }
                return "reloaded " + reloader.file();
            });
        }
        if (o.adminBind != null) {
            b.bind(o.adminBind);
        }
        if (o.adminToken != null) {
            b.token(o.adminToken);
        }
        if (o.adminTokenFile != null) {
            String token;
            try {
                List<String> lines = java.nio.file.Files.readAllLines(o.adminTokenFile);
                token = lines.isEmpty() ? "" : lines.get(0).trim();
            } catch (java.io.IOException e) {
                throw new LauncherOptions.UsageException("--admin-token-file " + o.adminTokenFile + ": cannot read it: " + e.getMessage());
            }
            try {
                b.token(token);
            } catch (IllegalArgumentException e) {
                throw new LauncherOptions.UsageException("--admin-token-file " + o.adminTokenFile + ": " + e.getMessage());
            }
        }
        o.adminAllow.forEach(b::allow);
        io.micrometer.prometheusmetrics.PrometheusMeterRegistry registry =
                new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
        new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(registry);
        return b.registry(registry).build();
    }

    /**
     * What a reload hands on to the new configuration when its flags did not change, so that it keeps running: the
     * cache (and its contents), the access log, the HAR recorder. Used by the one thread that configures.
     */
    static final class Resources {
        private String cacheKey;
        private io.github.gatehouse.core.HttpCache cache;
        /** The cluster of the --cluster-* flags: joined once, kept across reloads. */
        private io.github.gatehouse.core.cluster.Cluster cluster;
        /** The cache-peer routing of --carp / --cache-peer: built once, kept across reloads. */
        private io.github.gatehouse.core.CachePeers cachePeers;
        private String logKey;
        private AccessLog log;
        private io.github.gatehouse.core.HarRecorder har;
        private String harKey;
        private DataSize harLimit;

        /** A copy to configure into; {@link #commit} keeps it, {@link #discard} closes what it opened. */
        Resources copy() {
            Resources r = new Resources();
            r.cacheKey = cacheKey;
            r.cache = cache;
            r.cluster = cluster;
            r.cachePeers = cachePeers;
            r.logKey = logKey;
            r.log = log;
            r.har = har;
            r.harKey = harKey;
            r.harLimit = harLimit;
            return r;
        }

        /** {@code trial} is in use now (the proxy closes what it replaced). */
        void commit(Resources trial) {
            cacheKey = trial.cacheKey;
            cache = trial.cache;
            cluster = trial.cluster;
            cachePeers = trial.cachePeers;
            logKey = trial.logKey;
            log = trial.log;
            har = trial.har;
            harKey = trial.harKey;
            harLimit = trial.harLimit;
        }

        /** {@code trial} was not used: closes what it opened that this one does not hold. */
        void discard(Resources trial) {
            if (trial.log != null && trial.log != log) {
                trial.log.close(); // and its HAR recorder
            } else if (trial.har != null && trial.har != har) {
                trial.har.close();
            }
            if (trial.cache != null && trial.cache != cache && trial.cache instanceof AutoCloseable) {
                try {
                    ((AutoCloseable) trial.cache).close();
                } catch (Exception e) {
                    org.slf4j.LoggerFactory.getLogger(Gatehouse.class).debug("closing an unused cache failed", e);
                }
            }
        }
    }

    /** The certificates of the TLS flags: the --tls-cert/--tls-key pairs in order, then the key store. */
    static Tls tls(LauncherOptions o) throws LauncherOptions.UsageException {
        Tls tls = null;
        for (int i = 0; i < o.tlsCerts.size(); i++) {
            Tls pair = Tls.pem(o.tlsCerts.get(i), o.tlsKeys.get(i));
            tls = tls == null ? pair : tls.and(pair);
        }
        if (o.tlsKeystore != null) {
            String password;
            try {
                java.util.List<String> lines = java.nio.file.Files.readAllLines(o.tlsKeystorePasswordFile);
                password = lines.isEmpty() ? "" : lines.get(0);
            } catch (java.io.IOException e) {
                throw new LauncherOptions.UsageException("--tls-keystore-password-file: cannot read "
                        + o.tlsKeystorePasswordFile + " (" + e.getMessage() + ")");
            }
            Tls store = Tls.pkcs12(o.tlsKeystore, password.toCharArray());
            tls = tls == null ? store : tls.and(store);
        }
        return o.tlsCheck != null ? tls.checkForChangesEvery(o.tlsCheck) : tls;
    }

    /** The first line of a password file. */
    static String firstLine(java.nio.file.Path file, String flag) throws LauncherOptions.UsageException {
        try {
            java.util.List<String> lines = java.nio.file.Files.readAllLines(file);
            return lines.isEmpty() ? "" : lines.get(0);
        } catch (java.io.IOException e) {
            throw new LauncherOptions.UsageException(flag + ": cannot read " + file + " (" + e.getMessage() + ")");
        }
    }

    /** The upstream pool the reverse-mode flags describe. */
    static UpstreamPool pool(LauncherOptions o) throws LauncherOptions.UsageException {
        java.util.List<Upstream> members = new java.util.ArrayList<>();
        for (String spec : o.upstreams) {
            String[] parts = spec.split(",");
            int weight = 1;
            for (int i = 1; i < parts.length; i++) {
                String p = parts[i].trim();
                if (!p.startsWith("weight=")) {
                    throw new LauncherOptions.UsageException("--upstream: '" + spec + "' (expected: URL[,weight=N])");
                }
                try {
                    weight = Integer.parseInt(p.substring(7));
                } catch (NumberFormatException e) {
                    throw new LauncherOptions.UsageException("--upstream: '" + spec + "' (expected: weight=N with N in 1..1000)");
                }
            }
            members.add(Upstream.of(parts[0].trim(), weight));
        }
        UpstreamPool.Builder pool = UpstreamPool.builder(members);
        InspectionFlags.pool(o, pool);
        String balance = o.balance;
        LoadBalancer lb;
        if (balance.equals("random")) {
            lb = LoadBalancing.random();
        } else if (balance.equals("least-requests")) {
            lb = LoadBalancing.leastRequests();
        } else if (balance.equals("hash:client")) {
            lb = LoadBalancing.hashByClientAddress();
        } else if (balance.equals("hash:url")) {
            lb = LoadBalancing.hashByUrl();
        } else if (balance.startsWith("hash:header:")) {
            lb = LoadBalancing.hashByHeader(balance.substring("hash:header:".length()));
        } else if (balance.startsWith("hash:cookie:")) {
            lb = LoadBalancing.hashByCookie(balance.substring("hash:cookie:".length()));
        } else {
            lb = LoadBalancing.roundRobin();
        }
        pool.balance(lb);
        if (o.healthCheck != null) {
            HealthCheck check = HealthCheck.get(o.healthCheck);
            if (o.healthInterval != null) {
                check = check.every(o.healthInterval);
            }
            pool.healthCheck(check).slowStart(java.time.Duration.ofSeconds(10));
        }
        if (o.retries != null || o.retryConditions != null) {
            RetryPolicy policy = o.retries != null && o.retries == 0 ? RetryPolicy.none()
                    : RetryPolicy.defaults().retries(o.retries == null ? 1 : o.retries);
            if (o.retryConditions != null) {
                policy = policy.retryOn(o.retryConditions)
                        .retryOnStatus(o.retryStatuses.stream().mapToInt(Integer::intValue).toArray());
            }
            pool.retries(policy);
        }
        try {
            return pool.build();
        } catch (IllegalArgumentException e) {
            throw new LauncherOptions.UsageException(e.getMessage());
        }
    }

    /** The cache, filter and authentication flags, in this order: rate limit, deny, allow, keywords. */
    static void addCacheAndFilters(LauncherOptions o, ProxyServer.Builder b) {
        addCacheAndFilters(o, b, new Resources());
    }

    private static String cacheKey(LauncherOptions o) {
        return java.util.Arrays.asList(o.cacheMemory, o.cacheDir, o.cacheDisk, o.cacheMaxObject, o.cacheReplaySetCookie,
                o.cacheTargetedFields, o.cacheRules, o.cacheFinishWithoutClient, o.cacheBackgroundRevalidation).toString();
    }

    static void addCacheAndFilters(LauncherOptions o, ProxyServer.Builder b, Resources resources) {
        if (resources.har != null) {
            b.filter(resources.har); // first: it sees what the client asked for and what it got
        }
        if (o.clustered() && resources.cluster == null) {
            resources.cluster = io.github.gatehouse.core.cluster.Cluster.join(o.clusterConfig());
        }
        if (o.caches() && cacheKey(o).equals(resources.cacheKey)) {
            b.cache(resources.cache);
        } else if (o.caches()) {
            HttpCaches.Builder cache = HttpCaches.builder();
            if (resources.cluster != null && o.sharesCache()) {
                cache.cluster(resources.cluster); // --cache-memory is its near tier
            }
            if (o.cacheDir != null) {
                cache.disk(o.cacheDir, o.cacheDisk != null ? o.cacheDisk : DataSize.gibibytes(1));
            }
            if (o.cacheMemory != null || o.cacheDir == null) {
                cache.memory(o.cacheMemory != null ? o.cacheMemory : DataSize.mebibytes(256));
            }
            if (o.cacheMaxObject != null) {
                cache.maxObjectSize(o.cacheMaxObject);
            }
            cache.replaySetCookie(o.cacheReplaySetCookie);
            if (o.cacheTargetedFields != null && o.cacheTargetedFields.isEmpty()) {
                cache.targetedCacheControlOff();
            } else if (o.cacheTargetedFields != null) {
                cache.targetedCacheControl(o.cacheTargetedFields.get(0),
                        o.cacheTargetedFields.subList(1, o.cacheTargetedFields.size()).toArray(new String[0]));
            }
            o.cacheRules.forEach(cache::rule);
            if (o.cacheFinishWithoutClient != null) {
                cache.finishWithoutClient(o.cacheFinishWithoutClient);
            }
            if (o.cacheBackgroundRevalidation != null) {
                cache.backgroundRevalidation(o.cacheBackgroundRevalidation);
            }
            io.github.gatehouse.core.HttpCache built = cache.build();
            resources.cacheKey = cacheKey(o);
            resources.cache = built;
            b.cache(built);
        }
        if (o.routesToPeers()) {
            if (resources.cachePeers == null) { // built once: it holds this instance's URL and counters
                io.github.gatehouse.core.CachePeers.Builder peers = o.cachePeersBuilder();
                if (o.carp != null) {
                    peers.cluster(resources.cluster);
                }
                resources.cachePeers = peers.build();
            }
            b.cachePeers(resources.cachePeers);
        }
        if (o.rateLimit != null && resources.cluster != null) {
            b.filter(RateLimits.builder().perClient(o.rateLimit, o.rateLimit).cluster(resources.cluster, "launcher").build());
        } else if (o.rateLimit != null) {
            b.filter(RateLimits.perClient(o.rateLimit));
        }
        if (!o.denyHosts.isEmpty() || !o.denyLists.isEmpty()) {
            HostRules.Builder deny = HostRules.builder(HostRules.Mode.BLACKLIST).add(o.denyHosts.toArray(new String[0]));
            o.denyLists.forEach(deny::addFile);
            b.filter(deny.build());
        }
        if (!o.allowHosts.isEmpty() || !o.allowLists.isEmpty()) {
            HostRules.Builder allow = HostRules.builder(HostRules.Mode.WHITELIST).add(o.allowHosts.toArray(new String[0]));
            o.allowLists.forEach(allow::addFile);
            b.filter(allow.build());
        }
        if (!o.blockKeywords.isEmpty()) {
            b.filter(KeywordFilter.blockPagesContaining(o.blockKeywords.toArray(new String[0])));
        }
        if (o.users != null && resources.cluster != null) {
            b.authenticator(BasicAuthenticator.builder().htpasswd(o.users).cluster(resources.cluster, "launcher").build());
        } else if (o.users != null) {
            b.authenticator(BasicAuthenticator.htpasswd(o.users));
        }
    }

    static ProxyServer.Builder configure(LauncherOptions o, PrintStream out) throws LauncherOptions.UsageException {
        return configure(o, out, new Resources());
    }

    /** The builder {@code o} describes, reusing from {@code resources} what did not change since the last call. */
    static ProxyServer.Builder configure(LauncherOptions o, PrintStream out, Resources resources)
            throws LauncherOptions.UsageException {
        ProxyServer.Builder b = ProxyServer.builder();
        try {
            b.listen(o.bind, o.port);
            if (o.mode == LauncherOptions.Mode.FORWARD) {
                b.forward();
                o.allowedInternal.forEach(b::allowInternalDestination);
                if (o.allowAllInternal) {
                    b.allowAllInternalDestinations();
                }
                if (!o.connectPorts.isEmpty()) {
                    b.connectPorts(o.connectPorts.stream().mapToInt(Integer::intValue).toArray());
                }
                if (o.socksPort >= 0) {
                    b.listenSocks(o.socksPort);
                }
                if (o.ftp) {
                    b.ftpGateway();
                }
                if (o.noUpgrade) {
                    b.refuseForwardUpgrades();
                }
            } else {
                o.fileRoutes.forEach(b::route);
                if (!o.upstreams.isEmpty()) {
                    Route route = Route.any().to(pool(o));
                    route = o.stickyCookie != null ? route.stickySessions(o.stickyCookie) : route;
                    route = o.noUpgrade ? route.refuseUpgrades() : route;
                    b.route(o.redirectHttps ? route.redirectToHttps() : route);
                }
            }
            o.proxyProtocolFrom.forEach(b::proxyProtocolFrom);
            if (o.tls()) {
                b.listenTls(o.tlsPort, tls(o));
            }
            InspectionFlags.apply(o, b);
            if (o.maxConcurrentStreams != null) {
                b.maxConcurrentStreams(o.maxConcurrentStreams);
            }
            if (o.h2WebSocket != null) {
                b.webSocketOverHttp2(o.h2WebSocket);
            }
            if (o.idleTimeout != null) {
                b.idleTimeout(o.idleTimeout);
            }
            if (o.upstreamTimeout != null) {
                b.upstreamTimeout(o.upstreamTimeout);
            }
            if (o.headerTimeout != null) {
                b.requestHeadTimeout(o.headerTimeout);
            }
            if (o.requestRate() != null) {
                b.minRequestBodyRate(o.requestRate());
            }
            if (o.responseRate() != null) {
                b.minResponseBodyRate(o.responseRate());
            }
            if (o.dataRateGrace != null) {
                b.bodyRateGracePeriod(o.dataRateGrace);
            }
        } catch (IllegalArgumentException e) {
            throw new LauncherOptions.UsageException(e.getMessage());
        }
        String harKey = String.valueOf(o.har == null ? null : o.har.toAbsolutePath().normalize());
        String logKey = java.util.Arrays.asList(o.accessLog, o.accessLogFormat, harKey).toString();
        boolean sameLog = logKey.equals(resources.logKey);
        try {
            if (!harKey.equals(resources.harKey)) {
                // a new file: a new recorder (the one it replaces completes its file once its exchanges ended)
                resources.har = o.har == null ? null : io.github.gatehouse.core.HarRecorder.builder(o.har)
                        .bodyLimit(o.harBodyLimit != null ? o.harBodyLimit : DataSize.kibibytes(64)).build();
                resources.harKey = harKey;
                resources.harLimit = o.harBodyLimit;
            } else if (o.har != null && !java.util.Objects.equals(o.harBodyLimit, resources.harLimit)) {
                org.slf4j.LoggerFactory.getLogger(Gatehouse.class).warn("--har-body-limit {} -> {}: a new limit for the"
                        + " same HAR file takes effect after a restart", resources.harLimit, o.harBodyLimit);
            }
            addCacheAndFilters(o, b, resources);
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new LauncherOptions.UsageException(e.getMessage());
        }
        if (!sameLog) {
            AccessLog log;
            if (o.accessLogOff()) {
                log = AccessLog.off();
            } else if (o.accessLogFile() != null) {
                log = AccessLog.file(o.accessLogFile(), o.accessLogFormat);
            } else {
                log = AccessLog.stream(out, o.accessLogFormat);
            }
            resources.log = resources.har != null ? resources.har.accessLog(log) : log;
            resources.logKey = logKey;
        }
        b.accessLog(resources.log);
        return b;
    }
}
