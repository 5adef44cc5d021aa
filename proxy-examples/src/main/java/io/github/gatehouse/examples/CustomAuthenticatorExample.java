package io.github.gatehouse.examples;

import io.github.gatehouse.core.AuthResult;
import io.github.gatehouse.core.Authenticator;
import io.github.gatehouse.core.ProxyServer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A custom authenticator backed by the host application's own user service (here a map standing in for a database
 * or LDAP). The check runs on the application's executor, never on the proxy's I/O threads.
 */
public final class CustomAuthenticatorExample {
    private CustomAuthenticatorExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> tokens = Map.of("alice", "s3cret-token");
        ExecutorService userService = Executors.newFixedThreadPool(4);
        Authenticator byToken = (credentials, exchange) -> CompletableFuture.supplyAsync(() -> credentials
                .flatMap(c -> c.basic())
                .filter(up -> up.password().equals(tokens.get(up.user())))
                .map(up -> AuthResult.authenticated(up.user()))
                .orElse(AuthResult.challenge("Basic realm=\"corp\", charset=\"UTF-8\"", "corporate login required")),
                userService);
        ProxyServer proxy = ProxyServer.builder().listen(3128).forward().authenticator(byToken).build().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            proxy.close();
            userService.shutdown();
        }));
        Thread.currentThread().join();
    }
}
