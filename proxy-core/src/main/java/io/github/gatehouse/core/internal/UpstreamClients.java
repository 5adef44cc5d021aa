package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamProtocol;
import io.github.gatehouse.core.UpstreamTls;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which jetty-client {@link HttpClient} (and request version) carries an exchange upstream: the forward client for
 * forward exchanges, else one client per distinct (TLS settings, protocol) of the reverse pools. A pool that names no
 * TLS of its own uses the server's ({@code ProxyServer.Builder#upstreamTls}); pools with equal settings share a
 * client, so each member keeps one connection pool (multiplexed over h2). Clients for pools seen before the start are
 * made and started with the server; a pool first seen later gets its client then.
 *
 * <p>Also makes the {@link SslContextFactory.Client} for a {@link UpstreamTls}: the JDK's trust anchors plus the
 * extra roots, endpoint identification ({@code HTTPS}) on, the client certificate, the SNI name.
 *
 * <p><b>Threading.</b> Thread-safe.
 */
final class UpstreamClients {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamClients.class);

    /** The client for one exchange and the HTTP version its requests are sent with. */
    record Choice(HttpClient client, HttpVersion version) {
    }

    /**
     * What makes two pools' clients different. Pools that send PROXY protocol headers get clients of their own: their
     * destinations (one per client address) are dropped once idle.
     */
    record Spec(UpstreamTls tls, UpstreamProtocol protocol, boolean proxyProtocol) {
        Spec(UpstreamTls tls, UpstreamProtocol protocol) {
            this(tls, protocol, false);
        }
    }

    private final UpstreamTls defaultTls;
    private volatile Choice forward;
    private final Function<Spec, HttpClient> factory;
    private final Map<Spec, Choice> clients = new ConcurrentHashMap<>();

    /**
     * @param factory makes and starts a client for a spec (the server's upstream client settings with that spec's
     *     TLS and transport)
     */
    UpstreamClients(UpstreamTls defaultTls, HttpClient forward, Function<Spec, HttpClient> factory) {
        this.defaultTls = defaultTls;
        this.forward = forward == null ? null : new Choice(forward, HttpVersion.HTTP_1_1);
        this.factory = factory;
    }

    /** {@code client} serves pools of {@code spec} (the reverse client the server made with the server's settings). */
    void register(Spec spec, HttpClient client) {
        clients.put(spec, new Choice(client, HttpVersion.HTTP_1_1));
    }

    /** A reconfiguration that made the proxy a forward proxy too: its new forward client. */
    void forward(HttpClient client) {
        this.forward = new Choice(client, HttpVersion.HTTP_1_1);
    }

    /** The forward proxy's client (HTTP/1.1, TLS with the server's upstream settings). */
    Choice forward() {
        return forward;
    }

    /** The client for {@code pool}'s members. */
    Choice forPool(UpstreamPool pool) {
        Spec spec = new Spec(pool.tls().orElse(defaultTls), pool.protocol(), pool.proxyProtocol().isPresent());
        Choice c = clients.get(spec);
        return c != null ? c : clients.computeIfAbsent(spec, s -> new Choice(factory.apply(s),
                s.protocol() == UpstreamProtocol.HTTP_1_1 ? HttpVersion.HTTP_1_1 : HttpVersion.HTTP_2));
    }

    /** Every client made so far. */
    List<HttpClient> all() {
        List<HttpClient> list = new ArrayList<>();
        if (forward != null) {
            list.add(forward.client());
        }
        clients.values().forEach(c -> list.add(c.client()));
        return list;
    }

    /**
     * The TLS client side for {@code tls}: trust anchors, endpoint identification, client key, SNI.
     *
     * @throws IllegalArgumentException if a file cannot be used
     */
    static SslContextFactory.Client sslContextFactory(UpstreamTls tls) {
        SslContextFactory.Client ssl = new SslContextFactory.Client();
        if (!tls.verifies()) {
            LOG.warn("UPSTREAM TLS VERIFICATION IS OFF ({}): upstream certificates are not checked at all, anyone on the "
                    + "path can read and change this traffic; never use this outside a test bench", tls);
            ssl.setTrustAll(true);
            ssl.setEndpointIdentificationAlgorithm(null);
        } else {
            ssl.setEndpointIdentificationAlgorithm("HTTPS");
            if (!tls.trustedRoots().isEmpty()) {
                ssl.setTrustStore(trustStore(tls));
            }
        }
        List<TlsMaterial.Source> client = ApiAccess.clientSources(tls);
        if (!client.isEmpty()) {
            TlsMaterial.Loaded loaded = TlsMaterial.load(client.subList(0, 1));
            ssl.setKeyStore(loaded.keyStore());
            ssl.setKeyStorePassword(new String(loaded.password()));
            ssl.setCertAlias(loaded.aliases().get(0));
        }
        tls.serverName().ifPresent(name -> {
            SNIHostName sni = new SNIHostName(name);
            ssl.setSNIProvider((engine, names) -> List.of(sni));
        });
        ssl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        return ssl;
    }

    /** The JDK's default trust anchors plus the extra roots of {@code tls}. */
    static KeyStore trustStore(UpstreamTls tls) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init((KeyStore) null);
            int n = 0;
            for (javax.net.ssl.TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager) {
                    for (X509Certificate c : ((X509TrustManager) tm).getAcceptedIssuers()) {
                        ks.setCertificateEntry("jdk-" + n++, c);
                    }
                }
            }
            for (java.nio.file.Path p : tls.trustedRoots()) {
                int i = 0;
                for (X509Certificate c : TlsMaterial.readCertificates(p)) {
                    ks.setCertificateEntry("extra-" + p.getFileName() + "-" + i++, c);
                }
            }
            return ks;
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new IllegalArgumentException("cannot build the upstream trust store: " + e.getMessage(), e);
        }
    }
}
