package io.github.gatehouse.core.internal;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cache-peer routing (CARP) as the relay runs it, behind {@code CachePeers}: the members (this instance's own URL
 * among them), the rendezvous hash that gives each key its home, whether a request that says it comes from a peer
 * does, and the counters.
 *
 * <p>The members are the union of a static list, the URLs that a {@link Directory} (the cluster) lists, and this
 * instance's own URL, which {@link #start} settles once the listener is bound. The set is kept as an immutable
 * snapshot, rebuilt when the directory reports a change, so a lookup ({@link #foreignHome}) reads one volatile field.
 *
 * <p><b>Threading.</b> Thread-safe. {@link #start} and {@link #stop} are synchronized and may block (the cluster);
 * the rest does not block.
 */
public final class PeerRouting {
    private static final Logger LOG = LoggerFactory.getLogger(PeerRouting.class);

    /** The request field that marks a peer request; its value is the shared secret (or this instance's URL). */
    public static final String HEADER = "Gatehouse-Peer";

    /** Where the members come from besides the static list: the cluster. */
    public interface Directory {
        /** The URLs the members published, the live members' only. */
        List<String> peers();

        /** Publishes this member's URL; closing the handle withdraws it. */
        AutoCloseable publish(String selfUrl);

        /** Runs {@code onChange} after the published URLs or the members changed; closing the handle stops it. */
        AutoCloseable onChange(Runnable onChange);

        /** The secret the members share for peer requests (made by the first member that asks). */
        String secret();

        /** The host this member's URL has when the listener is bound to every interface. */
        String defaultHost();
    }

    /** A member: its URL ({@code http://host:port}), host and port. */
    public record Peer(String url, String host, int port) {
        @Override
        public String toString() {
            return url;
        }
    }

    private record Snapshot(List<Peer> peers, long[] hashes, Set<InetAddress> addresses) {
    }

    private final List<String> staticPeers;
    private final String explicitSelf;
    private final Duration timeout;
    private final String configuredSecret;
    private final Directory directory;

    private volatile Snapshot snapshot = new Snapshot(List.of(), new long[0], Set.of());
    private volatile String self;
    private volatile String secret;
    private AutoCloseable published;
    private AutoCloseable listening;

    /** How long a member that failed a request is passed over. */
    public static final Duration DOWN_FOR = Duration.ofSeconds(10);

    /** Members passed over until a {@link System#nanoTime} (see {@link #fellBack}). */
    private final java.util.concurrent.ConcurrentHashMap<String, Long> down = new java.util.concurrent.ConcurrentHashMap<>();
    private final LongAdder fetches = new LongAdder();
    private final LongAdder hits = new LongAdder();
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder served = new LongAdder();
    private final LongAdder refused = new LongAdder();

    /**
     * @param staticPeers URLs of the other instances (and this one's, which is allowed), normalised
     * @param explicitSelf this instance's URL as the others reach it, or null to derive it at {@link #start}
     * @param secret the shared secret of peer requests, or null (the directory's, else none: peers by address)
     * @param directory the cluster, or null
     */
    public PeerRouting(List<String> staticPeers, String explicitSelf, Duration timeout, String secret, Directory directory) {
        this.staticPeers = List.copyOf(staticPeers);
        this.explicitSelf = explicitSelf;
        this.timeout = timeout;
        this.configuredSecret = secret;
        this.directory = directory;
    }

    /**
     * {@code http://host:port} for a peer URL given as {@code http://host:port}, {@code http://host} (port 80) or
     * {@code host:port}, with a lower-case host.
     *
     * @throws IllegalArgumentException if it is not an {@code http} URL with a host and no path, query or user
     */
    public static String normalize(String url) {
        String u = url.trim();
        if (!u.contains("://")) {
            u = "http://" + u;
        }
        URI uri;
        try {
            uri = new URI(u);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("cache peer: '" + url + "' (expected: http://host:port)", e);
        }
        boolean noPath = uri.getRawPath() == null || uri.getRawPath().isEmpty() || uri.getRawPath().equals("/");
        if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null || !noPath || uri.getRawQuery() != null
                || uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException("cache peer: '" + url + "' (expected: http://host:port)");
        }
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        return "http://" + uri.getHost().toLowerCase(Locale.ROOT) + ":" + port;
    }

    private static Peer peer(String url) {
        URI uri = URI.create(url);
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new Peer(url, host, uri.getPort());
    }

    /**
     * Settles this instance's URL (the explicit one, else {@code http://bindAddress:port}, with the directory's host
     * for a wildcard bind address), publishes it to the directory and builds the first member set. Idempotent.
     */
    public synchronized void start(String bindAddress, int port) {
        if (self != null) {
            return;
        }
        String host = bindAddress;
        if (host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0")) {
            if (directory == null) {
                throw new IllegalStateException("cache peers: the proxy listens on " + bindAddress + ", so this"
                        + " instance's own URL is not known (expected: CachePeers.Builder.self(url))");
            }
            host = directory.defaultHost();
        }
        self = explicitSelf != null ? explicitSelf
                : normalize("http://" + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port);
        secret = configuredSecret != null ? configuredSecret : directory != null ? directory.secret() : null;
        if (directory != null) {
            published = directory.publish(self);
            listening = directory.onChange(this::rebuild);
        }
        rebuild();
        LOG.info("cache peers: this instance is {}; members {}; timeout {} ms; peer requests {}", self, peers(),
                timeout.toMillis(), secret != null ? "carry the shared secret" : "are known by their address");
    }

    /** Withdraws this instance's URL from the directory and stops following it. Idempotent. */
    public synchronized void stop() {
        for (AutoCloseable c : new AutoCloseable[] {listening, published}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    LOG.debug("cache peers: withdrawing from the cluster failed: {}", e.toString());
                }
            }
        }
        listening = null;
        published = null;
    }

    /** Rebuilds the member set from the static list, the directory and this instance. */
    void rebuild() {
        String me = self;
        TreeSet<String> urls = new TreeSet<>(staticPeers);
        if (directory != null) {
            try {
                for (String u : directory.peers()) {
                    urls.add(normalize(u));
                }
            } catch (RuntimeException e) {
                LOG.info("cache peers: the cluster's member list could not be read ({}); keeping the static ones",
                        e.toString());
            }
        }
        if (me != null) {
            urls.add(me);
        }
        List<Peer> peers = new ArrayList<>();
        Set<InetAddress> addresses = new HashSet<>();
        for (String u : urls) {
            Peer p = peer(u);
            peers.add(p);
            try {
                for (InetAddress a : InetAddress.getAllByName(p.host())) {
                    addresses.add(a);
                }
            } catch (UnknownHostException e) {
                LOG.warn("cache peer {}: host unknown ({}); its requests are not recognised by address", u, e.getMessage());
            }
        }
        long[] hashes = new long[peers.size()];
        for (int i = 0; i < hashes.length; i++) {
            hashes[i] = Rendezvous.hash(peers.get(i).url());
        }
        Snapshot before = snapshot;
        snapshot = new Snapshot(List.copyOf(peers), hashes, Set.copyOf(addresses));
        if (!before.peers().equals(peers) && before.peers().size() > 0) {
            LOG.info("cache peers: members now {}", peers);
        }
    }

    /** The members now, this instance included, sorted by URL. */
    public List<String> peers() {
        List<String> out = new ArrayList<>();
        for (Peer p : snapshot.peers()) {
            out.add(p.url());
        }
        return out;
    }

    /** This instance's URL, or null before {@link #start}. */
    public String self() {
        return self;
    }

    /** How long a peer may take to connect and send its response head. */
    public Duration timeout() {
        return timeout;
    }

    /**
     * The home of {@code key} ({@code scheme://host:port/path?query}), or null when it is this instance. A member that
     * failed a request lately ({@link #fellBack}) is passed over for {@link #DOWN_FOR}: its keys go to their next
     * member in rendezvous order (as CARP skips a dead parent), so they still have one home meanwhile.
     */
    public Peer foreignHome(String key) {
        Snapshot s = snapshot;
        String me = self;
        if (me == null || s.peers().size() < 2) {
            return null;
        }
        long keyHash = Rendezvous.hash(key);
        int best = -1;
        long bestScore = 0;
        long now = down.isEmpty() ? 0 : System.nanoTime();
        for (int i = 0; i < s.hashes().length; i++) {
            Peer p = s.peers().get(i);
            if (now != 0 && isDown(p, now)) {
                continue;
            }
            long score = Rendezvous.score(keyHash, s.hashes()[i]);
            if (best < 0 || Long.compareUnsigned(score, bestScore) > 0) {
                best = i;
                bestScore = score;
            }
        }
        if (best < 0) {
            return null;
        }
        Peer home = s.peers().get(best);
        return home.url().equals(me) ? null : home;
    }

    private boolean isDown(Peer p, long now) {
        Long until = down.get(p.url());
        if (until == null) {
            return false;
        }
        if (now - until < 0) {
            return true;
        }
        if (down.remove(p.url(), until)) {
            LOG.info("cache peer {}: trying it again", p.url());
        }
        return false;
    }

    /** The home of {@code key} among the members, this instance's URL when it is its own. */
    public String homeOf(String key) {
        Snapshot s = snapshot;
        int i = Rendezvous.home(Rendezvous.hash(key), s.hashes());
        return i < 0 ? self : s.peers().get(i).url();
    }

    /** The value of {@link #HEADER} on this instance's peer requests. */
    public String headerValue() {
        String s = secret;
        return s != null ? s : self;
    }

    /**
     * Whether a request with {@link #HEADER} {@code value} from {@code client} is a peer's: with a shared secret, the
     * value must be it; without one, the client must have the address of a member.
     */
    public boolean isTrusted(String value, InetAddress client) {
        String s = secret;
        if (s != null) {
            return value != null && MessageDigest.isEqual(s.getBytes(StandardCharsets.UTF_8),
                    value.trim().getBytes(StandardCharsets.UTF_8));
        }
        return client != null && snapshot.addresses().contains(client);
    }

    /** A miss was sent to its home. */
    public void fetched() {
        fetches.increment();
    }

    /** The home answered from its cache. */
    public void peerHit() {
        hits.increment();
    }

    /**
     * The home {@code peer} failed (refused, timed out, answered an error of its own): the miss went to the origin, and
     * {@code peer} is passed over for {@link #DOWN_FOR}.
     */
    public void fellBack(Peer peer) {
        fallbacks.increment();
        if (down.put(peer.url(), System.nanoTime() + DOWN_FOR.toNanos()) == null) {
            LOG.info("cache peer {} failed; its keys go to the next member for {} s", peer.url(), DOWN_FOR.toSeconds());
        }
    }

    /** This instance served a peer's request as its home. */
    public void servedPeer() {
        served.increment();
    }

    /** A request claimed to be a peer's and was refused. */
    public void refusedPeer() {
        refused.increment();
    }

    /** The counters: fetches, peer hits, fallbacks, served, refused. */
    public long[] counters() {
        return new long[] {fetches.sum(), hits.sum(), fallbacks.sum(), served.sum(), refused.sum()};
    }
}
