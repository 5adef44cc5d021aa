package io.github.gatehouse.core.testing;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.ProxyServer;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that builds a {@link ProxyServer} from your builder code, starts it on {@code 127.0.0.1} and
 * an ephemeral port, and closes it after the tests.
 *
 * <pre>{@code
 * @RegisterExtension static final MockOrigin origin = MockOrigin.create();
 * @RegisterExtension static final ProxyUnderTest proxy = ProxyUnderTest.of(b -> b
 *         .forward()
 *         .allowAllInternalDestinations()                      // the origin is on loopback
 *         .filter(HostRules.deny("blocked.test")));
 *
 * HttpResponse<String> response = proxy.client().send(
 *         HttpRequest.newBuilder(URI.create("http://blocked.test/")).build(), BodyHandlers.ofString());
 * }</pre>
 *
 * <p>The builder is entered with {@code listen(0)} already called; the configuration may call {@code listen} or
 * {@code bind} itself. In a {@code static} field the proxy serves every test of the class (the configuration runs
 * once, before the first test); in an instance field each test gets its own, built by its own run of the
 * configuration (so it may read the test's own fields, such as a {@link MockOrigin}'s port).
 *
 * <p><b>Threading.</b> {@link #server()} and the clients may be used from any thread. The clients' threads are
 * named {@code proxy-client}.
 */
public final class ProxyUnderTest implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback, AutoCloseable {
    private static final ExecutorService CLIENT_THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "proxy-client");
        t.setDaemon(true);
        return t;
    });

    private final Consumer<ProxyServer.Builder> configuration;
    private ProxyServer server;
    private boolean perTest;

    private ProxyUnderTest(Consumer<ProxyServer.Builder> configuration) {
        this.configuration = configuration;
    }

    /** A proxy that {@code configuration} sets up on a builder already listening on an ephemeral port. */
    public static ProxyUnderTest of(Consumer<ProxyServer.Builder> configuration) {
        return new ProxyUnderTest(requireNonNull(configuration, "configuration"));
    }

    /**
     * Builds and starts the proxy now, for use without JUnit (then {@link #close()} it). Does nothing if it runs.
     *
     * @return this
     */
    public synchronized ProxyUnderTest start() {
        if (server == null) {
            ProxyServer.Builder builder = ProxyServer.builder().listen(0);
            configuration.accept(builder);
            server = builder.build().start();
        }
        return this;
    }

    /** Closes the proxy; does nothing if it is not running. */
    @Override
    public synchronized void close() {
        if (server != null) {
            try {
                server.close();
            } finally {
                server = null;
            }
        }
    }

    /**
     * The running proxy.
     *
     * @throws IllegalStateException before the extension started it
     */
    public synchronized ProxyServer server() {
        if (server == null) {
            throw new IllegalStateException("the proxy under test is not running (register the extension with "
                    + "@RegisterExtension, or call start())");
        }
        return server;
    }

    /** The proxy's plain HTTP port. */
    public int port() {
        return server().port();
    }

    /** {@code http://127.0.0.1:PORT} followed by {@code path}: a URL on the proxy itself, for reverse routes. */
    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port() + requireNonNull(path, "path"));
    }

    /**
     * A {@code java.net.http} client (HTTP/1.1, 5 s connect timeout) that sends every request through this proxy,
     * as a forward-proxy user would. A new client each call; it lives as long as you keep it.
     */
    public HttpClient client() {
        return HttpClient.newBuilder()
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port())))
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .executor(CLIENT_THREADS)
                .build();
    }

    /** A {@code java.net.http} client (HTTP/1.1) with no proxy, for requests to {@link #uri(String)} (reverse mode). */
    public HttpClient directClient() {
        return HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .executor(CLIENT_THREADS)
                .build();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public synchronized void beforeEach(ExtensionContext context) {
        if (server == null) {
            perTest = true;
            start();
        }
    }

    @Override
    public synchronized void afterEach(ExtensionContext context) {
        if (perTest) {
            close();
        }
    }

    @Override
    public synchronized String toString() {
        return "ProxyUnderTest[" + (server == null ? "not running" : server.uri()) + "]";
    }
}
