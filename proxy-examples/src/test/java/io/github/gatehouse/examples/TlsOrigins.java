package io.github.gatehouse.examples;

import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Kit origins for the TLS tests: HTTPS with a given key store (ALPN h2 and http/1.1, optionally requiring a client
 * certificate), or cleartext HTTP/1.1 and h2c. Each answers with {@link #page} {@code "<protocol> <target>"}, so a
 * test sees which protocol a request came on.
 */
final class TlsOrigins {
    private TlsOrigins() {
    }

    /** HTTPS and h2, serving the first key entry of {@code keyStore}; started. */
    static MockOrigin https(KeyStore keyStore, char[] password) {
        return MockOrigin.named("tls").useHttps(context(keyStore, password, null)).enableHttp2()
                .dispatcher(TlsOrigins::protocolAndTarget).start();
    }

    /** HTTPS and h2, requiring a client certificate that {@code clientTrust} trusts; started. */
    static MockOrigin mutualTls(KeyStore keyStore, char[] password, KeyStore clientTrust) {
        return MockOrigin.named("mtls").useHttps(context(keyStore, password, clientTrust)).requireClientCertificates()
                .enableHttp2().dispatcher(TlsOrigins::protocolAndTarget).start();
    }

    /** Cleartext HTTP/1.1 and h2c (prior knowledge); started. */
    static MockOrigin cleartext() {
        return MockOrigin.named("h2c").enableHttp2().dispatcher(TlsOrigins::protocolAndTarget).start();
    }

    /** {@code 200}, {@code Cache-Control: max-age=60}, {@code text/html}, with {@code body}. */
    static MockResponse page(String body) {
        return MockResponse.ok().header("Cache-Control", "max-age=60").header("Content-Type", "text/html").body(body);
    }

    /** {@link #page} {@code "<protocol> <target>"}: {@code "HTTP/2.0 /a?b"}. */
    static MockResponse protocolAndTarget(RecordedRequest request) {
        return page(request.protocol() + " " + request.target());
    }

    private static SSLContext context(KeyStore keyStore, char[] password, KeyStore trust) {
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keyStore, password);
            TrustManagerFactory tmf = null;
            if (trust != null) {
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException("cannot make the origin's TLS context", e);
        }
    }
}
