package io.github.gatehouse.core.internal;

import java.security.Principal;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.http2.HTTP2Cipher;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.ssl.X509;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS side of the HTTPS listener: Jetty's {@link SslContextFactory.Server} over the in-memory key store that
 * {@link TlsMaterial} builds, SNI selection with the first certificate as the default, and reloads (on demand, and
 * when the files change). {@link SslContextFactory#reload} swaps the SSL context for new handshakes only: open
 * connections keep their engine and session. Thread-safe.
 */
final class TlsListener {
    private static final Logger LOG = LoggerFactory.getLogger(TlsListener.class);

    private final List<TlsMaterial.Source> sources;
    private final SslContextFactory.Server factory = new SslContextFactory.Server();
    private final AtomicLong reloads = new AtomicLong();
    private volatile String fingerprint;
    /** Every certificate, in configured order (the first is the default), as Jetty matches names. */
    private volatile List<X509> x509s;
    private volatile Scheduler.Task watch;
    private volatile boolean stopped;
    private volatile Runnable reloaded = () -> { };

    TlsListener(List<TlsMaterial.Source> sources) {
        this.sources = List.copyOf(sources);
        String before = TlsMaterial.fingerprint(this.sources);
        TlsMaterial.Loaded loaded = TlsMaterial.load(this.sources);
        fingerprint = before;
        apply(loaded);
        factory.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        // The JDK's cipher suites, less Jetty's default exclusions (MD5, SHA-1 CBC, RSA key exchange, NULL, anon),
        // ordered so that a suite HTTP/2 allows comes first (RFC 9113 §9.2.2).
        factory.setCipherComparator(HTTP2Cipher.COMPARATOR);
        factory.setUseCipherSuitesOrder(true);
        factory.setRenegotiationAllowed(false);
        factory.setSNISelector(this::select);
    }

    SslContextFactory.Server factory() {
        return factory;
    }

    /** How many reloads succeeded (not counting the start). */
    long reloads() {
        return reloads.get();
    }

    /**
     * Reads the files again and swaps the certificates for new handshakes.
     *
     * @throws IllegalArgumentException if they do not parse; the certificates in use stay
     */
    void reload() {
        String before = TlsMaterial.fingerprint(sources);
        TlsMaterial.Loaded loaded = TlsMaterial.load(sources);
        try {
            factory.reload(f -> apply(loaded));
        } catch (Exception e) {
            throw new IllegalArgumentException("cannot reload the TLS certificates: " + Failures.describe(e), e);
        }
        fingerprint = before;
        reloads.incrementAndGet();
        LOG.info("TLS certificates reloaded from {}: {}", sources, describe(loaded));
        reloaded.run();
    }

    /** Checks the files every {@code periodMs} and reloads when their contents changed. */
    void watch(Scheduler scheduler, long periodMs) {
        if (periodMs <= 0) {
            return;
        }
        watch = scheduler.schedule(() -> check(scheduler, periodMs), periodMs, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Runs {@code listener} after each successful reload (for tests). */
    void onReload(Runnable listener) {
        this.reloaded = listener;
    }

    void stop() {
        stopped = true;
        Scheduler.Task t = watch;
        if (t != null) {
            t.cancel();
        }
    }

    private void check(Scheduler scheduler, long periodMs) {
        if (stopped) {
            return;
        }
        try {
            String now = TlsMaterial.fingerprint(sources);
            if (!now.equals(fingerprint)) {
                try {
                    reload();
                } catch (IllegalArgumentException e) {
                    // a half-written file (cert replaced, key not yet) is the usual cause: keep the old ones, and
                    // try again at the next check, when the files have changed again or are complete
                    LOG.warn("TLS files changed but cannot be used, keeping the certificates in use: {}", e.getMessage());
                    fingerprint = now;
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("TLS file check failed: {}", Failures.describe(e));
        } finally {
            if (!stopped) {
                watch = scheduler.schedule(() -> check(scheduler, periodMs), periodMs, java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        }
    }

    private void apply(TlsMaterial.Loaded loaded) {
        factory.setKeyStore(loaded.keyStore());
        factory.setKeyStorePassword(new String(loaded.password()));
        factory.setKeyManagerPassword(new String(loaded.password()));
        List<X509> list = new java.util.ArrayList<>();
        for (int i = 0; i < loaded.aliases().size(); i++) {
            list.add(new X509(loaded.aliases().get(i), loaded.leaves().get(i)));
        }
        x509s = List.copyOf(list);
    }

    /**
     * The certificate for a handshake. Jetty asks once for each key type the handshake could use (EC, RSA, ...), with
     * the certificates of that type; {@code null} means "none of this type", and the JDK then asks for the next type.
     * So: the first certificate (in configured order) whose names match the requested server name, if it is of this
     * type; none of this type if a certificate of another type matches; and with no match (or no SNI) the default
     * (the first configured certificate) when it is of this type, none otherwise.
     */
    private String select(String keyType, Principal[] issuers, SSLSession session, String sniHost,
            Collection<X509> certificates) {
        List<X509> all = x509s;
        X509 chosen = null;
        if (sniHost != null) {
            for (X509 x : all) {
                if (names(x, sniHost)) {
                    chosen = x;
                    break;
                }
            }
        }
        if (chosen == null) {
            chosen = all.get(0);
        }
        for (X509 x : certificates) {
            if (x.getAlias().equals(chosen.getAlias())) {
                return x.getAlias();
            }
        }
        return null;
    }

    /**
     * Whether the certificate names {@code host}: exactly, or by a wildcard for one more label (RFC 6125 §6.4.3:
     * {@code *.example.com} names {@code a.example.com}, not {@code example.com}, which Jetty's own match allows).
     */
    static boolean names(X509 x, String host) {
        String h = host.toLowerCase(java.util.Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (x.getHosts().contains(h)) {
            return true;
        }
        int dot = h.indexOf('.');
        return dot > 0 && x.getWilds().contains(h.substring(dot + 1));
    }

    private static String describe(TlsMaterial.Loaded loaded) {
        StringBuilder b = new StringBuilder();
        for (java.security.cert.X509Certificate c : loaded.leaves()) {
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append(c.getSubjectX500Principal().getName()).append(" until ").append(c.getNotAfter().toInstant());
        }
        return b.toString();
    }
}
