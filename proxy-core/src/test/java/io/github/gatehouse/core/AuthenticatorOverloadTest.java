package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An authenticator out of capacity is a 503 with Retry-After, not a 500, and nothing goes upstream. */
class AuthenticatorOverloadTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("overload")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin overload " + req.path()));

    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch started = new CountDownLatch(1);
    private ThreadPoolExecutor pool;

    @BeforeEach
    void setUp() {
        pool = new ThreadPoolExecutor(1, 1, 1, TimeUnit.MINUTES, new ArrayBlockingQueue<>(1), r -> new Thread(r, "auth-overload"));
    }

    @AfterEach
    void tearDown() {
        release.countDown();
        pool.shutdownNow();
    }

    /** Checks on the bounded pool; each check waits for {@link #release}. */
    private AuthResult slowCheck() {
        started.countDown();
        try {
            release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return AuthResult.authenticated("alice");
    }

    private static final String OVERLOADED_HEAD_FIELDS = "gh-ov; error=proxy_internal_error; details=\"authentication is overloaded; retry shortly\"";

    private RawHttp.Reply get(ProxyServer proxy) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + "/hello HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
                + "\r\nConnection: close\r\n\r\n");
    }

    private void assertOverloaded(RawHttp.Reply reply) {
        assertThat(reply.statusLine()).isEqualTo("HTTP/1.1 503 Service Unavailable");
        assertThat(reply.headers()).containsEntry("retry-after", "1").containsEntry("proxy-status", OVERLOADED_HEAD_FIELDS)
                .containsEntry("via", "1.1 gh-ov");
        assertThat(reply.bodyText()).isEqualTo("503 authentication is overloaded; retry shortly\n");
    }

    /** One request holds the pool's thread, another its queue slot; the pool is full afterwards. */
    private CompletableFuture<RawHttp.Reply> fillPool(ProxyServer proxy) throws Exception {
        CompletableFuture<RawHttp.Reply> first = CompletableFuture.supplyAsync(() -> {
            try {
                return get(proxy);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        pool.execute(() -> { });   // the queue slot, behind the blocked check
        return first;
    }

    @Test
    void anAuthenticatorThatThrowsRejectedExecutionGets503() throws Exception {
        Authenticator auth = (credentials, exchange) -> CompletableFuture.supplyAsync(this::slowCheck, pool); // throws when full
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().via("gh-ov").authenticator(auth)
                .build().start()) {
            CompletableFuture<RawHttp.Reply> first = fillPool(proxy);

            assertOverloaded(get(proxy));
            assertThat(origin.requestCount()).isZero();

            release.countDown();
            assertThat(first.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);   // the held one goes through
        }
    }

    @Test
    void anAuthenticatorWhoseStageFailsWithAWrappedRejectionGets503AndConnectToo() throws Exception {
        Authenticator auth = (credentials, exchange) -> {
            try {
                return CompletableFuture.supplyAsync(this::slowCheck, pool);
            } catch (RejectedExecutionException e) {
                return CompletableFuture.failedFuture(new CompletionException("pool full", e));
            }
        };
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(origin.port())
                .via("gh-ov").authenticator(auth).build().start()) {
            CompletableFuture<RawHttp.Reply> first = fillPool(proxy);

            assertOverloaded(get(proxy));
            RawHttp.Reply connect = RawHttp.exchange(proxy.port(), "CONNECT 127.0.0.1:" + origin.port() + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + origin.port() + "\r\n\r\n");
            assertOverloaded(connect);
            assertThat(connect.headers()).containsEntry("connection", "close");
            assertThat(origin.requestCount()).isZero();

            release.countDown();
            assertThat(first.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
        }
    }

    @Test
    void otherAuthenticatorFailuresStay500() throws Exception {
        Authenticator auth = (credentials, exchange) -> CompletableFuture.failedFuture(new IllegalStateException("directory down"));
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().via("gh-ov").authenticator(auth)
                .build().start()) {
            RawHttp.Reply reply = get(proxy);
            assertThat(reply.status()).isEqualTo(500);
            assertThat(reply.headers()).doesNotContainKey("retry-after");
        }
    }
}
