package io.github.gatehouse.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.CachePeerStats;
import io.github.gatehouse.core.CachePeers;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Cache-peer routing (CARP) through the wire, with a static list of peers: three forward proxies on loopback, each with
 * its own memory cache, in front of one origin. Each object is fetched from the origin once and stored once, on its
 * home; a miss whose home is dead, silent or failing falls back to the origin in bounded time; a peer request is never
 * forwarded again, even when two instances disagree about the home; a stranger cannot pass as a peer.
 */
class CachePeersThroughProxiesTest {
    static final String SECRET = "the-secret-of-this-test-group";
    static final MockOrigin origin = MockOrigin.named("carp");
    static final Map<String, AtomicInteger> originCounts = new ConcurrentHashMap<>();
    static final List<RecordedRequest> seen = new CopyOnWriteArrayList<>();
    static final List<Instance> group = new ArrayList<>();
    static final List<AutoCloseable> others = new ArrayList<>();

    record Instance(String name, SharedCache cache, CachePeers peers, ProxyServer proxy) {
        RawHttp.Reply get(String path, String... headers) throws IOException {
            StringBuilder req = new StringBuilder("GET " + origin.url(path) + " HTTP/1.1\r\nHost: " + origin.authority()
                    + "\r\n");
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            return RawHttp.exchange(proxy.port(), req.append("Connection: close\r\n\r\n").toString());
        }

        String url() {
            return "http://127.0.0.1:" + proxy.port();
        }

        long entries() {
            return cache.counters().orElseThrow().entries();
        }
    }

    @BeforeAll
    static void start() throws Exception {
        origin.start();
        origin.dispatcher(CachePeersThroughProxiesTest::answer);
        int[] ports = {freePort(), freePort(), freePort()};
        for (int i = 0; i < 3; i++) {
            CachePeers.Builder peers = CachePeers.builder().secret(SECRET).timeout(Duration.ofMillis(1500));
            for (int p : ports) {
                peers.peer("http://127.0.0.1:" + p);
            }
            group.add(instance("abc".substring(i, i + 1), ports[i], peers.build()));
        }
    }

    static Instance instance(String name, int port, CachePeers peers) {
        SharedCache cache = HttpCaches.builder().memory(DataSize.mebibytes(4)).build();
        ProxyServer proxy = ProxyServer.builder().listen(port).forward().allowAllInternalDestinations().cache(cache)
                .cachePeers(peers).via("gatehouse-" + name + "-" + port).upstreamTimeout(Duration.ofSeconds(5)).build()
                .start();
        return new Instance(name, cache, peers, proxy);
    }

    static MockResponse answer(RecordedRequest request) {
        String path = request.path();
        originCounts.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
        seen.add(request);
        if (path.startsWith("/private/")) {
            return MockResponse.ok("mine " + path).header("Cache-Control", "private, max-age=100");
        }
        if (path.startsWith("/nostore/")) {
            return MockResponse.ok("fresh " + path).header("Cache-Control", "no-store");
        }
        if (path.startsWith("/vary/")) {
            String lang = request.header("Accept-Language").orElse("none");
            return MockResponse.ok(lang + " " + path).header("Cache-Control", "max-age=100").header("Vary", "Accept-Language");
        }
        if (path.startsWith("/etag/")) {
            if (request.header("If-None-Match").orElse("").contains("\"v1\"")) {
                return MockResponse.status(304).header("ETag", "\"v1\"").header("Cache-Control", "max-age=100");
            }
            return MockResponse.ok("tagged " + path).header("ETag", "\"v1\"").header("Cache-Control", "max-age=100");
        }
        if (path.startsWith("/err/")) {
            return MockResponse.status(503).body("origin down for " + path);
        }
        return MockResponse.ok("body of " + path).header("Cache-Control", "max-age=100");
    }

    @AfterAll
    static void stop() throws Exception {
        for (Instance i : group) {
            i.proxy().close();
        }
        for (AutoCloseable c : others) {
            c.close();
        }
        origin.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static int origin(String path) {
        AtomicInteger n = originCounts.get(path);
        return n == null ? 0 : n.get();
    }

    /** The home of {@code path} as {@code peers} sees it. */
    static String home(CachePeers peers, String path) {
        return peers.homeOf(origin.url(path)).orElseThrow();
    }

    /** A fresh path under {@code prefix} whose home (as instance a sees it) satisfies {@code where}. */
    static String pathWhere(String prefix, CachePeers peers, Predicate<String> where) {
        for (int i = 0; i < 10_000; i++) {
            String path = prefix + i;
            if (origin(path) == 0 && where.test(home(peers, path))) {
                return path;
            }
        }
        return null;
    }

    static Instance byUrl(String url) {
        return group.stream().filter(i -> i.url().equals(url)).findFirst().orElseThrow();
    }

    static Instance notHome(String path) {
        String home = home(group.get(0).peers(), path);
        return group.stream().filter(i -> !i.url().equals(home)).findFirst().orElseThrow();
    }

    static long sum(java.util.function.ToLongFunction<CachePeerStats> f) {
        return group.stream().mapToLong(i -> f.applyAsLong(i.peers().stats())).sum();
    }

    /** Runs {@code get} and waits until {@code where} stored a response (an entry is written after the body went). */
    static RawHttp.Reply storedOn(Instance where, RawHttp.Reply[] out, ThrowingGet get) throws Exception {
        Semaphore stored = new Semaphore(0);
        where.cache().onStored(stored::release);
        RawHttp.Reply reply = get.get();
        assertThat(stored.tryAcquire(5, TimeUnit.SECONDS)).as("stored on " + where.name()).isTrue();
        return reply;
    }

    interface ThrowingGet {
        RawHttp.Reply get() throws Exception;
    }

    @Test
    void everyInstanceSeesTheSameMembersAndHomes() {
        List<String> members = group.get(0).peers().members();
        assertThat(members).hasSize(3);
        for (Instance i : group) {
            assertThat(i.peers().members()).isEqualTo(members);
            assertThat(i.peers().self()).contains(i.url());
            for (int k = 0; k < 20; k++) {
                assertThat(home(i.peers(), "/same/" + k)).isEqualTo(home(group.get(0).peers(), "/same/" + k));
            }
        }
    }

    @Test
    void eachObjectIsFetchedFromTheOriginOnceAndStoredOnlyOnItsHome() throws Exception {
        long fetchesBefore = sum(CachePeerStats::peerFetches);
        long hitsBefore = sum(CachePeerStats::peerHits);
        long entriesBefore = group.stream().mapToLong(Instance::entries).sum();
        int objects = 12;
        int firstViaPeer = 0;
        for (int k = 0; k < objects; k++) {
            String path = "/obj/" + k;
            Instance home = byUrl(home(group.get(0).peers(), path));
            Instance first = group.get(0);
            if (first != home) {
                firstViaPeer++;
            }
            RawHttp.Reply r = storedOn(home, null, () -> first.get(path));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("body of " + path);
            for (int round = 0; round < 2; round++) {
                for (Instance i : group) {
                    if (round == 0 && i == first) {
                        continue;
                    }
                    RawHttp.Reply again = i.get(path);
                    assertThat(again.bodyText()).isEqualTo("body of " + path);
                    assertThat(again.headers().get("cache-status")).as("%s on %s (home %s)", path, i.name(), home.name())
                            .contains("hit");
                    if (i != home) {
                        assertThat(again.headers().get("cache-status")).contains("detail=peer");
                    }
                }
            }
            assertThat(origin(path)).as("origin requests for %s across 3 instances", path).isEqualTo(1);
        }
        long entriesAfter = group.stream().mapToLong(Instance::entries).sum();
        assertThat(entriesAfter - entriesBefore).as("entries stored across the group: one per object, on its home")
                .isEqualTo(objects);
        // each object: 6 requests, 2 on its home, so 4 went to the home; all but a first one via a peer were hits there
        assertThat(sum(CachePeerStats::peerFetches) - fetchesBefore).isEqualTo(4L * objects);
        assertThat(sum(CachePeerStats::peerHits) - hitsBefore).isEqualTo(4L * objects - firstViaPeer);
        assertThat(sum(CachePeerStats::peerRequestsServed)).isGreaterThanOrEqualTo(4L * objects);
    }

    @Test
    void thePeerMarkNeverReachesTheOriginAndTheOriginSeesBothHops() throws Exception {
        String path = pathWhere("/hops/", group.get(0).peers(), home -> !home.equals(group.get(0).url()));
        seen.clear();
        group.get(0).get(path);
        RecordedRequest atOrigin = seen.stream().filter(r -> r.path().equals(path)).findFirst().orElseThrow();
        assertThat(atOrigin.header("Gatehouse-Peer")).isEmpty();
        assertThat(atOrigin.headers("Via").toString()).contains("gatehouse-a-").contains(
                byUrl(home(group.get(0).peers(), path)).proxy().viaName());
    }

    @Test
    void privateAndNoStoreAnswersPassThroughTheHomeAndAreStoredNowhere() throws Exception {
        String priv = "/private/1";
        String nostore = "/nostore/1";
        long entriesBefore = group.stream().mapToLong(Instance::entries).sum();
        for (int n = 0; n < 2; n++) {
            RawHttp.Reply p = notHome(priv).get(priv);
            assertThat(p.bodyText()).isEqualTo("mine " + priv);
            assertThat(p.headers().get("cache-control")).contains("private");
            RawHttp.Reply s = notHome(nostore).get(nostore);
            assertThat(s.bodyText()).isEqualTo("fresh " + nostore);
        }
        assertThat(origin(priv)).isEqualTo(2);
        assertThat(origin(nostore)).isEqualTo(2);
        assertThat(group.stream().mapToLong(Instance::entries).sum()).isEqualTo(entriesBefore);
    }

    @Test
    void variantsAreKeptApartOnTheHome() throws Exception {
        String path = "/vary/1";
        Instance home = byUrl(home(group.get(0).peers(), path));
        List<Instance> strangers = group.stream().filter(i -> i != home).toList();
        storedOn(home, null, () -> strangers.get(0).get(path, "Accept-Language: en"));
        storedOn(home, null, () -> strangers.get(1).get(path, "Accept-Language: de"));
        for (Instance i : group) {
            assertThat(i.get(path, "Accept-Language: en").bodyText()).isEqualTo("en " + path);
            assertThat(i.get(path, "Accept-Language: de").bodyText()).isEqualTo("de " + path);
        }
        assertThat(origin(path)).as("one origin request per variant").isEqualTo(2);
    }

    @Test
    void aConditionalRequestIsAnsweredByTheHome() throws Exception {
        String path = "/etag/1";
        Instance home = byUrl(home(group.get(0).peers(), path));
        Instance other = notHome(path);
        storedOn(home, null, () -> other.get(path));
        RawHttp.Reply notModified = other.get(path, "If-None-Match: \"v1\"");
        assertThat(notModified.status()).isEqualTo(304);
        assertThat(notModified.headers().get("etag")).isEqualTo("\"v1\"");
        assertThat(other.get(path, "If-None-Match: \"v0\"").bodyText()).isEqualTo("tagged " + path);
        assertThat(origin(path)).isEqualTo(1);
    }

    @Test
    void anOriginErrorIsRelayedByTheHomeWithoutAFallback() throws Exception {
        String path = "/err/1";
        long fallbacks = sum(CachePeerStats::peerFallbacks);
        RawHttp.Reply r = notHome(path).get(path);
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.bodyText()).isEqualTo("origin down for " + path);
        assertThat(origin(path)).isEqualTo(1);
        assertThat(sum(CachePeerStats::peerFallbacks)).isEqualTo(fallbacks);
    }

    @Test
    void aMissWhoseHomeIsDownGoesToTheOriginAndIsStoredWhereItWasFetched() throws Exception {
        int dead = freePort(); // nothing listens there
        Instance e = alone("e", "http://127.0.0.1:" + dead, Duration.ofSeconds(1));
        String path = pathWhere("/dead/", e.peers(), home -> home.endsWith(":" + dead));
        long started = System.nanoTime();
        RawHttp.Reply r = storedOn(e, null, () -> e.get(path));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("body of " + path);
        assertThat(tookMs).as("refused at once, then the origin").isLessThan(3000);
        assertThat(e.peers().stats().peerFallbacks()).isEqualTo(1);
        assertThat(e.get(path).headers().get("cache-status")).contains("hit");
        assertThat(origin(path)).isEqualTo(1);
        // meanwhile the dead home is passed over: its next miss goes to the next member (here: e itself) at once
        String next = pathWhere("/dead/", e.peers(), home -> home.endsWith(":" + dead));
        assertThat(e.get(next).bodyText()).isEqualTo("body of " + next);
        assertThat(e.peers().stats().peerFetches()).as("no second try of the dead home").isEqualTo(1);
    }

    @Test
    void aHomeThatDoesNotAnswerIsGivenUpAfterTheTimeout() throws Exception {
        ServerSocket silent = new ServerSocket(0);
        List<Socket> held = new CopyOnWriteArrayList<>();
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    held.add(silent.accept()); // accepts, reads nothing, answers nothing
                }
            } catch (IOException closed) {
                // the test is over
            }
        }, "silent-peer");
        acceptor.start();
        others.add(() -> {
            silent.close();
            for (Socket s : held) {
                s.close();
            }
        });
        Instance f = alone("f", "http://127.0.0.1:" + silent.getLocalPort(), Duration.ofMillis(400));
        String path = pathWhere("/silent/", f.peers(), home -> home.endsWith(":" + silent.getLocalPort()));
        long started = System.nanoTime();
        RawHttp.Reply r = f.get(path);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("body of " + path);
        assertThat(tookMs).as("the peer timeout (400 ms), then the origin").isBetween(350L, 4000L);
        assertThat(f.peers().stats().peerFallbacks()).isEqualTo(1);
    }

    @Test
    void aHomeThatAnswersAnErrorOfItsOwnIsReplacedByTheOrigin() throws Exception {
        MockOrigin failing = MockOrigin.named("failing-peer").start();
        others.add(failing);
        failing.dispatcher(r -> MockResponse.status(502).header("Proxy-Status", "other; error=connection_refused")
                .body("the peer's own failure"));
        Instance g = alone("g", failing.baseUrl(), Duration.ofSeconds(1));
        String path = pathWhere("/failing/", g.peers(), home -> home.equals(g.peers().members().stream()
                .filter(m -> !m.equals(g.url())).findFirst().orElseThrow()));
        RawHttp.Reply r = g.get(path);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("body of " + path);
        assertThat(failing.requestCount()).isEqualTo(1);
        assertThat(g.peers().stats().peerFallbacks()).isEqualTo(1);
    }

    @Test
    void aPeerRequestIsNeverForwardedAgainEvenWhenTheInstancesDisagreeOnTheHome() throws Exception {
        int hPort = freePort();
        int iPort = freePort();
        // h lists i as 127.0.0.1, i lists h as localhost: the same instance under another name hashes elsewhere
        CachePeers hPeers = CachePeers.builder().peer("http://127.0.0.1:" + hPort).peer("http://127.0.0.1:" + iPort).build();
        CachePeers iPeers = CachePeers.builder().peer("http://localhost:" + hPort).peer("http://127.0.0.1:" + iPort).build();
        Instance h = instance("h", hPort, hPeers);
        Instance i = instance("i", iPort, iPeers);
        others.add(h.proxy());
        others.add(i.proxy());
        // a key h sends to i, which i thinks is h's
        String path;
        for (int k = 0; ; k++) {
            path = "/loop/" + k;
            if (home(hPeers, path).equals(i.url()) && home(iPeers, path).equals("http://localhost:" + hPort)) {
                break;
            }
        }
        RawHttp.Reply r = h.get(path);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo("body of " + path);
        assertThat(origin(path)).isEqualTo(1);
        assertThat(h.peers().stats().peerFetches()).isEqualTo(1);
        assertThat(i.peers().stats().peerRequestsServed()).isEqualTo(1);
        assertThat(i.peers().stats().peerFetches()).as("i served it itself, never sent it back").isZero();
        assertThat(h.peers().stats().peerRequestsServed()).isZero();
    }

    @Test
    void aStrangerThatClaimsToBeAPeerIsRefused() throws Exception {
        Instance a = group.get(0);
        RawHttp.Reply r = a.get("/stranger/1", "Gatehouse-Peer: a-guess-at-the-secret");
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.headers().get("proxy-status")).contains("error=http_request_denied");
        assertThat(r.bodyText()).contains("not a cache peer");
        assertThat(origin("/stranger/1")).isZero();
        assertThat(a.peers().stats().peerRequestsRefused()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void reverseRoutesSendTheMissToTheHomeWithTheClientsHostAndTheHomeDoesNotAskForCredentialsAgain() throws Exception {
        int[] ports = {freePort(), freePort()};
        io.github.gatehouse.core.Authenticator auth = (credentials, exchange) -> java.util.concurrent.CompletableFuture
                .completedFuture(credentials.flatMap(c -> c.basic()).filter(b -> b.password().equals("open-sesame"))
                        .map(b -> io.github.gatehouse.core.AuthResult.authenticated(b.user()))
                        .orElse(io.github.gatehouse.core.AuthResult.challenge("Basic realm=\"shop\"", "who are you")));
        List<ProxyServer> reverse = new ArrayList<>();
        List<CachePeers> peers = new ArrayList<>();
        for (int port : ports) {
            CachePeers p = CachePeers.builder().peer("http://127.0.0.1:" + ports[0]).peer("http://127.0.0.1:" + ports[1])
                    .secret(SECRET).build();
            ProxyServer proxy = ProxyServer.builder().listen(port)
                    .route(io.github.gatehouse.core.Route.host("shop.test").to(origin.baseUrl()))
                    .authenticator(auth).cache(HttpCaches.builder().memory(DataSize.mebibytes(4)).build())
                    .cachePeers(p).build().start();
            others.add(proxy);
            reverse.add(proxy);
            peers.add(p);
        }
        // a key whose home is the second proxy, asked on the first
        String path = null;
        for (int k = 0; path == null; k++) { // the key of a reverse request: the client's Host, explicit port, path
            if (peers.get(0).homeOf("http://shop.test:80/reverse/" + k).orElseThrow().endsWith(":" + ports[1])) {
                path = "/reverse/" + k;
            }
        }
        String credentials = "Authorization: Basic " + java.util.Base64.getEncoder().encodeToString(
                "ann:open-sesame".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        String request = "GET " + path + " HTTP/1.1\r\nHost: shop.test\r\n";
        String wanted = path;
        RawHttp.Reply refused = RawHttp.exchange(ports[0], request + "Connection: close\r\n\r\n");
        assertThat(refused.status()).isEqualTo(401);
        assertThat(peers.get(0).stats().peerFetches()).as("no credentials: nothing went to the home").isZero();
        seen.clear();
        RawHttp.Reply first = RawHttp.exchange(ports[0], request + credentials + "\r\nConnection: close\r\n\r\n");
        assertThat(first.status()).isEqualTo(200);
        assertThat(first.bodyText()).isEqualTo("body of " + path);
        assertThat(peers.get(0).stats().peerFetches()).isEqualTo(1);
        assertThat(peers.get(1).stats().peerRequestsServed()).isEqualTo(1);
        RecordedRequest atOrigin = seen.stream().filter(r -> r.path().equals(wanted)).findFirst().orElseThrow();
        assertThat(atOrigin.header("Authorization")).as("credentials stay on the instance that checked them").isEmpty();
        assertThat(atOrigin.header("Gatehouse-Peer")).isEmpty();
        // the home's own clients still authenticate, and get the object stored there
        assertThat(RawHttp.exchange(ports[1], request + "Connection: close\r\n\r\n").status()).isEqualTo(401);
        RawHttp.Reply onHome = RawHttp.exchange(ports[1], request + credentials + "\r\nConnection: close\r\n\r\n");
        assertThat(onHome.bodyText()).isEqualTo("body of " + path);
        assertThat(origin(path)).isEqualTo(1);
    }

    /** A lone instance whose only other peer is {@code peerUrl}. */
    static Instance alone(String name, String peerUrl, Duration timeout) throws IOException {
        int port = freePort();
        Instance x = instance(name, port, CachePeers.builder().peer("http://127.0.0.1:" + port).peer(peerUrl)
                .timeout(timeout).build());
        others.add(x.proxy());
        return x;
    }

    static void drain(InputStream in) throws IOException {
        in.readAllBytes();
    }
}
