package io.github.gatehouse.examples;

import io.github.gatehouse.core.Interception;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.Tls;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamTls;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * The launcher's upstream TLS flags ({@code --upstream-ca}, {@code --upstream-insecure-skip-verify}, the client
 * certificate, {@code --upstream-sni}, {@code --upstream-protocol}, {@code --upstream-proxy-protocol}), its HTTPS inspection flags
 * ({@code --intercept-*}), and the {@code ca} command. Stateless.
 */
final class InspectionFlags {
    private InspectionFlags() {
    }

    /** The upstream TLS the flags describe: the server's default, for forward requests, inspection and pools. */
    static UpstreamTls upstreamTls(LauncherOptions o) throws LauncherOptions.UsageException {
        UpstreamTls tls = UpstreamTls.defaults();
        for (Path ca : o.upstreamCas) {
            tls = tls.trust(ca);
        }
        if (o.upstreamClientCert != null) {
            tls = tls.clientCertificate(Tls.pem(o.upstreamClientCert, o.upstreamClientKey));
        }
        if (o.upstreamClientKeystore != null) {
            tls = tls.clientCertificate(Tls.pkcs12(o.upstreamClientKeystore,
                    Gatehouse.firstLine(o.upstreamClientKeystorePasswordFile, "--upstream-client-keystore-password-file").toCharArray()));
        }
        if (o.upstreamSni != null) {
            tls = tls.serverName(o.upstreamSni);
        }
        if (o.upstreamInsecure) {
            tls = tls.insecureSkipVerifyingUpstreamCertificates();
        }
        return tls;
    }

    /** The protocol and PROXY protocol flags onto the reverse pool's builder. */
    static void pool(LauncherOptions o, UpstreamPool.Builder pool) {
        if (o.upstreamProtocol != null) {
            pool.protocol(o.upstreamProtocol);
        }
        if (o.upstreamProxyProtocol != null) {
            pool.proxyProtocol(o.upstreamProxyProtocol);
        }
    }

    /** Upstream TLS and HTTPS inspection onto the builder. */
    static void apply(LauncherOptions o, ProxyServer.Builder b) throws LauncherOptions.UsageException {
        b.upstreamTls(upstreamTls(o));
        if (o.interceptCa != null || o.interceptKeystore != null) {
            Interception i = o.interceptCa != null ? Interception.withCa(o.interceptCa, o.interceptKey)
                    : Interception.withCa(Tls.pkcs12(o.interceptKeystore, Gatehouse.firstLine(
                            o.interceptKeystorePasswordFile, "--intercept-keystore-password-file").toCharArray()));
            if (!o.interceptHosts.isEmpty()) {
                i = i.intercept(o.interceptHosts.toArray(new String[0]));
            }
            if (!o.noInterceptHosts.isEmpty()) {
                i = i.neverIntercept(o.noInterceptHosts.toArray(new String[0]));
            }
            b.intercept(i);
        }
    }

    /** {@code ca --out DIR}: writes a new inspection CA and says how to use it. */
    static void makeCa(String[] args, PrintStream out) throws LauncherOptions.UsageException {
        Path dir = null;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) {
                dir = Path.of(args[++i]);
            } else if (args[i].startsWith("--out=")) {
                dir = Path.of(args[i].substring(6));
            } else {
                throw new LauncherOptions.UsageException("ca: unknown argument " + args[i] + " (expected: ca --out DIR)");
            }
        }
        if (dir == null) {
            throw new LauncherOptions.UsageException("ca: missing --out DIR");
        }
        List<Path> files;
        try {
            files = Interception.writeNewCa(dir, "Gatehouse HTTPS inspection CA");
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new LauncherOptions.UsageException("ca: " + e.getMessage());
        }
        out.println("wrote " + files.get(0) + " (the CA certificate: make the clients trust it)");
        out.println("wrote " + files.get(1) + " (its private key: keep it secret)");
        out.println("use: --intercept-ca " + files.get(0) + " --intercept-key " + files.get(1) + " --intercept-host PATTERN");
        out.flush();
    }
}
