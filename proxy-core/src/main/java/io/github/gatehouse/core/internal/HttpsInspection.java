package io.github.gatehouse.core.internal;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import io.github.gatehouse.core.Interception;
import io.github.gatehouse.core.UpstreamTls;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTPS inspection: a {@code CONNECT} to an intercepted host, admitted by phases 1 to 4, comes here instead of the
 * byte tunnel. The origin is checked first, with a TLS handshake of our own verified as upstream TLS is (the JDK's
 * roots plus the extra ones, endpoint identification); a failure is the {@code CONNECT}'s answer (502, naming the
 * reason) and no tunnel opens. Then the client gets {@code 200}, and its connection becomes a TLS server connection
 * (an {@link SslConnection}, then ALPN choosing h2 or http/1.1) whose certificate is minted for the client's SNI name
 * (else the {@code CONNECT} host) with the origin certificate's names. The connections inside belong to a connector of
 * the proxy's own server that listens on nothing, so each inner request goes through the same handler chain and relay
 * as any other; {@link #tunnelOf} tells the relay it is one (scheme {@code https}, the {@code CONNECT}'s authority and
 * user).
 *
 * <p><b>Threading.</b> Thread-safe. The origin check blocks, so it runs on a small pool of its own (bounded, like the
 * queue in front of it), never on an I/O thread.
 */
final class HttpsInspection {
    private static final Logger LOG = LoggerFactory.getLogger(HttpsInspection.class);
    /** The inner connections' decrypted endpoints, each to the tunnel it is in. */
    private static final ConcurrentMap<EndPoint, Inner> TUNNELS = new ConcurrentHashMap<>();

    /** What the relay knows of an intercepted tunnel, for each request inside it. */
    record Inner(String host, int port, String user, String connectId) {
        /** The authority as a URL writes it. */
        String authority() {
            String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
            return port == 443 ? h : h + ":" + port;
        }
    }

    /** What the origin check found: the names of the origin's certificate. */
    private record Origin(List<String> names) {
    }

    private final Interception interception;
    private final UpstreamTls upstreamTls;
    private final DestinationPolicy policy;
    private final Answers answers;
    private final int connectTimeoutMillis;
    private final CertificateMinter minter;
    private final SslContextFactory.Server serverSsl;
    private final SSLContext probeContext;
    private final ExecutorService probes;
    /** Origins checked lately, by host:port: minting needs their names; a tunnel still checks its origin again. */
    private final Cache<String, Origin> origins = CacheBuilder.newBuilder().maximumSize(10_000)
            .expireAfterWrite(10, TimeUnit.MINUTES).build();
    private volatile Connector innerConnector;

    HttpsInspection(Interception interception, UpstreamTls upstreamTls, DestinationPolicy policy, Answers answers,
            int connectTimeoutMillis) {
        this.interception = interception;
        this.upstreamTls = upstreamTls;
        this.policy = policy;
        this.answers = answers;
        this.connectTimeoutMillis = connectTimeoutMillis;
        TlsMaterial.Loaded ca = TlsMaterial.load(ApiAccess.caSources(interception).subList(0, 1));
        try {
            String alias = ca.aliases().get(0);
            PrivateKey key = (PrivateKey) ca.keyStore().getKey(alias, ca.password());
            X509Certificate cert = (X509Certificate) ca.keyStore().getCertificate(alias);
            if (cert.getBasicConstraints() < 0) {
                throw new IllegalArgumentException(interception.caFiles() + ": the certificate is not a CA (basic constraints"
                        + " CA:false); expected one made by 'gatehouse.jar ca --out DIR'");
            }
            this.minter = new CertificateMinter(key, cert, interception.mintedCertificateCacheSize());
            SSLContext minting = SSLContext.getInstance("TLS");
            minting.init(new KeyManager[] {new MintingKeyManager()}, null, null);
            this.serverSsl = new SslContextFactory.Server();
            serverSsl.setSslContext(minting);
            serverSsl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
            this.probeContext = probeContext(upstreamTls);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot set up HTTPS inspection: " + e.getMessage(), e);
        }
        ThreadPoolExecutor pool = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024), r -> {
            Thread t = new Thread(r, "gatehouse-inspection-check");
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        this.probes = pool;
    }

    /** The TLS server side of inner connections, to start with the server. */
    SslContextFactory.Server serverSsl() {
        return serverSsl;
    }

    /** The connector that owns inner connections (listens on nothing); set before the server starts. */
    void innerConnector(Connector connector) {
        this.innerConnector = connector;
    }

    void stop() {
        probes.shutdownNow();
    }

    /** The tunnel a request arrived in, or null for a request that is not inside an intercepted tunnel. */
    static Inner tunnelOf(Request request) {
        if (TUNNELS.isEmpty()) {
            return null;
        }
        Connection c = request.getConnectionMetaData().getConnection();
        return c == null ? null : TUNNELS.get(c.getEndPoint());
    }

    /** Whether the {@code CONNECT} of {@code x} is to be intercepted. */
    boolean intercepts(ExchangeContext x) {
        return interception.intercepts(x.exchange.requestImpl().host());
    }

    /** Checks the origin, then answers the {@code CONNECT} and turns the client's connection into TLS; or refuses. */
    ExchangeDriver.Step open(ExchangeContext x) {
        RequestHeadImpl head = x.exchange.requestImpl();
        String host = head.host();
        int port = head.port();
        x.exchange.upstream(head.authority());
        try {
            probes.execute(() -> {
                Object result;
                try {
                    result = check(host, port);
                } catch (Throwable t) {
                    result = t;
                }
                Object r = result;
                if (r instanceof Origin) {
                    origins.put(host + ":" + port, (Origin) r);
                    intercept(x, host, port);
                } else {
                    refuse(x, host, port, (Throwable) r);
                }
            });
        } catch (RejectedExecutionException e) {
            return answers.answer(x, 503, "too many HTTPS inspection checks waiting", "proxy_internal_error", null, true);
        }
        return ExchangeDriver.Step.DONE;
    }

    /** A TLS handshake with the origin, verified; blocking, on the check pool. */
    private Origin check(String host, int port) throws Exception {
        String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        InetAddress address = InetAddress.getByName(bare);
        InetSocketAddress target = new InetSocketAddress(address, port);
        if (!policy.allows(target)) {
            throw new DestinationPolicy.DeniedDestinationException(host, port, address);
        }
        try (Socket raw = new Socket()) {
            raw.connect(target, connectTimeoutMillis);
            raw.setSoTimeout(connectTimeoutMillis);
            try (SSLSocket tls = (SSLSocket) probeContext.getSocketFactory().createSocket(raw, bare, port, false)) {
                SSLParameters p = tls.getSSLParameters();
                if (upstreamTls.verifies()) {
                    p.setEndpointIdentificationAlgorithm("HTTPS");
                }
                String sni = upstreamTls.serverName().orElse(CertificateMinter.isIpLiteral(bare) ? null : bare);
                if (sni != null) {
                    p.setServerNames(List.of(new SNIHostName(sni)));
                }
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                tls.setSSLParameters(p);
                tls.startHandshake();
                X509Certificate leaf = (X509Certificate) tls.getSession().getPeerCertificates()[0];
                return new Origin(names(leaf));
            }
        }
    }

    private static List<String> names(X509Certificate leaf) throws java.security.cert.CertificateParsingException {
        List<String> names = new ArrayList<>();
        Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
        if (sans != null) {
            for (List<?> san : sans) {
                int type = (Integer) san.get(0);
                if (type == 2 || type == 7) { // dNSName, iPAddress
                    names.add(String.valueOf(san.get(1)).toLowerCase(Locale.ROOT));
                }
            }
        }
        return names;
    }

    private void refuse(ExchangeContext x, String host, int port, Throwable failure) {
        Failures.Classified c = Failures.classify(failure);
        String problem = Failures.certificateProblem(failure);
        if (Failures.isDeniedDestination(failure)) {
            x.exchange.deny();
        }
        String reason = c.status() == 403 ? c.description()
                : host + ":" + port + ": " + (problem != null ? "the origin's TLS certificate does not verify: " + problem
                        : c.description());
        LOG.warn("{} HTTPS inspection of {}:{} refused: {} (no tunnel opened)", x.exchange.id(), host, port,
                problem != null ? "certificate does not verify: " + problem : Failures.describe(failure));
        x.exchange.reason(reason);
        answers.answer(x, c.status(), reason, problem != null ? "tls_certificate_error" : c.proxyStatusError(), null, true);
    }

    /** Answers 200 and puts TLS, with a minted certificate, on the client's connection. */
    private void intercept(ExchangeContext x, String host, int port) {
        Request request = x.request;
        try {
            EndPoint endPoint = request.getTunnelSupport().getEndPoint();
            Connector connector = innerConnector;
            SSLEngine engine = serverSsl.newSSLEngine(host, port); // the peer host tells the key manager the CONNECT host
            engine.setUseClientMode(false);
            SslConnection ssl = new SslConnection(connector.getByteBufferPool(), connector.getExecutor(), endPoint, engine,
                    false, false);
            ssl.setRenegotiationAllowed(false);
            EndPoint decrypted = ssl.getSslEndPoint();
            Connection next = connector.getConnectionFactory("alpn").newConnection(connector, decrypted);
            decrypted.setConnection(next);
            Inner inner = new Inner(host, port, x.exchange.user().orElse(null), x.exchange.id());
            TUNNELS.put(decrypted, inner);
            ssl.addEventListener(new Connection.Listener() {
                @Override
                public void onClosed(Connection connection) {
                    TUNNELS.remove(decrypted);
                    x.tunnelClosed(ssl.getBytesIn(), ssl.getBytesOut(), null);
                }
            });
            request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, ssl);
            if (!HttpVersion.HTTP_2.is(request.getConnectionMetaData().getProtocol())) {
                request.addHttpStreamWrapper(stream -> new Established(stream, endPoint));
            }
            x.moveTo(RelayState.TUNNEL);
            x.response.setStatus(HttpStatus.OK_200);
            x.tunnelEstablished(HttpStatus.OK_200);
            LOG.debug("{} CONNECT {}:{} intercepted", x.exchange.id(), host, port);
            x.succeeded();
        } catch (Throwable t) {
            LOG.error("{} HTTPS inspection of {}:{} failed to start", x.exchange.id(), host, port, t);
            answers.answer(x, 500, "HTTPS inspection failed to start", "proxy_internal_error", null, true);
        }
    }

    private static SSLContext probeContext(UpstreamTls tls) throws java.security.GeneralSecurityException {
        SSLContext ctx = SSLContext.getInstance("TLS");
        TrustManager[] trust;
        if (!tls.verifies()) {
            LOG.warn("HTTPS INSPECTION WITHOUT ORIGIN VERIFICATION: upstream TLS verification is off, so inspected clients "
                    + "are shown a valid certificate for any origin, genuine or not; never use this outside a test bench");
            trust = new TrustManager[] {new javax.net.ssl.X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }};
        } else {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(tls.trustedRoots().isEmpty() ? null : UpstreamClients.trustStore(tls));
            trust = tmf.getTrustManagers();
        }
        ctx.init(null, trust, null);
        return ctx;
    }

    /**
     * Writes the {@code 200} head to the client's endpoint without a body length (RFC 9110 §9.3.6), as the byte
     * tunnel does; Jetty then hands the endpoint to the TLS connection.
     */
    private static final class Established extends HttpStream.Wrapper {
        private final EndPoint endPoint;

        Established(HttpStream wrapped, EndPoint endPoint) {
            super(wrapped);
            this.endPoint = endPoint;
        }

        @Override
        public void send(MetaData.Request request, MetaData.Response response, boolean last, ByteBuffer content,
                Callback callback) {
            if (response == null || response.getStatus() != HttpStatus.OK_200) {
                super.send(request, response, last, content, callback);
                return;
            }
            String version = response.getHttpVersion() == HttpVersion.HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1";
            endPoint.write(callback, ByteBuffer.wrap((version + " 200 Connection established\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1)));
        }
    }

    /**
     * Chooses, for each inner TLS handshake, a certificate minted for the client's SNI name, or for the {@code CONNECT}
     * host (the engine's peer host) when it sent none; the alias names both, and the certificate is minted when first
     * asked for.
     */
    private final class MintingKeyManager extends X509ExtendedKeyManager {
        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            if (keyType != null && !keyType.startsWith("EC")) {
                return null; // the minted keys are EC P-256
            }
            String name = null;
            SSLSession handshake = engine.getHandshakeSession();
            if (handshake instanceof ExtendedSSLSession) {
                for (SNIServerName n : ((ExtendedSSLSession) handshake).getRequestedServerNames()) {
                    if (n instanceof SNIHostName) {
                        name = ((SNIHostName) n).getAsciiName();
                    }
                }
            }
            String connectTarget = engine.getPeerHost() + ":" + engine.getPeerPort();
            return (name != null ? name : bare(engine.getPeerHost())) + "|" + connectTarget;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return minted(alias).chain();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return minted(alias).key();
        }

        private CertificateMinter.Minted minted(String alias) {
            int bar = alias.indexOf('|');
            Origin origin = origins.getIfPresent(alias.substring(bar + 1));
            return minter.mint(alias.substring(0, bar), origin == null ? List.of() : origin.names());
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }

    private static String bare(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

}
