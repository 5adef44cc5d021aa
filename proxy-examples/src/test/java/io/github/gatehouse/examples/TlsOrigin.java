package io.github.gatehouse.examples;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A test origin on loopback: HTTPS with a given key store (ALPN h2 and http/1.1, optionally requiring a client
 * certificate), or cleartext HTTP/1.1 and h2c. It answers {@code GET /path} with {@code "<protocol> <path>"} and
 * {@code Cache-Control: max-age=60}, and records each request's protocol, path and client certificate subject.
 */
final class TlsOrigin implements AutoCloseable {
    /** One request the origin received. */
    record Seen(String protocol, String path, String clientCertificate, String userAgent, int clientPort) {
    }

    private final Server server = new Server(new QueuedThreadPool(32, 2, 60_000));
    private final ServerConnector connector;
    private final BlockingQueue<Seen> seen = new LinkedBlockingQueue<>();
    private volatile String body = null;
    private volatile int holdFor;
    private final List<Runnable> held = new ArrayList<>();

    private TlsOrigin(boolean tls, KeyStore keyStore, char[] password, KeyStore clientTrust) throws Exception {
        HttpConfiguration http = new HttpConfiguration();
        if (tls) {
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setKeyStore(keyStore);
            ssl.setKeyStorePassword(new String(password));
            if (clientTrust != null) {
                ssl.setTrustStore(clientTrust);
                ssl.setNeedClientAuth(true);
            }
            SecureRequestCustomizer secure = new SecureRequestCustomizer(false);
            http.addCustomizer(secure);
            ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
            alpn.setDefaultProtocol("http/1.1");
            connector = new ServerConnector(server, new SslConnectionFactory(ssl, alpn.getProtocol()), alpn,
                    new HTTP2ServerConnectionFactory(http), new HttpConnectionFactory(http));
        } else {
            connector = new ServerConnector(server, new HttpConnectionFactory(http), new HTTP2CServerConnectionFactory(http));
        }
        connector.setHost("127.0.0.1");
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                String subject = null;
                Object ssl = request.getAttribute(org.eclipse.jetty.io.EndPoint.SslSessionData.ATTRIBUTE);
                if (ssl instanceof org.eclipse.jetty.io.EndPoint.SslSessionData data && data.peerCertificates() != null
                        && data.peerCertificates().length > 0) {
                    subject = data.peerCertificates()[0].getSubjectX500Principal().getName();
                }
                String protocol = request.getConnectionMetaData().getProtocol();
                seen.add(new Seen(protocol, request.getHttpURI().getPathQuery(), subject,
                        request.getHeaders().get("User-Agent"),
                        ((java.net.InetSocketAddress) request.getConnectionMetaData().getRemoteSocketAddress()).getPort()));

                response.getHeaders().put("Cache-Control", "max-age=60");
                response.getHeaders().put("Content-Type", "text/html");
                String text = body != null ? body : protocol + " " + request.getHttpURI().getPathQuery();
                Runnable answer = () -> response.write(true, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), callback);
                if (holdFor > 0) {
                    // held, without blocking a thread, until every expected request has arrived (a multiplexing test)
                    List<Runnable> release = null;
                    synchronized (held) {
                        held.add(answer);
                        if (held.size() >= holdFor) {
                            release = new ArrayList<>(held);
                            held.clear();
                        }
                    }
                    if (release != null) {
                        release.forEach(Runnable::run);
                    }
                    return true;
                }
                answer.run();
                return true;
            }
        });
        server.start();
    }

    /** HTTPS, serving the first key entry of {@code keyStore}. */
    static TlsOrigin https(KeyStore keyStore, char[] password) throws Exception {
        return new TlsOrigin(true, keyStore, password, null);
    }

    /** HTTPS requiring a client certificate that {@code clientTrust} trusts. */
    static TlsOrigin mutualTls(KeyStore keyStore, char[] password, KeyStore clientTrust) throws Exception {
        return new TlsOrigin(true, keyStore, password, clientTrust);
    }

    /** Cleartext HTTP/1.1 and h2c (prior knowledge). */
    static TlsOrigin cleartext() throws Exception {
        return new TlsOrigin(false, null, null, null);
    }

    /** Answers every request with {@code text} from now on. */
    TlsOrigin body(String text) {
        this.body = text;
        return this;
    }

    /** Holds each request until {@code count} requests are in the origin at once. */
    TlsOrigin holdUntil(int count) {
        this.holdFor = count;
        return this;
    }

    int port() {
        return connector.getLocalPort();
    }

    /** The next request received (blocks until one arrives). */
    Seen take() throws InterruptedException {
        return seen.take();
    }

    /** Requests received and not taken yet. */
    int pending() {
        return seen.size();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
