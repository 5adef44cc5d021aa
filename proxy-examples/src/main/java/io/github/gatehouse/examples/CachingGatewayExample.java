package io.github.gatehouse.examples;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.cache.PurgeMode;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.HealthCheck;
import io.github.gatehouse.core.LoadBalancing;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A reverse proxy that shields and accelerates internal servers: a memory cache in front of a disk cache, load
 * balancing with health checks, and a purge when content changes.
 */
public final class CachingGatewayExample {
    private CachingGatewayExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        SharedCache cache = HttpCaches.builder()
                .memory(DataSize.mebibytes(256))
                .disk(Path.of("cache"), DataSize.gibibytes(10))
                .maxObjectSize(DataSize.mebibytes(64))
                .forceTtl(200, Duration.ofMinutes(1))          // for origins that send no caching headers
                .build();
        ProxyServer gateway = ProxyServer.builder()
                .listen(8080)
                .route(Route.host("shop.example").pathPrefix("/api")
                        .to(UpstreamPool.builder("http://127.0.0.1:9001", "http://127.0.0.1:9002")
                                .balance(LoadBalancing.leastRequests())
                                .healthCheck(HealthCheck.get("/health").every(Duration.ofSeconds(5)))
                                .build()))
                .route(Route.any().to(UpstreamPool.of("http://127.0.0.1:9000")))
                .cache(cache)
                .build()
                .start();
        cache.purgePrefix(URI.create("http://shop.example/catalogue/"), PurgeMode.SOFT);
        System.out.println(cache.stats());
        Runtime.getRuntime().addShutdownHook(new Thread(gateway::close));
        Thread.currentThread().join();
    }
}
