package io.github.gatehouse.examples;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
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
 * <p>Prints {@code gatehouse listening on http://HOST:PORT} once it accepts connections, writes access lines to
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
        out.println("gatehouse listening on " + proxy.uri());
        out.flush();
        return proxy;
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
                UpstreamPool pool = UpstreamPool.of(o.upstreams.toArray(new String[0]));
                if (o.balance.equals("random")) {
                    pool = pool.balance(LoadBalancing.random());
                }
                b.route(Route.any().to(pool));
            }
            if (o.idleTimeout != null) {
                b.idleTimeout(o.idleTimeout);
            }
            if (o.upstreamTimeout != null) {
                b.upstreamTimeout(o.upstreamTimeout);
            }
        } catch (IllegalArgumentException e) {
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
