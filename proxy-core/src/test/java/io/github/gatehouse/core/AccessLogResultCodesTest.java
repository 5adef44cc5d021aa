package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Squid's result codes through the wire: every request the proxy refuses by its own rules is {@code TCP_DENIED}
 * (and {@code "denied":true} in JSON, {@code denied} at the end of a combined line); an origin's own error is not.
 */
class AccessLogResultCodesTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("codes")
            .serve("/hello", MockResponse.ok("hello"))
            .serve("/status", req -> {
                MockResponse status = MockResponse.status(Integer.parseInt(req.queryParameter("code").orElseThrow()));
                return req.queryParameter("etag").map(etag -> status.header("ETag", etag)).orElse(status);
            })
            .dispatcher(req -> MockResponse.ok("origin codes " + req.path()));

    private final RecordingAccessLog log = new RecordingAccessLog();

    private String originAuthority() {
        return "127.0.0.1:" + origin.port();
    }

    private RawHttp.Reply get(ProxyServer proxy, String path) throws Exception {
        return RawHttp.exchange(proxy.port(), "GET " + origin.baseUrl() + path + " HTTP/1.1\r\nHost: " + originAuthority()
                + "\r\nConnection: close\r\n\r\n");
    }

    private RawHttp.Reply connect(ProxyServer proxy, String authority) throws Exception {
        return RawHttp.exchange(proxy.port(), "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    }

    /** The next entry, checked for its status and denial in all three formats; returns its Squid line. */
    private String squidLine(int status, boolean denied) throws Exception {
        AccessLogEntry e = log.take();
        assertThat(e.status()).isEqualTo(status);
        assertThat(e.denied()).as("denied").isEqualTo(denied);
        assertThat(AccessLogFormat.json().format(e)).contains("\"denied\":" + denied);
        assertThat(AccessLogFormat.combined().format(e)).endsWith(denied ? " denied" : " -");
        return AccessLogFormat.squid().format(e);
    }

    private ProxyServer.Builder forward() {
        return ProxyServer.builder().forward().allowAllInternalDestinations().accessLog(log);
    }

    @Test
    void filterDenialsAndRateLimitsAreDenied() throws Exception {
        ProxyFilter filter = e -> e.request().path().equals("/deny") ? Verdict.deny("denied by test rule")
                : e.request().path().equals("/limit") ? Verdict.respond(429, "rate limit exceeded")
                : e.request().path().equals("/moved") ? Verdict.respond(302, "moved",
                        new HttpHeaders().add("Location", "http://elsewhere.test/"))
                : Verdict.proceed();
        try (ProxyServer proxy = forward().filter(filter).build().start()) {
            assertThat(get(proxy, "/deny").status()).isEqualTo(403);
            assertThat(squidLine(403, true)).contains(" TCP_DENIED/403 ").endsWith(" - HIER_NONE/- -");

            assertThat(get(proxy, "/limit").status()).isEqualTo(429);
            assertThat(squidLine(429, true)).contains(" TCP_DENIED/429 ");

            assertThat(get(proxy, "/moved").status()).isEqualTo(302);
            assertThat(squidLine(302, false)).as("a filter's redirect is not a refusal").contains(" NONE/302 ");
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void authenticationChallengesAndRefusalsAreDenied() throws Exception {
        Authenticator challenge = (c, e) -> CompletableFuture.completedFuture(
                AuthResult.challenge("Basic realm=\"gatehouse\"", "credentials required"));
        try (ProxyServer proxy = forward().connectPorts(origin.port()).authenticator(challenge).build().start()) {
            assertThat(get(proxy, "/hello").status()).isEqualTo(407);
            assertThat(squidLine(407, true)).contains(" TCP_DENIED/407 ");

            assertThat(connect(proxy, originAuthority()).status()).isEqualTo(407);
            assertThat(squidLine(407, true)).contains(" TCP_DENIED/407 ").contains(" CONNECT " + originAuthority() + " ");
        }
        try (ProxyServer reverse = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl()))).authenticator(challenge)
                .accessLog(log).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(reverse.port(), "GET /hello HTTP/1.1\r\nHost: shop.test\r\n"
                    + "Connection: close\r\n\r\n");
            assertThat(reply.status()).isEqualTo(401);
            assertThat(squidLine(401, true)).contains(" TCP_DENIED/401 ");
        }
        Authenticator forbid = (c, e) -> CompletableFuture.completedFuture(AuthResult.forbidden("client is locked out"));
        try (ProxyServer proxy = forward().authenticator(forbid).build().start()) {
            assertThat(get(proxy, "/hello").status()).isEqualTo(403);
            assertThat(squidLine(403, true)).contains(" TCP_DENIED/403 ");
        }
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void theInternalDestinationRefusalAfterDnsIsDenied() throws Exception {
        // the default policy: the upstream is chosen, resolved to loopback, and refused before any connection
        try (ProxyServer proxy = ProxyServer.builder().forward().connectPorts(origin.port()).accessLog(log).build().start()) {
            RawHttp.Reply reply = get(proxy, "/hello");
            assertThat(reply.status()).isEqualTo(403);
            assertThat(reply.headers().get("proxy-status")).contains("error=destination_ip_prohibited");
            assertThat(squidLine(403, true)).contains(" TCP_DENIED/403 ").endsWith(" - HIER_NONE/- -");

            assertThat(connect(proxy, "localhost:" + origin.port()).status()).isEqualTo(403);
            assertThat(squidLine(403, true)).contains(" TCP_DENIED/403 ")
                    .contains(" CONNECT localhost:" + origin.port() + " - HIER_NONE/- -");
        }
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void aConnectPortNotAllowedIsDenied() throws Exception {
        try (ProxyServer proxy = forward().build().start()) {
            assertThat(connect(proxy, originAuthority()).status()).isEqualTo(403);
            assertThat(squidLine(403, true)).contains(" TCP_DENIED/403 ").contains(" CONNECT " + originAuthority() + " ");
        }
    }

    @Test
    void anOriginsOwn403IsAMissAndMalformedRequestsAreNotRefusals() throws Exception {
        try (ProxyServer proxy = forward().build().start()) {
            assertThat(get(proxy, "/status?code=403").status()).isEqualTo(403);
            assertThat(squidLine(403, false)).contains(" TCP_MISS/403 ").endsWith(" - HIER_DIRECT/" + originAuthority() + " -");

            RawHttp.Reply bad = RawHttp.exchange(proxy.port(), "GET /relative HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
            assertThat(bad.status()).isEqualTo(400);
            assertThat(squidLine(400, false)).contains(" NONE/400 ");
        }
    }
}
