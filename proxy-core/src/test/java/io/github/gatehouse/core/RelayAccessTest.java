package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link RelayAccess} a cache gets through {@link HttpCache#attach}, exercised by a minimal cache written against
 * the SPI: a background exchange goes upstream by the relay's path, and its answer comes back to the cache's own
 * {@link HttpCache#onUpstreamResponse} with the lookup it passed.
 */
class RelayAccessTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("o")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin o " + req.path()));

    /** On its first lookup, sends a background GET for the same target and stores what comes back. */
    static final class Prefetcher implements HttpCache {
        volatile RelayAccess relay;
        final CompletableFuture<CompletionStage<Integer>> sent = new CompletableFuture<>();
        final CompletableFuture<Exchange> backgroundExchange = new CompletableFuture<>();
        final CompletableFuture<String> storedBody = new CompletableFuture<>();
        final CompletableFuture<Throwable> misuse = new CompletableFuture<>();

        @Override
        public void attach(RelayAccess relay) {
            this.relay = relay;
        }

        @Override
        public CompletionStage<CacheLookup> lookup(Exchange exchange) {
            if (!sent.isDone()) {
                try {
                    relay.send(head(exchange.request(), true), exchange, CacheLookup.miss("mine"));
                } catch (IllegalArgumentException e) {
                    misuse.complete(e);
                }
                sent.complete(relay.send(head(exchange.request(), false), exchange,
                        CacheLookup.revalidate(new HttpHeaders().add("If-None-Match", "\"e1\""), "mine")));
            }
            return CompletableFuture.completedFuture(CacheLookup.miss());
        }

        @Override
        public CacheDecision onUpstreamResponse(Exchange exchange, CacheLookup lookup, ResponseHead response) {
            if (!lookup.state(String.class).filter("mine"::equals).isPresent()) {
                return CacheDecision.pass();
            }
            backgroundExchange.complete(exchange);
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            return CacheDecision.store(new CacheWriter() {
                @Override
                public void write(ByteBuffer chunk) {
                    byte[] b = new byte[chunk.remaining()];
                    chunk.get(b);
                    body.write(b, 0, b.length);
                }

                @Override
                public void complete() {
                    storedBody.complete(body.toString(StandardCharsets.UTF_8));
                }

                @Override
                public void abort(Throwable cause) {
                    storedBody.completeExceptionally(cause);
                }
            });
        }

        /** The client's head with a marker field; with a body when {@code withBody} (which send refuses). */
        private static RequestHead head(RequestHead client, boolean withBody) {
            HttpHeaders headers = new HttpHeaders(client.headers()).set("X-Background", "yes");
            return new RequestHead() {
                @Override
                public String method() {
                    return "GET";
                }

                @Override
                public URI uri() {
                    return client.uri();
                }

                @Override
                public void uri(URI uri) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public String host() {
                    return client.host();
                }

                @Override
                public int port() {
                    return client.port();
                }

                @Override
                public String scheme() {
                    return client.scheme();
                }

                @Override
                public String path() {
                    return client.path();
                }

                @Override
                public java.util.Optional<String> query() {
                    return client.query();
                }

                @Override
                public String version() {
                    return "HTTP/1.1";
                }

                @Override
                public HttpHeaders headers() {
                    return headers;
                }

                @Override
                public boolean hasBody() {
                    return withBody;
                }
            };
        }
    }

    @Test
    void aBackgroundExchangeGoesUpstreamByTheRelaysPathAndItsAnswerComesBackToTheCache() throws Exception {
        Prefetcher cache = new Prefetcher();
        RecordingAccessLog log = new RecordingAccessLog();
        try (ProxyServer proxy = ProxyServer.builder().via("relay-test").route(Route.host("site.test").to(UpstreamPool.of(origin.baseUrl())))
                .cache(cache).accessLog(log).build().start()) {
            RawHttp.Reply reply = RawHttp.exchange(proxy.port(),
                    "GET /hello HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
            assertThat(reply.status()).isEqualTo(200);

            assertThat(cache.misuse.get(5, TimeUnit.SECONDS)).hasMessageContaining("no body");
            assertThat(cache.sent.get(5, TimeUnit.SECONDS).toCompletableFuture().get(5, TimeUnit.SECONDS)).isEqualTo(200);
            assertThat(cache.storedBody.get(5, TimeUnit.SECONDS)).isEqualTo("hello");
            Exchange background = cache.backgroundExchange.get(5, TimeUnit.SECONDS);
            assertThat(background.clientAddress().getHostString()).isEqualTo("-");
            assertThat(background.mode()).isEqualTo(Exchange.Mode.REVERSE);
            assertThat(background.route()).isPresent();

            RecordedRequest first = origin.takeRequest();
            RecordedRequest second = origin.takeRequest();
            RecordedRequest fromBackground = first.headers().get("X-Background") != null ? first : second;
            assertThat(fromBackground.headers().get("Via")).isEqualTo("1.1 relay-test");
            assertThat(fromBackground.headers().get("If-None-Match")).isEqualTo("\"e1\"");
            assertThat(fromBackground.headers().get("Host")).isEqualTo("site.test");
            assertThat(fromBackground.headers().get("X-Forwarded-For")).isEqualTo("unknown");

            AccessLogEntry a = log.take();
            AccessLogEntry b = log.take();
            AccessLogEntry line = "-".equals(a.clientAddress()) ? a : b;
            assertThat(line.clientAddress()).isEqualTo("-");
            assertThat(line.status()).isEqualTo(200);
            assertThat(line.bytesOut()).isEqualTo(5);
            assertThat(line.tries()).isEqualTo(1);
        }
    }

    @Test
    void sendRefusesAnExchangeThatIsNotTheProxys() throws Exception {
        Prefetcher cache = new Prefetcher();
        try (ProxyServer proxy = ProxyServer.builder().route(Route.host("site.test").to(UpstreamPool.of(origin.baseUrl()))).cache(cache)
                .build().start()) {
            Exchange foreign = java.lang.reflect.Proxy.newProxyInstance(Exchange.class.getClassLoader(),
                    new Class<?>[] {Exchange.class}, (p, m, args) -> null) instanceof Exchange e ? e : null;
            assertThat(cache.relay).as("attached when the proxy started").isNotNull();
            assertThatThrownBy(() -> cache.relay.send(Prefetcher.head(new HttpHeadsOnly(), false), foreign,
                    CacheLookup.miss())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not an HTTP exchange of this proxy");
        }
    }

    /** A head with nothing but fields, for the misuse test. */
    private static final class HttpHeadsOnly implements RequestHead {
        @Override
        public String method() {
            return "GET";
        }

        @Override
        public URI uri() {
            return URI.create("http://site.test/");
        }

        @Override
        public void uri(URI uri) {
        }

        @Override
        public String host() {
            return "site.test";
        }

        @Override
        public int port() {
            return 80;
        }

        @Override
        public String scheme() {
            return "http";
        }

        @Override
        public String path() {
            return "/";
        }

        @Override
        public java.util.Optional<String> query() {
            return java.util.Optional.empty();
        }

        @Override
        public String version() {
            return "HTTP/1.1";
        }

        @Override
        public HttpHeaders headers() {
            return new HttpHeaders();
        }
    }
}
