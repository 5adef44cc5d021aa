package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.AccessLogFormat;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.SettableClock;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.internal.TokenBuckets;
import io.github.gatehouse.filter.testing.Wire;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class RateLimitsTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("rate")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin rate " + req.path()));

    private final SettableClock clock = SettableClock.at("2026-01-05T10:00:00Z");

    @Test
    void perClientLimitAnswers429WithRetryAfterAndRefillsWithTime() throws Exception {
        RecordingAccessLog log = new RecordingAccessLog();
        RateLimits limits = RateLimits.builder().perClient(2, 3).clock(clock).build();
        try (ProxyServer proxy = Wire.forward().filter(limits).accessLog(log).build().start()) {
            for (int i = 0; i < 3; i++) {
                assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).as("burst %d", i).isEqualTo(200);
                log.take();
            }
            RawHttp.Reply limited = Wire.get(proxy, origin.baseUrl() + "/hello");
            assertThat(limited.status()).isEqualTo(429);
            assertThat(limited.headers().get("retry-after")).isEqualTo("1");
            assertThat(limited.bodyText()).contains("rate limit exceeded for client 127.0.0.1 (2/s, burst 3)");
            AccessLogEntry entry = log.take();
            assertThat(entry.status()).isEqualTo(429);
            assertThat(entry.denied()).isTrue();
            assertThat(AccessLogFormat.squid().format(entry)).contains(" TCP_DENIED/429 ").endsWith(" HIER_NONE/- -");
            assertThat(origin.requestCount()).isEqualTo(3);

            clock.advance(Duration.ofMillis(500));                   // one token back at 2/s
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).isEqualTo(200);
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello").status()).isEqualTo(429);
        }
    }

    @Test
    void perUserLimitAppliesToEachAuthenticatedUserSeparately() throws Exception {
        BasicAuthenticator auth = BasicAuthenticator.users(Map.of("alice", "a", "bob", "b"));
        RateLimits limits = RateLimits.builder().perUser(1, 1).clock(clock).build();
        try (ProxyServer proxy = Wire.forward().authenticator(auth).filter(limits).build().start()) {
            String alice = "Proxy-Authorization: " + Wire.basic("alice", "a");
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello", alice).status()).isEqualTo(200);
            RawHttp.Reply limited = Wire.get(proxy, origin.baseUrl() + "/hello", alice);
            assertThat(limited.status()).isEqualTo(429);
            assertThat(limited.bodyText()).contains("rate limit exceeded for user alice");
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello", "Proxy-Authorization: " + Wire.basic("bob", "b")).status())
                    .isEqualTo(200);
            clock.advance(Duration.ofSeconds(1));
            assertThat(Wire.get(proxy, origin.baseUrl() + "/hello", alice).status()).isEqualTo(200);
        }
    }

    @Test
    void retryAfterRoundsUpTheWaitAndIdleBucketsAreForgottenWhenFull() {
        TokenBuckets buckets = new TokenBuckets("client", 0.25, 1, 2, clock);
        assertThat(buckets.tryAcquire("a")).isNull();
        assertThat(buckets.tryAcquire("a")).isEqualTo(Duration.ofSeconds(4));
        clock.advance(Duration.ofSeconds(1));
        assertThat(buckets.tryAcquire("a")).isEqualTo(Duration.ofSeconds(3));
        assertThat(buckets.tryAcquire("b")).isNull();
        clock.advance(Duration.ofSeconds(10));            // a and b are full again: purged for c
        assertThat(buckets.tryAcquire("c")).isNull();
        assertThat(buckets.size()).isEqualTo(1);
    }

    @Test
    void builderValidatesArguments() {
        assertThatThrownBy(() -> RateLimits.perClient(0)).hasMessageContaining("permitsPerSecond 0");
        assertThatThrownBy(() -> RateLimits.builder().perUser(1, -2)).hasMessageContaining("burst -2");
        assertThatThrownBy(() -> RateLimits.builder().build()).hasMessageContaining("no limit");
    }
}
