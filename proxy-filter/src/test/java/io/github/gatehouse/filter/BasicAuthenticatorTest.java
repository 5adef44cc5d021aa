package io.github.gatehouse.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import at.favre.lib.crypto.bcrypt.BCrypt;
import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.Credentials;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.RequestHead;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.SettableClock;
import io.github.gatehouse.core.testsupport.Clients;
import io.github.gatehouse.core.testsupport.RawHttp;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.filter.testing.Wire;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class BasicAuthenticatorTest {
    @RegisterExtension
    static final MockOrigin origin = MockOrigin.named("auth")
            .serve("/hello", MockResponse.ok("hello"))
            .dispatcher(req -> MockResponse.ok("origin auth " + req.path()));

    private static final String SHA512_HELLO =
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";

    @TempDir
    Path dir;

    private final SettableClock clock = SettableClock.at("2026-01-05T10:00:00Z");
    private final List<String> checkThreads = new CopyOnWriteArrayList<>();
    private ExecutorService pool;
    private Executor recordingExecutor;
    private final RecordingAccessLog log = new RecordingAccessLog();
    private Path htpasswd;

    @BeforeEach
    void setUp() throws Exception {
        pool = Executors.newFixedThreadPool(1, r -> new Thread(r, "auth-test"));
        recordingExecutor = task -> pool.execute(() -> {
            checkThreads.add(Thread.currentThread().getName());
            task.run();
        });
        htpasswd = dir.resolve("users.htpasswd");
        Files.writeString(htpasswd, "# test users\n"
                + "bob:" + BCrypt.with(BCrypt.Version.VERSION_2Y).hashToString(4, "builder".toCharArray()) + "\n"
                + "carol:" + SHA512_HELLO + "\n"
                + "erin:$apr1$abc$T9e3aXgBW7UTQ.tuLuiz.1\n"
                + "mallory:$7$unsupported$hash\n");
    }

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
    }

    private BasicAuthenticator.Builder authenticator() {
        return BasicAuthenticator.builder().realm("office").htpasswd(htpasswd).user("alice", "wonder")
                .executor(recordingExecutor).clock(clock);
    }

    private ProxyServer proxy(BasicAuthenticator auth) {
        return Wire.forward().authenticator(auth).accessLog(log).build().start();
    }

    private RawHttp.Reply get(ProxyServer proxy, String user, String password) throws Exception {
        return user == null ? Wire.get(proxy, origin.baseUrl() + "/hello")
                : Wire.get(proxy, origin.baseUrl() + "/hello", "Proxy-Authorization: " + Wire.basic(user, password));
    }

    @Test
    void noCredentialsGet407WithTheRealm() throws Exception {
        try (ProxyServer proxy = proxy(authenticator().build())) {
            RawHttp.Reply reply = get(proxy, null, null);
            assertThat(reply.status()).isEqualTo(407);
            assertThat(reply.headers().get("proxy-authenticate")).isEqualTo("Basic realm=\"office\", charset=\"UTF-8\"");
            assertThat(reply.bodyText()).contains("credentials required");
            assertThat(origin.requestCount()).isZero();
        }
    }

    @Test
    void wrongPasswordsAndUnknownUsersAreChallengedAgain() throws Exception {
        try (ProxyServer proxy = proxy(authenticator().build())) {
            for (String[] c : new String[][] {{"alice", "nope"}, {"bob", "nope"}, {"carol", "nope"}, {"nobody", "x"},
                    {"mallory", "x"}}) {
                RawHttp.Reply reply = get(proxy, c[0], c[1]);
                assertThat(reply.status()).as(c[0]).isEqualTo(407);
                assertThat(reply.bodyText()).as(c[0]).contains("invalid user name or password").doesNotContain(c[1]);
            }
            assertThat(origin.requestCount()).isZero();
            // bob, carol, and the unknown nobody and mallory each cost one slow check; alice's is inline
            assertThat(checkThreads).hasSize(4);
        }
    }

    @Test
    void rightCredentialsPassForEachHashKindAndTheUserReachesTheAccessLog() throws Exception {
        try (ProxyServer proxy = proxy(authenticator().build())) {
            for (String[] c : new String[][] {{"alice", "wonder"}, {"bob", "builder"}, {"carol", "Hello world!"},
                    {"erin", "Hello world!"}}) {
                RawHttp.Reply reply = get(proxy, c[0], c[1]);
                assertThat(reply.status()).as(c[0]).isEqualTo(200);
                assertThat(origin.takeRequest().headers().get("Proxy-Authorization")).isNull();
                AccessLogEntry entry = log.take();
                assertThat(entry.user()).isEqualTo(c[0]);
                assertThat(entry.toString()).doesNotContain(c[1]);
            }
        }
    }

    @Test
    void slowHashesRunOnTheAuthExecutorOnceThenComeFromTheCacheUntilItExpires() throws Exception {
        try (ProxyServer proxy = proxy(authenticator().cacheFor(Duration.ofSeconds(30)).build())) {
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);
            assertThat(checkThreads).containsExactly("auth-test");

            assertThat(get(proxy, "bob", "wrong").status()).isEqualTo(407);   // a different password is checked anew
            assertThat(checkThreads).hasSize(2);

            clock.advance(Duration.ofSeconds(31));
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);
            assertThat(checkThreads).hasSize(3);

            assertThat(get(proxy, "alice", "wonder").status()).isEqualTo(200);   // in-memory: cheap, checked inline
            assertThat(checkThreads).hasSize(3);
        }
    }

    @Test
    void aSaturatedHashPoolAnswers503WithRetryAfterAndCheapChecksStillWork() throws Exception {
        ExecutorService tiny = io.github.gatehouse.filter.internal.AuthExecutors.create(1, 1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Runnable blocker = () -> {
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (ProxyServer proxy = Wire.forward().via("gh-auth").authenticator(BasicAuthenticator.builder().htpasswd(htpasswd)
                .user("alice", "wonder").executor(tiny).clock(clock).build()).accessLog(log).build().start()) {
            java.util.concurrent.Future<?> running = tiny.submit(blocker);   // the one thread
            java.util.concurrent.Future<?> queued = tiny.submit(blocker);    // the one queue slot: the pool is full now

            RawHttp.Reply busy = get(proxy, "bob", "builder");   // bcrypt: needs the pool
            assertThat(busy.statusLine()).isEqualTo("HTTP/1.1 503 Service Unavailable");
            assertThat(busy.headers()).containsEntry("retry-after", "1")
                    .containsEntry("proxy-status", "gh-auth; error=proxy_internal_error; details=\"authentication is overloaded; retry shortly\"")
                    .doesNotContainKey("proxy-authenticate");
            assertThat(busy.bodyText()).isEqualTo("503 authentication is overloaded; retry shortly\n");
            assertThat(origin.requestCount()).isZero();
            assertThat(log.take().status()).isEqualTo(503);

            assertThat(get(proxy, "alice", "wonder").status()).isEqualTo(200);   // in-memory: checked inline
            assertThat(get(proxy, null, null).status()).isEqualTo(407);          // no credentials: no hash needed

            release.countDown();
            running.get(5, TimeUnit.SECONDS);
            queued.get(5, TimeUnit.SECONDS);
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);    // capacity back: served again
        } finally {
            release.countDown();
            tiny.shutdownNow();
        }
    }

    @Test
    void aUserWithTooManyFailuresIsLockedOutWith403EvenWithTheRightPasswordUntilTheLockEnds() throws Exception {
        BasicAuthenticator auth = authenticator()
                .userLockout(3, Duration.ofMinutes(5), Duration.ofMinutes(10))
                .clientLockout(0, Duration.ofMinutes(1), Duration.ofMinutes(1)).build();
        try (ProxyServer proxy = proxy(auth)) {
            for (int i = 0; i < 3; i++) {
                assertThat(get(proxy, "alice", "guess" + i).status()).isEqualTo(407);
            }
            RawHttp.Reply locked = get(proxy, "alice", "wonder");
            assertThat(locked.status()).isEqualTo(403);
            assertThat(locked.bodyText()).contains("user alice is locked out for 600 more seconds");
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);   // others are unaffected

            clock.advance(Duration.ofMinutes(10));
            assertThat(get(proxy, "alice", "wonder").status()).isEqualTo(200);
        }
    }

    @Test
    void aClientAddressWithTooManyFailuresIsLockedOutWhateverTheUser() throws Exception {
        BasicAuthenticator auth = authenticator().clientLockout(4, Duration.ofMinutes(1), Duration.ofMinutes(2)).build();
        try (ProxyServer proxy = proxy(auth)) {
            for (int i = 0; i < 4; i++) {
                assertThat(get(proxy, "user" + i, "x").status()).isEqualTo(407);
            }
            RawHttp.Reply locked = get(proxy, "alice", "wonder");
            assertThat(locked.status()).isEqualTo(403);
            assertThat(locked.bodyText()).contains("too many failed logins from 127.0.0.1");
            assertThat(get(proxy, null, null).status()).isEqualTo(403);

            clock.advance(Duration.ofMinutes(2));
            assertThat(get(proxy, "alice", "wonder").status()).isEqualTo(200);
        }
    }

    @Test
    void failuresOutsideTheWindowDoNotAddUp() throws Exception {
        BasicAuthenticator auth = authenticator().userLockout(2, Duration.ofMinutes(1), Duration.ofMinutes(5)).build();
        try (ProxyServer proxy = proxy(auth)) {
            assertThat(get(proxy, "alice", "a").status()).isEqualTo(407);
            clock.advance(Duration.ofMinutes(2));
            assertThat(get(proxy, "alice", "b").status()).isEqualTo(407);
            assertThat(get(proxy, "alice", "wonder").status()).isEqualTo(200);
        }
    }

    @Test
    void reloadPicksUpNewUsersAndDropsRemovedOnesAndTheirCachedLogins() throws Exception {
        BasicAuthenticator auth = BasicAuthenticator.builder().htpasswd(htpasswd).executor(recordingExecutor).clock(clock).build();
        try (ProxyServer proxy = proxy(auth)) {
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(200);
            assertThat(get(proxy, "dave", "Hello world!").status()).isEqualTo(407);

            Files.writeString(htpasswd, "dave:" + SHA512_HELLO + "\n");
            assertThat(auth.reload()).isEqualTo(1);

            assertThat(get(proxy, "dave", "Hello world!").status()).isEqualTo(200);
            assertThat(get(proxy, "bob", "builder").status()).isEqualTo(407);
        }
    }

    @Test
    void reverseModeChallengesWith401AndWwwAuthenticate() throws Exception {
        try (ProxyServer proxy = ProxyServer.builder().route(Route.any().to(UpstreamPool.of(origin.baseUrl())))
                .authenticator(authenticator().build()).build().start()) {
            HttpResponse<String> none = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello")).build(),
                    BodyHandlers.ofString());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("www-authenticate")).hasValue("Basic realm=\"office\", charset=\"UTF-8\"");

            HttpResponse<String> ok = Clients.direct().send(HttpRequest.newBuilder(URI.create(proxy.uri() + "/hello"))
                    .header("Authorization", Wire.basic("bob", "builder")).build(), BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(origin.takeRequest().headers().get("Authorization")).isNull();
        }
    }

    @Test
    void byDefaultSlowChecksRunOnTheNamedAuthPoolAndCompleteThere() throws Exception {
        BasicAuthenticator auth = BasicAuthenticator.builder().htpasswd(htpasswd).clock(clock).build();
        Exchange exchange = new StubExchange();
        String thread = auth.authenticate(Credentials.parse(Wire.basic("bob", "builder")), exchange)
                .thenApply(result -> {
                    assertThat(result.user()).hasValue("bob");
                    return Thread.currentThread().getName();
                }).toCompletableFuture().get(5, TimeUnit.SECONDS);
        // thenApply runs on the pool thread, or on this one if the hash check had already finished: either way the
        // check itself ran on the named pool, never on the caller's thread
        assertThat(thread).satisfiesAnyOf(t -> assertThat(t).startsWith("gatehouse-auth-"),
                t -> assertThat(t).isEqualTo(Thread.currentThread().getName()));
        assertThat(Thread.getAllStackTraces().keySet()).anyMatch(t -> t.getName().startsWith("gatehouse-auth-"));
        // the second time comes from the cache, completed at once on the caller's thread
        assertThat(auth.authenticate(Credentials.parse(Wire.basic("bob", "builder")), exchange)
                .toCompletableFuture().isDone()).isTrue();
    }

    /** The few exchange fields an authenticator reads, for calling one directly. */
    private static final class StubExchange implements Exchange {
        private final Map<String, Object> attributes = new ConcurrentHashMap<>();

        @Override public String id() { return "stub-1"; }
        @Override public Mode mode() { return Mode.FORWARD; }
        @Override public InetSocketAddress clientAddress() { return new InetSocketAddress("127.0.0.2", 40000); }
        @Override public InetSocketAddress localAddress() { return new InetSocketAddress("127.0.0.1", 3128); }
        @Override public Instant startTime() { return Instant.EPOCH; }
        @Override public RequestHead request() { throw new UnsupportedOperationException("not needed"); }
        @Override public Optional<String> user() { return Optional.empty(); }
        @Override public Optional<Route> route() { return Optional.empty(); }
        @Override public Map<String, Object> attributes() { return attributes; }
        @Override public Optional<io.github.gatehouse.core.CacheStatus> cacheStatus() { return Optional.empty(); }
    }

    @Test
    void staticFactoriesAndBuilderValidation() {
        assertThat(BasicAuthenticator.users(Map.of("a", "b")).userCount()).isEqualTo(1);
        assertThat(BasicAuthenticator.htpasswd(htpasswd).userCount()).isEqualTo(3);   // mallory's hash is skipped
        assertThatThrownBy(() -> BasicAuthenticator.builder().realm("bad\"realm")).hasMessageContaining("bad\"realm");
        assertThatThrownBy(() -> BasicAuthenticator.builder().user("a:b", "x")).hasMessageContaining("a:b");
        assertThatThrownBy(() -> BasicAuthenticator.builder().cacheFor(Duration.ofSeconds(-1))).hasMessageContaining("PT-1S");
        assertThatThrownBy(() -> BasicAuthenticator.builder().build()).hasMessageContaining("no users");
        assertThatThrownBy(() -> BasicAuthenticator.htpasswd(dir.resolve("missing"))).hasMessageContaining("missing");
    }
}
