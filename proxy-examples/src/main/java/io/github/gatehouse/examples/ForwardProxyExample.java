package io.github.gatehouse.examples;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.ProxyServer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A forward proxy for a LAN: clients set {@code http://127.0.0.1:3128} as their HTTP and HTTPS proxy.
 * HTTPS goes through CONNECT tunnels to port 443 only; access lines go to {@code access.log} in Squid's format.
 */
public final class ForwardProxyExample {
    private ForwardProxyExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        ProxyServer proxy = ProxyServer.builder()
                .listen(3128)                                   // loopback unless bind(...) says otherwise
                .forward()                                      // absolute-form http:// and CONNECT
                .connectPorts(443)
                .idleTimeout(Duration.ofSeconds(60))
                .accessLog(AccessLog.squidNative(Path.of("access.log")))
                .build()
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(proxy::close));
        Thread.currentThread().join();
    }
}
