package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.TlsMaterial;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * HTTPS inspection (TLS interception) for the forward proxy ({@link ProxyServer.Builder#intercept}): which
 * {@code CONNECT} destinations are opened up, and the certificate authority that signs the certificates shown to
 * clients there.
 *
 * <p><b>What happens.</b> For a {@code CONNECT} to an intercepted host, after authentication and the request filters
 * of the {@code CONNECT} as for any tunnel, the proxy connects to the origin itself and verifies its certificate (the
 * JDK's trust store plus the roots of {@link ProxyServer.Builder#upstreamTls}). An origin whose certificate does not
 * verify gets no tunnel: the client gets a {@code 502} naming the reason, and a log line says it. Otherwise the proxy
 * answers {@code 200}, and terminates the client's TLS with a certificate it mints for the name the client asked for
 * (SNI; the {@code CONNECT} host when there is none, as for an IP address), with the origin certificate's subject
 * alternative names, signed by this CA (EC P-256 keys; minted certificates are cached, bounded). Each request inside
 * (HTTP/1.1 or h2, through ALPN) is then an ordinary {@code https://} exchange of the relay: the {@code CONNECT}'s
 * user, the request filters, body filters, the cache, and an access-log line with the full URL.
 *
 * <p><b>Which hosts.</b> None unless listed: {@link #intercept} takes exact names, {@code *.example.com} (any name
 * below example.com) or {@code *} (all). {@link #neverIntercept} takes the same patterns and wins: those destinations
 * (banking, health, apps that pin certificates) are tunnelled untouched, as without inspection.
 *
 * <p><b>Duties.</b> Whoever runs inspection reads other people's encrypted traffic: tell the users, intercept only
 * what policy needs, never intercept what the law or decency protects, and keep the CA key as secret as any key that
 * can impersonate every web site to the users' machines.
 *
 * <p>Minting needs Bouncy Castle ({@code org.bouncycastle:bcpkix-jdk18on}) on the class path; it is an optional
 * dependency of this module. Immutable and thread-safe; every method returns a new value.
 */
public final class Interception {
    static {
        io.github.gatehouse.core.internal.ApiAccess.setInterception(i -> i.ca.sources());
    }

    private final Tls ca;
    private final List<String> intercept;
    private final List<String> never;
    private final int cacheSize;

    private Interception(Tls ca, List<String> intercept, List<String> never, int cacheSize) {
        this.ca = ca;
        this.intercept = List.copyOf(intercept);
        this.never = List.copyOf(never);
        this.cacheSize = cacheSize;
    }

    /**
     * Inspection signing with the CA certificate and key in PEM files (as {@code gatehouse.jar ca --out DIR} writes
     * them: {@code DIR/ca.pem}, {@code DIR/ca-key.pem}); no host intercepted yet.
     *
     * @throws IllegalArgumentException if a file cannot be read, or the key is not the certificate's
     */
    public static Interception withCa(Path caCertificate, Path caKey) {
        return withCa(Tls.pem(caCertificate, caKey));
    }

    /** Inspection signing with the CA of {@code ca} (PEM or PKCS#12, its first entry); no host intercepted yet. */
    public static Interception withCa(Tls ca) {
        requireNonNull(ca, "ca");
        return new Interception(ca, List.of(), List.of(), 10_000);
    }

    /** These settings, also intercepting the hosts matching {@code patterns} ({@code name}, {@code *.domain}, {@code *}). */
    @com.google.errorprone.annotations.CheckReturnValue
    public Interception intercept(String... patterns) {
        return new Interception(ca, append(intercept, patterns), never, cacheSize);
    }

    /** These settings, never intercepting the hosts matching {@code patterns}, whatever {@link #intercept} says. */
    @com.google.errorprone.annotations.CheckReturnValue
    public Interception neverIntercept(String... patterns) {
        return new Interception(ca, intercept, append(never, patterns), cacheSize);
    }

    /** At most {@code count} minted certificates kept (10,000 by default); older ones are minted again when needed. */
    @com.google.errorprone.annotations.CheckReturnValue
    public Interception mintedCertificateCacheSize(int count) {
        checkArgument(count >= 1, "mintedCertificateCacheSize: %s (expected: >= 1)", count);
        return new Interception(ca, intercept, never, count);
    }

    /** Whether a {@code CONNECT} to {@code host} is intercepted: listed, and not on the never-intercept list. */
    public boolean intercepts(String host) {
        requireNonNull(host, "host");
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return matchesAny(never, h) == null && matchesAny(intercept, h) != null;
    }

    private static String matchesAny(List<String> patterns, String host) {
        for (String p : patterns) {
            if (p.equals("*") || p.equals(host) || (p.startsWith("*.") && host.endsWith(p.substring(1)))) {
                return p;
            }
        }
        return null;
    }

    /** The intercept patterns, in order. */
    public List<String> interceptPatterns() {
        return intercept;
    }

    /** The never-intercept patterns, in order. */
    public List<String> neverInterceptPatterns() {
        return never;
    }

    /** The bound of the minted-certificate cache. */
    public int mintedCertificateCacheSize() {
        return cacheSize;
    }

    /** The CA's files. */
    public List<Path> caFiles() {
        return ca.files();
    }

    /**
     * Writes a new CA for inspection into {@code dir} (made if needed): {@code ca.pem} (the certificate, to make
     * clients trust) and {@code ca-key.pem} (its EC P-256 private key, PKCS#8, readable by the owner only where the
     * file system allows). Valid for 10 years from an hour ago; refuses to overwrite an existing CA.
     *
     * @return the two files, certificate first
     * @throws IllegalArgumentException if a CA is already there, or Bouncy Castle is missing
     * @throws java.io.UncheckedIOException if the files cannot be written
     */
    public static List<Path> writeNewCa(Path dir, String commonName) {
        requireNonNull(dir, "dir");
        requireNonNull(commonName, "commonName");
        return io.github.gatehouse.core.internal.CertificateMinter.writeNewCa(dir, commonName);
    }

    private static List<String> append(List<String> list, String... patterns) {
        requireNonNull(patterns, "patterns");
        List<String> all = new ArrayList<>(list);
        for (String p : patterns) {
            requireNonNull(p, "pattern");
            String t = p.trim().toLowerCase(Locale.ROOT);
            checkArgument(!t.isEmpty() && (t.equals("*") || t.indexOf('*') < 0 || (t.startsWith("*.") && t.indexOf('*', 1) < 0)),
                    "host pattern: '%s' (expected: a host name, *.domain or *)", p);
            all.add(t);
        }
        return all;
    }

    @Override
    public String toString() {
        return "Interception{ca " + ca.files() + ", intercept " + intercept + ", never " + never + "}";
    }
}
