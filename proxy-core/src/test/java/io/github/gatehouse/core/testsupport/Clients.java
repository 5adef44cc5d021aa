package io.github.gatehouse.core.testsupport;

import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/** java.net.http clients for tests: direct, or through a proxy. Each uses a named thread pool. */
public final class Clients {
    private static final ExecutorService THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "client");
        t.setDaemon(true);
        return t;
    });

    private Clients() {
    }

    /** A client sending every request through the forward proxy at {@code 127.0.0.1:port}. */
    public static HttpClient throughProxy(int port) {
        return HttpClient.newBuilder()
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port)))
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .executor(THREADS)
                .build();
    }

    /** As {@link #throughProxy(int)}, trusting {@code ssl}'s certificates for HTTPS through CONNECT. */
    public static HttpClient throughProxy(int port, SSLContext ssl) {
        return HttpClient.newBuilder()
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port)))
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .sslContext(ssl)
                .executor(THREADS)
                .build();
    }

    /** A client without proxy (for reverse-proxy tests). */
    public static HttpClient direct() {
        return HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1)
                .executor(THREADS)
                .build();
    }
}
