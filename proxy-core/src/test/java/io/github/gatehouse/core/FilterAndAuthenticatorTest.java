package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class FilterAndAuthenticatorTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("f")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/bytes", req -> {
                MockResponse bytes = MockResponse.ok().header("Content-Type", "application/octet-stream")
                        .generatedBody(Long.parseLong(req.queryParameter("n").orElseThrow()));
                return req.queryParameter("chunked").filter("1"::equals).isPresent() ? bytes.chunked() : bytes;
            })
            .dispatcher(req -> MockResponse.ok("origin f " + req.path()));

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static final Authenticator ALICE_ONLY = (credentials, exchange) -> CompletableFuture.supplyAsync(() ->
            credentials.flatMap(Credentials::basic)
                    .filter(up -> up.user().equals("alice") && up.password().equals("wonder"))
                    .map(up -> AuthResult.authenticated(up.user()))
                    .orElse(AuthResult.challenge("Basic realm=\"gatehouse\"", "valid credentials required")));

    private RawHttp.Reply forwardGet(ProxyServer proxy, String path, String... headers) throws Exception {
        StringBuilder sb = new StringBuilder("GET " + origin.baseUrl() + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        return RawHttp.exchange(proxy.port(), sb.append("Connection: close\r\n\r\n").toString());
    }

    @Test
    void filtersRunInBuilderOrderAndTheFirstAnswerEndsTheChain() throws Exception {
        List<String> calls = Collections.synchronizedList(new ArrayList<>());
        ProxyFilter first = exchange -> {
            calls.add("first");
            exchange.request().headers().set("X-Tagged", "first");
            return Verdict.proceed();
        };
        ProxyFilter deny = exchange -> {
            calls.add("deny");
            return exchange.request().path().startsWith("/private")
                    ? Verdict.deny("path " + exchange.request().path() + " is denied by policy") : Verdict.proceed();
        };
        ProxyFilter last = exchange -> {
            calls.add("last");
            return Verdict.proceed();
        };
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().filter(first).filter(deny).filter(last).build().start()) {
            RawHttp.Reply denied = forwardGet(proxy, "/private/x");
            assertThat(denied.status()).isEqualTo(403);
            assertThat(denied.bodyText()).contains("path /private/x is denied by policy");
            assertThat(calls).containsExactly("first", "deny");
            assertThat(origin.requestCount()).isZero();

            calls.clear();
            assertThat(forwardGet(proxy, "/public").status()).isEqualTo(200);
            assertThat(calls).containsExactly("first", "deny", "last");
            assertThat(origin.takeRequest().headers().get("X-Tagged")).isEqualTo("first");
        }
    }

    @Test
    void filterCanRewriteTheTargetAndTheResponseHead() throws Exception {
        ProxyFilter rewrite = new ProxyFilter() {
            @Override
            public Verdict onRequest(Exchange exchange) {
                if (exchange.request().path().equals("/old")) {
                    exchange.request().uri(URI.create(origin.baseUrl() + "/hello"));
                }
                return Verdict.proceed();
            }

            @Override
            public void onResponse(Exchange exchange, ResponseHead response) {
                response.headers().set("X-Filtered", "yes");
            }
        };
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().filter(rewrite).build().start()) {
            RawHttp.Reply reply = forwardGet(proxy, "/old");

            assertThat(reply.bodyText()).isEqualTo("hello");
            assertThat(reply.headers().get("x-filtered")).isEqualTo("yes");
            assertThat(origin.takeRequest().target()).isEqualTo("/hello");
        }
    }

    @Test
    void bodyFilterTransformsAcrossChunksAndCanBlockBeforeCommit() throws Exception {
        ProxyFilter upper = new ProxyFilter() {
            @Override
            public Verdict onRequest(Exchange exchange) {
                return Verdict.proceed();
            }

            @Override
            public Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
                if (exchange.request().path().equals("/hello")) {
                    return Optional.of((chunk, last, control) -> {
                        byte[] b = new byte[chunk.remaining()];
                        chunk.get(b);
                        return ByteBuffer.wrap(new String(b, StandardCharsets.UTF_8).toUpperCase().getBytes(StandardCharsets.UTF_8));
                    });
                }
                if (exchange.request().path().equals("/bytes")) {
                    return Optional.of((chunk, last, control) -> {
                        control.block(403, "page blocked by content filter");
                        return chunk;
                    });
                }
                return Optional.empty();
            }
        };
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().filter(upper).build().start()) {
            RawHttp.Reply transformed = forwardGet(proxy, "/hello");
            assertThat(transformed.bodyText()).isEqualTo("HELLO");
            assertThat(transformed.headers()).doesNotContainKey("content-length");

            RawHttp.Reply blocked = forwardGet(proxy, "/bytes?n=1000000");
            assertThat(blocked.status()).isEqualTo(403);
            assertThat(blocked.bodyText()).contains("page blocked by content filter");
        }
    }

    @Test
    void failingFiltersBecome500AndTheProxyKeepsServing() throws Exception {
        ProxyFilter broken = exchange -> {
            if (exchange.request().path().equals("/null")) {
                return null;
            }
            if (exchange.request().path().equals("/throw")) {
                throw new IllegalStateException("bug in filter");
            }
            return Verdict.proceed();
        };
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().filter(broken).build().start()) {
            assertThat(forwardGet(proxy, "/null").status()).isEqualTo(500);
            assertThat(forwardGet(proxy, "/throw").status()).isEqualTo(500);
            assertThat(forwardGet(proxy, "/hello").status()).isEqualTo(200);
        }
    }

    @Test
    void forwardAuthenticationChallengesWith407AndNeverForwardsCredentials() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().authenticator(ALICE_ONLY).accessLog(log).build().start()) {
            RawHttp.Reply none = forwardGet(proxy, "/hello");
            assertThat(none.status()).isEqualTo(407);
            assertThat(none.headers().get("proxy-authenticate")).isEqualTo("Basic realm=\"gatehouse\"");
            assertThat(log.take().status()).isEqualTo(407);

            RawHttp.Reply wrong = forwardGet(proxy, "/hello", "Proxy-Authorization: " + basic("alice", "nope"));
            assertThat(wrong.status()).isEqualTo(407);
            log.take();

            RawHttp.Reply right = forwardGet(proxy, "/hello", "Proxy-Authorization: " + basic("alice", "wonder"));
            assertThat(right.status()).isEqualTo(200);
            assertThat(origin.takeRequest().headers().get("Proxy-Authorization")).isNull();
            assertThat(log.take().user()).isEqualTo("alice");
        }
    }

    @Test
    void connectIsAuthenticatedBeforeAnyTunnelOpens() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(origin.port()).authenticator(ALICE_ONLY)
                .build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(), "CONNECT 127.0.0.1:" + origin.port() + " HTTP/1.1\r\n"
                    + "Host: 127.0.0.1:" + origin.port() + "\r\nConnection: close\r\n\r\n");

            assertThat(reply.status()).isEqualTo(407);
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void reverseAuthenticationChallengesWith401AndStripsAuthorization() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).authenticator(ALICE_ONLY)
                .build().start()) {
            HttpResponse<String> none = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello")).build(),
                    BodyHandlers.ofString());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("www-authenticate")).hasValue("Basic realm=\"gatehouse\"");

            HttpResponse<String> ok = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello"))
                    .header("Authorization", basic("alice", "wonder")).build(), BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(origin.takeRequest().headers().get("Authorization")).isNull();
        }
    }

    @Test
    void forbiddenAndFailingAuthenticators() throws Exception {
        Authenticator forbid = (c, e) -> CompletableFuture.completedFuture(AuthResult.forbidden("client is locked out"));
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().authenticator(forbid).build().start()) {
            RawHttp.Reply reply = forwardGet(proxy, "/hello");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.bodyText()).contains("locked out");
        }
        Authenticator broken = (c, e) -> CompletableFuture.failedFuture(new IllegalStateException("directory down"));
        try (ProxyServer proxy = ProxyServer.builder().forward().allowAllInternalDestinations().authenticator(broken).build().start()) {
            assertThat(forwardGet(proxy, "/hello").status()).isEqualTo(500);
        }
    }
}
