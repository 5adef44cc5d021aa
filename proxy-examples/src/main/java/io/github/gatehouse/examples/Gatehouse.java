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
 * {@code gatehouse listening on https://HOST:PORT} for the HTTPS listener just before it), writes access lines to
 * standard output (unless {@code --access-log} says otherwise), logs to standard error, and stops cleanly on
 * SIGTERM or SIGINT. A bad command line prints a message and exits with status 2.
 */
public final class Gatehouse {
    private Gatehouse() {
    }

    public static void main(String[] args) throws InterruptedException {
        ProxyServer proxy;
        try {
            proxy = start(args, System.out);
        } catch (LauncherOptions.UsageException e) {
            System.err.println("gatehouse: " + e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            System.err.println("gatehouse: cannot start: " + e.getMessage()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""));
            System.exit(1);
            return;
        }
        if (proxy == null) {
            return; // --help
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            proxy.close();
            stopped.countDown();
        }, "gatehouse-shutdown"));
        stopped.await();
    }

    /**
     * Parses {@code args}, starts the proxy and prints the listening line to {@code out}; returns null after
     * printing the usage for {@code --help}.
     *
     * @throws LauncherOptions.UsageException for a bad command line
     */
    public static ProxyServer start(String[] args, PrintStream out) throws LauncherOptions.UsageException {
        LauncherOptions o = LauncherOptions.parse(args);
        if (o.help) {
            out.println(LauncherOptions.usage());
            return null;
        }
        ProxyServer proxy = configure(o, out).build().start();
        // start() returns once every listener accepts connections: the HTTPS line first, then the plain one
        if (proxy.hasTls()) {
            out.println("gatehouse listening on " + proxy.tlsUri());
        }
        out.println("gatehouse listening on " + proxy.uri());
        out.flush();
        return proxy;
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
        UpstreamPool pool = UpstreamPool.of(members);
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
        pool = pool.balance(lb);
        if (o.healthCheck != null) {
            HealthCheck check = HealthCheck.get(o.healthCheck);
            if (o.healthInterval != null) {
                check = check.every(o.healthInterval);
            }
            pool = pool.healthCheck(check).slowStart(java.time.Duration.ofSeconds(10));
        }
        if (o.retries != null || o.retryConditions != null) {
            RetryPolicy policy = o.retries != null && o.retries == 0 ? RetryPolicy.none()
                    : RetryPolicy.defaults().retries(o.retries == null ? 1 : o.retries);
            if (o.retryConditions != null) {
                policy = policy.retryOn(o.retryConditions)
                        .retryOnStatus(o.retryStatuses.stream().mapToInt(Integer::intValue).toArray());
            }
            pool = pool.retries(policy);
        }
        return pool;
    }

    /** The cache, filter and authentication flags, in this order: rate limit, deny, allow, keywords. */
    static void addCacheAndFilters(LauncherOptions o, ProxyServer.Builder b) {
        if (o.caches()) {
            HttpCaches.Builder cache = HttpCaches.builder();
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
            b.cache(cache.build());
        }
        if (o.rateLimit != null) {
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
        if (o.users != null) {
            b.authenticator(BasicAuthenticator.htpasswd(o.users));
        }
    }

    static ProxyServer.Builder configure(LauncherOptions o, PrintStream out) throws LauncherOptions.UsageException {
        ProxyServer.Builder b = ProxyServer.builder();
        try {
            b.listen(o.bind, o.port);
            if (o.mode == LauncherOptions.Mode.FORWARD) {
                b.forward();
                o.allowedInternal.forEach(b::allowInternalDestination);
                if (o.allowAllInternal) {
                    b.allowInternalDestinations();
                }
                if (!o.connectPorts.isEmpty()) {
                    b.connectPorts(o.connectPorts.stream().mapToInt(Integer::intValue).toArray());
                }
            } else {
                Route route = Route.any().to(pool(o));
                route = o.stickyCookie != null ? route.stickySessions(o.stickyCookie) : route;
                route = o.noUpgrade ? route.refuseUpgrades() : route;
                b.route(o.redirectHttps ? route.redirectToHttps() : route);
            }
            if (o.tls()) {
                b.listenTls(o.tlsPort, tls(o));
            }
            if (o.maxConcurrentStreams != null) {
                b.maxConcurrentStreams(o.maxConcurrentStreams);
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
        try {
            addCacheAndFilters(o, b);
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new LauncherOptions.UsageException(e.getMessage());
        }
        if (o.accessLogOff()) {
            b.accessLog(AccessLog.off());
        } else if (o.accessLogFile() != null) {
            b.accessLog(AccessLog.file(o.accessLogFile(), o.accessLogFormat));
        } else {
            b.accessLog(AccessLog.stream(out, o.accessLogFormat));
        }
        return b;
    }
}
