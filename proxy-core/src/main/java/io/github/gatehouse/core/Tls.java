package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.TlsMaterial;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The certificates an HTTPS listener serves ({@link ProxyServer.Builder#listenTls}): one or more certificate chains
 * with their private keys, from PEM files or PKCS#12 key stores.
 *
 * <p><b>SNI.</b> With several certificates, each TLS handshake gets the one whose names (subject alternative names,
 * else the common name; {@code *.example.com} wildcards included) match the server name the client asked for. A
 * client that asks for no name, or for a name no certificate has, gets the first one: the default.
 *
 * <pre>{@code
 * Tls tls = Tls.pem(Path.of("shop.crt"), Path.of("shop.key"))          // the default certificate
 *         .and(Tls.pkcs12(Path.of("api.p12"), "secret".toCharArray())); // chosen by SNI for its names
 * }</pre>
 *
 * <p><b>Protocols.</b> TLS 1.2 and 1.3 only, with the JDK's cipher suites less the legacy ones (CBC with SHA-1, RSA key
 * exchange, anonymous and null suites). ALPN offers {@code h2} and {@code http/1.1}.
 *
 * <p><b>Reload.</b> The files are read when the server starts, again on {@link ProxyServer#reloadTls()}, and again
 * when one of them changes (checked every {@link #checkForChangesEvery} period, 10 s by default): new handshakes get the
 * new certificates, connections already open keep their session. A reload whose files do not parse, or whose key does
 * not match its certificate, is logged and ignored: the certificates in use stay.
 *
 * <p>Every factory reads and checks the files at once, so a missing file or a wrong password fails the builder, not
 * the first handshake. Immutable and thread-safe: each method returns a new value. A PKCS#12 password is copied.
 */
@com.google.errorprone.annotations.CheckReturnValue // immutable: a method that returns a value returns a new one
public final class Tls {
    private final List<TlsMaterial.Source> sources;
    private final Duration checkInterval;

    private Tls(List<TlsMaterial.Source> sources, Duration checkInterval) {
        this.sources = List.copyOf(sources);
        this.checkInterval = checkInterval;
    }

    /**
     * A certificate chain and its private key from PEM files. {@code certificateChain} holds the server's certificate
     * first, then the intermediates ({@code -----BEGIN CERTIFICATE-----} blocks); {@code privateKey} holds an
     * unencrypted key as PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC 1
     * ({@code BEGIN EC PRIVATE KEY}). Both may be the same file.
     *
     * @throws IllegalArgumentException if a file cannot be read or parsed, the key is encrypted, or the key does not
     *     belong to the first certificate
     */
    public static Tls pem(Path certificateChain, Path privateKey) {
        requireNonNull(certificateChain, "certificateChain");
        requireNonNull(privateKey, "privateKey");
        TlsMaterial.Source source = TlsMaterial.Source.pem(certificateChain, privateKey);
        TlsMaterial.check(source);
        return new Tls(List.of(source), Duration.ofSeconds(10));
    }

    /**
     * Every private-key entry of a PKCS#12 key store (each with its chain), the key store and its keys protected by
     * {@code password}. With several entries, the first alias in alphabetical order is the default.
     *
     * @throws IllegalArgumentException if the file cannot be read, the password is wrong, or it holds no key entry
     */
    public static Tls pkcs12(Path keyStore, char[] password) {
        requireNonNull(keyStore, "keyStore");
        requireNonNull(password, "password");
        TlsMaterial.Source source = TlsMaterial.Source.pkcs12(keyStore, password.clone());
        TlsMaterial.check(source);
        return new Tls(List.of(source), Duration.ofSeconds(10));
    }

    /**
     * These certificates and then {@code more}'s, for SNI; this value's first certificate stays the default. The
     * change-check period is this value's.
     */
    public Tls and(Tls more) {
        requireNonNull(more, "more");
        List<TlsMaterial.Source> all = new ArrayList<>(sources);
        all.addAll(more.sources);
        return new Tls(all, checkInterval);
    }

    /**
     * How often the files are checked for a change (their size, modification time or content), 10 s by default;
     * {@link Duration#ZERO} turns the check off, leaving {@link ProxyServer#reloadTls()}.
     */
    public Tls checkForChangesEvery(Duration period) {
        requireNonNull(period, "period");
        checkArgument(!period.isNegative(), "checkForChangesEvery: %s (expected: >= 0)", period);
        return new Tls(sources, period);
    }

    /** The change-check period ({@link Duration#ZERO}: never). */
    public Duration changeCheckPeriod() {
        return checkInterval;
    }

    /** The files read, in order. */
    public List<Path> files() {
        List<Path> files = new ArrayList<>();
        for (TlsMaterial.Source s : sources) {
            files.addAll(s.files());
        }
        return List.copyOf(files);
    }

    /** For the server's internals. */
    List<TlsMaterial.Source> sources() {
        return sources;
    }

    @Override
    public String toString() {
        return "Tls" + files();
    }
}
