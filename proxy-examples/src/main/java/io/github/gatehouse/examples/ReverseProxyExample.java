package io.github.gatehouse.examples;

import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;

/**
 * A reverse proxy in front of internal servers: {@code /api} goes to two API servers (prefix stripped, balanced
 * at random), everything else to the web server, with the client's Host header preserved.
 */
public final class ReverseProxyExample {
    private ReverseProxyExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        ProxyServer gateway = ProxyServer.builder()
                .listen(8080)
                .route(Route.host("shop.example").pathPrefix("/api").stripPrefix()
                        .to(UpstreamPool.builder("http://127.0.0.1:9001", "http://127.0.0.1:9002")
                                .balance(LoadBalancing.random())
                                .build()))
                .route(Route.any().to(UpstreamPool.of("http://127.0.0.1:9000")))
                .build()
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(gateway::close));
        Thread.currentThread().join();
    }
}
