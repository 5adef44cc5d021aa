package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.internal.TlsMaterial;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * How the proxy speaks TLS to {@code https://} upstreams: which certificates it trusts, whether it shows a client
 * certificate, and which server name it asks for. Set per pool ({@link UpstreamPool#tls}) and as the server's
 * default ({@link ProxyServer.Builder#upstreamTls}), which also serves forward-proxy {@code https://} requests and
 * HTTPS inspection.
 *
 * <p><b>Verification is on.</b> The upstream's chain must lead to a root of the JDK's trust store or to one of the
 * extra roots given to {@link #trust(Path)}, and its certificate must name the host (endpoint identification, RFC
 * 9110 §4.3.4, against the SNI name when one is configured, else the member's host). A certificate that fails is a
 * {@code 502} with {@code Proxy-Status: ...; error=tls_certificate_error} and a log line naming the reason.
 * {@link #insecureSkipVerifyingUpstreamCertificates()} turns all of that off, for a test bench only.
 *
 * <p><b>SNI</b> is the member's host name (none for an IP literal), or the name given to {@link #serverName}.
 *
 * <pre>{@code
 * UpstreamTls tls = UpstreamTls.defaults()
 *         .trust(Path.of("internal-ca.pem"))                                   // plus the JDK's roots
 *         .clientCertificate(Tls.pem(Path.of("proxy.crt"), Path.of("proxy.key"))); // mTLS
 * }</pre>
 *
 * <p>Immutable and thread-safe; every method returns a new value. The files are read and checked at once, so a missing
 * or unparsable file fails here, not at the first request.
 */
@com.google.errorprone.annotations.CheckReturnValue // immutable: a method that returns a value returns a new one
public final class UpstreamTls {
    static {
        io.github.gatehouse.core.internal.ApiAccess.setUpstreamTls(tls -> tls.clientCertificate == null ? List.of() : tls.clientCertificate.sources());
    }

    private static final UpstreamTls DEFAULTS = new UpstreamTls(List.of(), null, null, true);

    private final List<Path> roots;
    private final Tls clientCertificate;
    private final String serverName;
    private final boolean verify;

    private UpstreamTls(List<Path> roots, Tls clientCertificate, String serverName, boolean verify) {
        this.roots = List.copyOf(roots);
        this.clientCertificate = clientCertificate;
        this.serverName = serverName;
        this.verify = verify;
    }

    /** The JDK's trust store, endpoint identification on, no client certificate, SNI the member's host. */
    public static UpstreamTls defaults() {
        return DEFAULTS;
    }

    /**
     * These settings, also trusting the CA certificates in PEM file {@code roots} ({@code -----BEGIN CERTIFICATE-----}
     * blocks), on top of the JDK's trust store and of earlier calls.
     *
     * @throws IllegalArgumentException if the file cannot be read or holds no certificate
     */
    public UpstreamTls trust(Path roots) {
        requireNonNull(roots, "roots");
        TlsMaterial.readCertificates(roots); // fails now if unreadable
        List<Path> all = new ArrayList<>(this.roots);
        all.add(roots);
        return new UpstreamTls(all, clientCertificate, serverName, verify);
    }

    /** These settings, showing {@code identity}'s first certificate and key to upstreams that ask for one (mTLS). */
    public UpstreamTls clientCertificate(Tls identity) {
        return new UpstreamTls(roots, requireNonNull(identity, "identity"), serverName, verify);
    }

    /**
     * These settings, asking every member for {@code name} in SNI (instead of the member's own host), and checking the
     * member's certificate against that name.
     */
    public UpstreamTls serverName(String name) {
        requireNonNull(name, "name");
        checkArgument(!name.isBlank() && name.indexOf(':') < 0 && !name.matches("[0-9.]+"),
                "serverName: '%s' (expected: a DNS name)", name);
        return new UpstreamTls(roots, clientCertificate, name, verify);
    }

    /**
     * These settings, with <b>no verification at all</b> of the upstream's certificate: any certificate, for any name,
     * from anyone, is accepted, so anyone on the path can read and change the traffic. For a test bench only; the
     * server logs a warning at start for each use.
     */
    public UpstreamTls insecureSkipVerifyingUpstreamCertificates() {
        return new UpstreamTls(roots, clientCertificate, serverName, false);
    }

    /** The extra trusted roots, in the order given. */
    public List<Path> trustedRoots() {
        return roots;
    }

    /** The client certificate, if any. */
    public Optional<Tls> clientCertificate() {
        return Optional.ofNullable(clientCertificate);
    }

    /** The configured SNI name, if any (else the member's host). */
    public Optional<String> serverName() {
        return Optional.ofNullable(serverName);
    }

    /** Whether upstream certificates are verified (true unless {@link #insecureSkipVerifyingUpstreamCertificates}). */
    public boolean verifies() {
        return verify;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UpstreamTls && ((UpstreamTls) o).roots.equals(roots)
                && Objects.equals(((UpstreamTls) o).clientCertificate, clientCertificate)
                && Objects.equals(((UpstreamTls) o).serverName, serverName) && ((UpstreamTls) o).verify == verify;
    }

    @Override
    public int hashCode() {
        return Objects.hash(roots, clientCertificate, serverName, verify);
    }

    @Override
    public String toString() {
        return "UpstreamTls{" + (verify ? "verify" : "INSECURE no verification") + (roots.isEmpty() ? "" : ", roots " + roots)
                + (clientCertificate == null ? "" : ", client " + clientCertificate.files())
                + (serverName == null ? "" : ", sni " + serverName) + "}";
    }
}
