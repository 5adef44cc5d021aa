package io.github.gatehouse.examples;

import io.github.gatehouse.cache.HttpCaches;
import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.filter.BasicAuthenticator;
import io.github.gatehouse.filter.HostRules;
import io.github.gatehouse.filter.KeywordFilter;
import io.github.gatehouse.filter.RateLimits;
import java.nio.file.Path;

/**
 * The whole job of a LAN proxy server: users authenticate (htpasswd), forbidden sites are refused, pages with
 * forbidden words are blocked, every use is logged with the user's name, and popular pages are cached. Listens on
 * all interfaces, which is safe here only because every request must authenticate.
 */
public final class LanProxyExample {
    private LanProxyExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        ProxyServer lanProxy = ProxyServer.builder()
                .listen("0.0.0.0", 3128)
                .forward()
                .authenticator(BasicAuthenticator.htpasswd(Path.of("users.htpasswd")))
                .filter(RateLimits.perUser(50))
                .filter(HostRules.denyFile(Path.of("blacklist.txt")))
                .filter(HostRules.deny("*.ads.example", "tracker.example"))
                .filter(KeywordFilter.blockPagesContaining("casino"))
                .cache(HttpCaches.memory(DataSize.mebibytes(512)))
                .accessLog(AccessLog.squidNative(Path.of("access.log")))
                .build()
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(lanProxy::close));
        Thread.currentThread().join();
    }
}
