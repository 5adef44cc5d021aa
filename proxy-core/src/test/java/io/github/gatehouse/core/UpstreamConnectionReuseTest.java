package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawOrigin;
import io.github.gatehouse.core.testsupport.RawOrigin.Ending;
import io.github.gatehouse.core.testsupport.RawOrigin.Reply;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The lean upstream transport's connection handling (the default; set explicitly here), seen from the origin: persistent connections are reused for later
 * exchanges, and a response that ends its connection (by {@code Connection: close}, an HTTP/1.0 head or a
 * close-delimited body) is never followed by another exchange on it. Both modes, because forward and reverse have
 * their own connection pools.
 */
class UpstreamConnectionReuseTest {
    enum Mode { FORWARD, REVERSE }

    private final List<AutoCloseable> closeables = new ArrayList<>();

    /** The lean transport is opt-in (a system property read when a proxy starts); these tests are about it. */
    @org.junit.jupiter.api.BeforeAll
    static void leanTransport() {
        System.setProperty(io.github.gatehouse.core.internal.JettyProxy.TRANSPORT_PROPERTY, "lean");
    }

    @org.junit.jupiter.api.AfterAll
    static void defaultTransport() {
        System.clearProperty(io.github.gatehouse.core.internal.JettyProxy.TRANSPORT_PROPERTY);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private RawOrigin origin(java.util.function.Function<String, Reply> script) {
        RawOrigin origin = RawOrigin.start(script);
        closeables.add(origin);
        return origin;
    }

    private ProxyServer proxy(Mode mode, RawOrigin origin) {
        ProxyServer.Builder b = ProxyServer.builder().via("gh-reuse");
        ProxyServer proxy = (mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.any().to(UpstreamPool.of(origin.baseUrl())))).build().start();
        closeables.add(proxy);
        return proxy;
    }

    private static HttpResponse<String> get(HttpClient client, Mode mode, ProxyServer proxy, RawOrigin origin, String path)
            throws Exception {
        String url = mode == Mode.FORWARD ? origin.baseUrl() + path : "http://127.0.0.1:" + proxy.port() + path;
        return client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpClient client(Mode mode, ProxyServer proxy) {
        return mode == Mode.FORWARD ? Clients.throughProxy(proxy.port()) : Clients.direct();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void sequentialExchangesShareOnePersistentConnection(Mode mode) throws Exception {
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        ProxyServer proxy = proxy(mode, origin);
        HttpClient client = client(mode, proxy);
        for (int i = 0; i < 25; i++) {
            HttpResponse<String> r = get(client, mode, proxy, origin, "/n" + i);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("ok");
        }
        assertThat(origin.connectionsAccepted()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aResponseThatEndsItsConnectionIsNeverFollowedOnIt(Mode mode) throws Exception {
        // three ways for a response to end its connection, in turn; the origin closes after each, as it said it would
        RawOrigin origin = origin(head -> {
            if (head.startsWith("GET /close ")) {
                return Reply.of("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nclose").then(Ending.CLOSE);
            }
            if (head.startsWith("GET /http10 ")) {
                return Reply.of("HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhttp10").then(Ending.CLOSE);
            }
            return Reply.of("HTTP/1.1 200 OK\r\n\r\nuntil-eof").then(Ending.CLOSE);
        });
        ProxyServer proxy = proxy(mode, origin);
        HttpClient client = client(mode, proxy);
        assertThat(get(client, mode, proxy, origin, "/close").body()).isEqualTo("close");
        assertThat(get(client, mode, proxy, origin, "/http10").body()).isEqualTo("http10");
        assertThat(get(client, mode, proxy, origin, "/eof").body()).isEqualTo("until-eof");
        assertThat(get(client, mode, proxy, origin, "/close").body()).isEqualTo("close");
        assertThat(origin.connectionsAccepted()).isEqualTo(4);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aHeadResponseWithContentLengthKeepsTheConnectionUsable(Mode mode) throws Exception {
        RawOrigin origin = origin(head -> head.startsWith("HEAD ")
                ? Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                : Reply.of("HTTP/1.1 204 No Content\r\n\r\n"));
        ProxyServer proxy = proxy(mode, origin);
        HttpClient client = client(mode, proxy);
        String url = mode == Mode.FORWARD ? origin.baseUrl() + "/h" : "http://127.0.0.1:" + proxy.port() + "/h";
        HttpResponse<String> head = client.send(HttpRequest.newBuilder(URI.create(url))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Length")).hasValue("1000");
        HttpResponse<String> next = get(client, mode, proxy, origin, "/after");
        assertThat(next.statusCode()).isEqualTo(204);
        assertThat(get(client, mode, proxy, origin, "/again").statusCode()).isEqualTo(204);
        assertThat(origin.connectionsAccepted()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void anIdleConnectionIsClosedAtTheIdleTimeout(Mode mode) throws Exception {
        // Found by the soak: an idle connection that reached its timeout was marked closed but never closed, and sat
        // in CLOSE_WAIT once the origin gave up on it, one file descriptor each.
        RawOrigin origin = origin(head -> Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        ProxyServer.Builder b = ProxyServer.builder().via("gh-reuse").idleTimeout(java.time.Duration.ofMillis(300));
        ProxyServer proxy = (mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.any().to(UpstreamPool.of(origin.baseUrl())))).build().start();
        closeables.add(proxy);
        assertThat(get(client(mode, proxy), mode, proxy, origin, "/once").body()).isEqualTo("ok");
        assertThat(origin.awaitPeerClose()).as("the proxy closed its idle upstream connection").isTrue();
        assertThat(get(client(mode, proxy), mode, proxy, origin, "/again").body()).isEqualTo("ok");
        assertThat(origin.connectionsAccepted()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aRequestWaitingForAFreeConnectionWaitsNoLongerThanTheConnectTimeout(Mode mode) throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        RawOrigin origin = origin(head -> {
            if (head.startsWith("GET /hold ")) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return Reply.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        ProxyServer.Builder b = ProxyServer.builder().via("gh-reuse").maxConnectionsPerUpstream(1)
                .connectTimeout(java.time.Duration.ofMillis(300));
        ProxyServer proxy = (mode == Mode.FORWARD ? b.forward().allowAllInternalDestinations()
                : b.route(Route.any().to(UpstreamPool.of(origin.baseUrl())))).build().start();
        closeables.add(proxy);
        try {
            HttpClient client = client(mode, proxy);
            String base = mode == Mode.FORWARD ? origin.baseUrl() : "http://127.0.0.1:" + proxy.port();
            var held = client.sendAsync(HttpRequest.newBuilder(URI.create(base + "/hold")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(origin.takeHead()).startsWith("GET /hold "); // the one connection is busy now
            HttpResponse<String> queued = get(client, mode, proxy, origin, "/queued");
            assertThat(queued.statusCode()).isEqualTo(504);
            assertThat(queued.headers().firstValue("Proxy-Status")).hasValueSatisfying(v -> assertThat(v)
                    .contains("error=connection_timeout"));
            release.countDown();
            assertThat(held.get().body()).isEqualTo("ok");
        } finally {
            release.countDown();
        }
    }
}
