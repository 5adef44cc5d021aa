package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.AccessLogEntry;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testing.MockOrigin;
import io.github.gatehouse.core.testing.MockResponse;
import io.github.gatehouse.core.testing.RecordedRequest;
import io.github.gatehouse.core.testsupport.RecordingAccessLog;
import io.github.gatehouse.core.testsupport.TestCertificates;
import io.github.gatehouse.filter.BasicAuthenticator;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.eclipse.jetty.client.Authentication;
import org.eclipse.jetty.client.BasicAuthentication;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpProxy;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The HTTP clients people put behind a forward proxy, each driven through a real {@link ProxyServer} to a real
 * origin: plain {@code http://} (absolute-form requests) and {@code https://} through a {@code CONNECT} tunnel to
 * a TLS origin, GET and POST with a body, with and without Basic proxy authentication (407, then the retry).
 *
 * <p>Why: Maven 3.8 (Apache HttpClient 4.5) could not download through the proxy over HTTPS, because 4.5 sends
 * {@code CONNECT host:443} with {@code Host: host} and the proxy refused the mismatch. {@link
 * #apacheHttpClient45SendsAConnectWhoseHostLacksThePortAsMavenDoes} replays exactly that with the client itself.
 */
class RealClientsThroughProxyTest {
    private static final String USER = "alice";
    private static final String PASSWORD = "wonder";
    /** For wrong passwords, so that failed logins never lock {@link #USER} out. */
    private static final String OTHER_USER = "bob";
    private static final ExecutorService CLIENT_THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "client");
        t.setDaemon(true);
        return t;
    });

    static MockOrigin origin;
    static MockOrigin tlsOrigin;
    static ProxyServer proxy;
    static ProxyServer authProxy;
    static final RecordingAccessLog accessLog = new RecordingAccessLog();
    static SSLContext trustTestCertificate;
    static X509TrustManager trustManager;

    @BeforeAll
    static void start() throws Exception {
        origin = MockOrigin.named("plain")
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
                .dispatcher(req -> MockResponse.ok("origin plain " + req.path())).start();
        tlsOrigin = MockOrigin.named("tls").useHttps(TestCertificates.serving())
                .serve("/hello", MockResponse.ok("hello"))
                .serve("/echo", req -> MockResponse.ok().header("Content-Type", "application/octet-stream").body(req.body()))
                .dispatcher(req -> MockResponse.ok("origin tls " + req.path())).start();
        proxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(tlsOrigin.port())
                .accessLog(accessLog).build().start();
        authProxy = ProxyServer.builder().forward().allowAllInternalDestinations().connectPorts(tlsOrigin.port())
                .authenticator(BasicAuthenticator.builder().realm("office").user(USER, PASSWORD).user(OTHER_USER, "builder").build())
                .accessLog(accessLog).build().start();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(TestCertificates.keyStore())) {
            ks.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        trustManager = (X509TrustManager) tmf.getTrustManagers()[0];
        trustTestCertificate = SSLContext.getInstance("TLS");
        trustTestCertificate.init(null, tmf.getTrustManagers(), null);
    }

    @AfterAll
    static void stop() throws Exception {
        authProxy.close();
        proxy.close();
        tlsOrigin.close();
        origin.close();
    }

    @BeforeEach
    void clearRecords() throws Exception {
        accessLog.clear();
        origin.beforeEach(null);
        tlsOrigin.beforeEach(null);
    }

    // ---- the clients ------------------------------------------------------------------------------------------

    /** What a client got back. */
    record Reply(int status, String body) {
    }

    /** One client library, configured for one proxy; closed after each test. */
    interface ProxiedClient extends AutoCloseable {
        /** Sends {@code method uri} with {@code body} (null: none) and reads the whole answer. */
        Reply send(String method, URI uri, String body) throws Exception;

        @Override
        void close() throws IOException;
    }

    /** The libraries under test. {@code credentials}: Basic proxy credentials, or null for none. */
    enum Library {
        APACHE_HTTPCLIENT_4_5 {
            @Override
            ProxiedClient open(int proxyPort, String[] credentials) {
                org.apache.http.HttpHost proxyHost = new org.apache.http.HttpHost("127.0.0.1", proxyPort);
                org.apache.http.impl.client.HttpClientBuilder b = org.apache.http.impl.client.HttpClients.custom()
                        .setProxy(proxyHost)
                        .setSSLContext(trustTestCertificate)
                        .setDefaultRequestConfig(org.apache.http.client.config.RequestConfig.custom()
                                .setConnectTimeout(5000).setSocketTimeout(10_000).build());
                if (credentials != null) {
                    org.apache.http.impl.client.BasicCredentialsProvider creds = new org.apache.http.impl.client.BasicCredentialsProvider();
                    creds.setCredentials(new org.apache.http.auth.AuthScope(proxyHost),
                            new org.apache.http.auth.UsernamePasswordCredentials(credentials[0], credentials[1]));
                    b.setDefaultCredentialsProvider(creds);
                }
                return apache45(b.build());
            }
        },
        APACHE_HTTPCLIENT_5 {
            @Override
            ProxiedClient open(int proxyPort, String[] credentials) {
                org.apache.hc.core5.http.HttpHost proxyHost = new org.apache.hc.core5.http.HttpHost("http", "127.0.0.1", proxyPort);
                org.apache.hc.client5.http.impl.classic.HttpClientBuilder b = org.apache.hc.client5.http.impl.classic.HttpClients.custom()
                        .setProxy(proxyHost)
                        .setConnectionManager(org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder.create()
                                .setTlsSocketStrategy(org.apache.hc.client5.http.ssl.ClientTlsStrategyBuilder.create()
                                        .setSslContext(trustTestCertificate).buildClassic())
                                .setDefaultConnectionConfig(org.apache.hc.client5.http.config.ConnectionConfig.custom()
                                        .setConnectTimeout(org.apache.hc.core5.util.Timeout.ofSeconds(5))
                                        .setSocketTimeout(org.apache.hc.core5.util.Timeout.ofSeconds(10)).build())
                                .build());
                if (credentials != null) {
                    b.setDefaultCredentialsProvider(org.apache.hc.client5.http.impl.auth.CredentialsProviderBuilder.create()
                            .add(proxyHost, credentials[0], credentials[1].toCharArray()).build());
                }
                org.apache.hc.client5.http.impl.classic.CloseableHttpClient client = b.build();
                return new ProxiedClient() {
                    @Override
                    public Reply send(String method, URI uri, String body) throws Exception {
                        org.apache.hc.core5.http.ClassicHttpRequest request = new org.apache.hc.core5.http.message.BasicClassicHttpRequest(method, uri);
                        if (body != null) {
                            request.setEntity(new org.apache.hc.core5.http.io.entity.StringEntity(body,
                                    org.apache.hc.core5.http.ContentType.TEXT_PLAIN));
                        }
                        return client.execute(request, response -> new Reply(response.getCode(),
                                org.apache.hc.core5.http.io.entity.EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8)));
                    }

                    @Override
                    public void close() throws IOException {
                        client.close();
                    }
                };
            }
        },
        JAVA_NET_HTTP {
            @Override
            ProxiedClient open(int proxyPort, String[] credentials) {
                java.net.http.HttpClient.Builder b = java.net.http.HttpClient.newBuilder()
                        .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", proxyPort)))
                        .sslContext(trustTestCertificate)
                        .version(java.net.http.HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(5))
                        .executor(CLIENT_THREADS);
                if (credentials != null) {
                    b.authenticator(new java.net.Authenticator() {
                        @Override
                        protected PasswordAuthentication getPasswordAuthentication() {
                            return getRequestorType() == RequestorType.PROXY
                                    ? new PasswordAuthentication(credentials[0], credentials[1].toCharArray()) : null;
                        }
                    });
                }
                java.net.http.HttpClient client = b.build();
                return new ProxiedClient() {
                    @Override
                    public Reply send(String method, URI uri, String body) throws Exception {
                        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                                        : HttpRequest.BodyPublishers.ofString(body))
                                .build();
                        var response = client.send(request, BodyHandlers.ofString());
                        return new Reply(response.statusCode(), response.body());
                    }

                    @Override
                    public void close() {
                        // java.net.http.HttpClient is AutoCloseable only from Java 21; it holds no thread of its own here
                    }
                };
            }
        },
        JETTY_CLIENT {
            @Override
            ProxiedClient open(int proxyPort, String[] credentials) throws Exception {
                SslContextFactory.Client ssl = new SslContextFactory.Client();
                ssl.setSslContext(trustTestCertificate);
                ClientConnector connector = new ClientConnector();
                connector.setSslContextFactory(ssl);
                org.eclipse.jetty.client.HttpClient client = new org.eclipse.jetty.client.HttpClient(new HttpClientTransportOverHTTP(connector));
                QueuedThreadPool threads = new QueuedThreadPool(16, 2);
                threads.setName("client-jetty");
                client.setExecutor(threads);
                client.getProxyConfiguration().addProxy(new HttpProxy("127.0.0.1", proxyPort));
                if (credentials != null) {
                    client.getAuthenticationStore().addAuthentication(new BasicAuthentication(
                            URI.create("http://127.0.0.1:" + proxyPort), Authentication.ANY_REALM, credentials[0], credentials[1]));
                }
                client.start();
                return new ProxiedClient() {
                    @Override
                    public Reply send(String method, URI uri, String body) throws Exception {
                        org.eclipse.jetty.client.Request request = client.newRequest(uri).method(method).timeout(10, TimeUnit.SECONDS);
                        if (body != null) {
                            request.body(new StringRequestContent("text/plain", body));
                        }
                        ContentResponse response = request.send();
                        return new Reply(response.getStatus(), response.getContentAsString());
                    }

                    @Override
                    public void close() throws IOException {
                        try {
                            client.stop();
                        } catch (Exception e) {
                            throw new IOException("jetty-client did not stop", e);
                        }
                    }
                };
            }
        },
        OKHTTP {
            @Override
            ProxiedClient open(int proxyPort, String[] credentials) {
                okhttp3.OkHttpClient.Builder b = new okhttp3.OkHttpClient.Builder()
                        .proxy(new java.net.Proxy(java.net.Proxy.Type.HTTP, new InetSocketAddress("127.0.0.1", proxyPort)))
                        .sslSocketFactory(trustTestCertificate.getSocketFactory(), trustManager)
                        .connectTimeout(Duration.ofSeconds(5))
                        .readTimeout(Duration.ofSeconds(10));
                if (credentials != null) {
                    // OkHttp's documented recipe: answer the 407 once, give up if the credentials were already refused
                    b.proxyAuthenticator((route, response) -> response.request().header("Proxy-Authorization") != null ? null
                            : response.request().newBuilder()
                                    .header("Proxy-Authorization", okhttp3.Credentials.basic(credentials[0], credentials[1]))
                                    .build());
                }
                okhttp3.OkHttpClient client = b.build();
                return new ProxiedClient() {
                    @Override
                    public Reply send(String method, URI uri, String body) throws Exception {
                        okhttp3.Request request = new okhttp3.Request.Builder().url(uri.toURL())
                                .method(method, body == null ? null
                                        : okhttp3.RequestBody.create(body, okhttp3.MediaType.get("text/plain; charset=utf-8")))
                                .build();
                        try (okhttp3.Response response = client.newCall(request).execute()) {
                            return new Reply(response.code(), response.body().string());
                        }
                    }

                    @Override
                    public void close() {
                        client.dispatcher().executorService().shutdown();
                        client.connectionPool().evictAll();
                    }
                };
            }
        };

        abstract ProxiedClient open(int proxyPort, String[] credentials) throws Exception;
    }

    private static ProxiedClient apache45(org.apache.http.impl.client.CloseableHttpClient client) {
        return new ProxiedClient() {
            @Override
            public Reply send(String method, URI uri, String body) throws Exception {
                org.apache.http.client.methods.HttpRequestBase request;
                if (body == null) {
                    request = new org.apache.http.client.methods.HttpGet(uri);
                } else {
                    org.apache.http.client.methods.HttpPost post = new org.apache.http.client.methods.HttpPost(uri);
                    post.setEntity(new org.apache.http.entity.StringEntity(body, org.apache.http.entity.ContentType.TEXT_PLAIN));
                    request = post;
                }
                try (org.apache.http.client.methods.CloseableHttpResponse response = client.execute(request)) {
                    return new Reply(response.getStatusLine().getStatusCode(),
                            org.apache.http.util.EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8));
                }
            }

            @Override
            public void close() throws IOException {
                client.close();
            }
        };
    }

    // ---- the cases --------------------------------------------------------------------------------------------

    static Stream<Arguments> everyLibraryOverBothSchemes() {
        return Stream.of(Library.values()).flatMap(l -> Stream.of(Arguments.of(l, "http"), Arguments.of(l, "https")));
    }

    private static MockOrigin originFor(String scheme) {
        return scheme.equals("https") ? tlsOrigin : origin;
    }

    private static String authority(MockOrigin server) {
        return "127.0.0.1:" + server.port();
    }

    /** A body big enough to span several reads, with a recognisable end. */
    private static String body() {
        return "line of a request body\n".repeat(2000) + "end";
    }

    @ParameterizedTest
    @EnumSource(Library.class)
    void aGetOverHttpGoesInAbsoluteFormAndTheOriginSeesOneHostEqualToTheTarget(Library library) throws Exception {
        try (ProxiedClient client = library.open(proxy.port(), null)) {
            Reply reply = client.send("GET", origin.uri("/hello?from=" + library), null);

            assertThat(reply).isEqualTo(new Reply(200, "hello"));
        }
        RecordedRequest received = origin.takeRequest();
        assertThat(received.method()).isEqualTo("GET");
        assertThat(received.target()).isEqualTo("/hello?from=" + library);
        assertThat(received.headers("Host")).containsExactly(authority(origin));
        assertThat(received.headers().asList().stream().map(f -> f.name()).toList())
                .noneMatch(n -> n.equalsIgnoreCase("Proxy-Connection") || n.equalsIgnoreCase("Proxy-Authorization"));
        AccessLogEntry entry = accessLog.take("from=" + library);
        assertThat(entry.method()).isEqualTo("GET");
        assertThat(entry.target()).isEqualTo(origin.baseUrl() + "/hello?from=" + library);
        assertThat(entry.status()).isEqualTo(200);
    }

    @ParameterizedTest
    @EnumSource(Library.class)
    void aGetOverHttpsGoesThroughAConnectTunnelToTheTlsOrigin(Library library) throws Exception {
        try (ProxiedClient client = library.open(proxy.port(), null)) {
            Reply reply = client.send("GET", tlsOrigin.uri("/hello?from=" + library), null);

            assertThat(reply).isEqualTo(new Reply(200, "hello"));
        }
        RecordedRequest received = tlsOrigin.takeRequest();
        assertThat(received.method()).isEqualTo("GET");
        assertThat(received.target()).isEqualTo("/hello?from=" + library);
        assertThat(received.headers("Host")).containsExactly(authority(tlsOrigin));
        if (library == Library.JAVA_NET_HTTP) {
            // a tunnel is logged when it closes, and Java 17's HttpClient keeps its pooled connection open (it has no
            // close() before Java 21): the CONNECT itself is proven by the TLS origin having answered through it
            return;
        }
        AccessLogEntry entry = accessLog.take(authority(tlsOrigin));
        assertThat(entry.method()).isEqualTo("CONNECT");
        assertThat(entry.target()).isEqualTo(authority(tlsOrigin));
        assertThat(entry.status()).isEqualTo(200);
    }

    @ParameterizedTest(name = "{0} over {1}")
    @MethodSource("everyLibraryOverBothSchemes")
    void aPostWithABodyArrivesWholeAndIsEchoedBack(Library library, String scheme) throws Exception {
        MockOrigin target = originFor(scheme);
        String body = body();
        try (ProxiedClient client = library.open(proxy.port(), null)) {
            Reply reply = client.send("POST", target.uri("/echo"), body);

            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.body()).isEqualTo(body);
        }
        RecordedRequest received = target.takeRequest();
        assertThat(received.method()).isEqualTo("POST");
        assertThat(received.target()).isEqualTo("/echo");
        assertThat(received.bodySize()).isEqualTo(body.length());
        assertThat(received.headers("Host")).containsExactly(authority(target));
    }

    static Stream<Arguments> everyLibraryThatAuthenticatesToTheProxyOverBothSchemes() {
        // java.net.http over https: see javaNetHttpKeepsBasicOutOfTunnelsUnlessTold (JDK default)
        return everyLibraryOverBothSchemes().filter(a -> !a.get()[0].equals(Library.JAVA_NET_HTTP) || a.get()[1].equals("http"));
    }

    @ParameterizedTest(name = "{0} over {1}")
    @MethodSource("everyLibraryThatAuthenticatesToTheProxyOverBothSchemes")
    void proxyAuthenticationIsChallengedWith407AndTheRetryWithCredentialsGoesThrough(Library library, String scheme)
            throws Exception {
        MockOrigin target = originFor(scheme);
        String body = body();
        try (ProxiedClient client = library.open(authProxy.port(), new String[] {USER, PASSWORD})) {
            Reply reply = client.send("POST", target.uri("/echo"), body);

            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.body()).isEqualTo(body);
        }
        RecordedRequest received = target.takeRequest();
        assertThat(received.method()).isEqualTo("POST");
        assertThat(received.bodySize()).isEqualTo(body.length());
        assertThat(received.headers().asList().stream().map(f -> f.name()).toList()).noneMatch(n -> n.equalsIgnoreCase("Proxy-Authorization"));
        assertThat(target.requestCount()).isEqualTo(1);

        String logged = scheme.equals("https") ? authority(target) : target.baseUrl() + "/echo";
        // OkHttp answers the tunnel's challenge before it comes: its CONNECT carries the credentials at once
        boolean preemptive = library == Library.OKHTTP && scheme.equals("https");
        if (!preemptive) {
            AccessLogEntry challenge = accessLog.take(authority(target));
            assertThat(challenge.target()).isEqualTo(logged);
            assertThat(challenge.status()).isEqualTo(407);
            assertThat(challenge.userName()).isEmpty();
        }
        AccessLogEntry retry = accessLog.take(authority(target));
        assertThat(retry.target()).isEqualTo(logged);
        assertThat(retry.status()).isEqualTo(200);
        assertThat(retry.userName()).contains(USER);
    }

    @Test
    void apacheHttpClient45WithWrongProxyCredentialsEndsWithThe407AndNothingReachesTheOrigin() throws Exception {
        try (ProxiedClient client = Library.APACHE_HTTPCLIENT_4_5.open(authProxy.port(), new String[] {OTHER_USER, "not-her-password"})) {
            Reply reply = client.send("GET", origin.uri("/hello"), null);

            assertThat(reply.status()).isEqualTo(407);
            assertThat(reply.body()).isEqualTo("407 invalid user name or password for realm office\n");
        }
        assertThat(origin.requestCount()).isZero();
    }

    @Test
    void javaNetHttpWithWrongProxyCredentialsGivesUpAfterItsRetriesAndNothingReachesTheOrigin() throws Exception {
        try (ProxiedClient client = Library.JAVA_NET_HTTP.open(authProxy.port(), new String[] {OTHER_USER, "not-her-password"})) {
            assertThatThrownBy(() -> client.send("GET", origin.uri("/hello"), null))
                    .isInstanceOf(IOException.class).hasMessageContaining("too many authentication attempts");
        }
        assertThat(origin.requestCount()).isZero();
    }

    /**
     * The JDK disables Basic for proxy tunnels ({@code jdk.http.auth.tunneling.disabledSchemes=Basic} in
     * {@code net.properties}): java.net.http hands the proxy's 407 for the CONNECT to the caller. Given
     * {@code -Djdk.http.auth.tunneling.disabledSchemes=} it authenticates the tunnel like any other client; that
     * property is read once per JVM, so that half runs in a JVM of its own.
     */
    @Test
    void javaNetHttpKeepsBasicOutOfTunnelsUnlessTold() throws Exception {
        try (ProxiedClient client = Library.JAVA_NET_HTTP.open(authProxy.port(), new String[] {USER, PASSWORD})) {
            Reply reply = client.send("GET", tlsOrigin.uri("/hello"), null);

            assertThat(reply.status()).isEqualTo(407);
        }
        assertThat(tlsOrigin.requestCount()).isZero();

        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classes = Path.of(JavaNetHttpTunnelProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        Process probe = new ProcessBuilder(javaBin, "-Djdk.http.auth.tunneling.disabledSchemes=",
                "-Djavax.net.ssl.trustStore=" + TestCertificates.keyStore(), "-Djavax.net.ssl.trustStorePassword=changeit",
                "-Djavax.net.ssl.trustStoreType=PKCS12", "-cp", classes, JavaNetHttpTunnelProbe.class.getName(),
                String.valueOf(authProxy.port()), tlsOrigin.uri("/hello").toString(), USER, PASSWORD)
                .redirectErrorStream(true).start();
        String output = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(output).isEqualTo("200 hello\n");
        assertThat(tlsOrigin.takeRequest().target()).isEqualTo("/hello");
    }

    /** {@code main(proxyPort, url, user, password)}: one java.net.http GET through the proxy, prints "STATUS BODY". */
    static final class JavaNetHttpTunnelProbe {
        public static void main(String[] args) throws Exception {
            java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder()
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0]))))
                    .version(java.net.http.HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(5))
                    .authenticator(new java.net.Authenticator() {
                        @Override
                        protected PasswordAuthentication getPasswordAuthentication() {
                            return new PasswordAuthentication(args[2], args[3].toCharArray());
                        }
                    })
                    .build();
            var response = client.send(HttpRequest.newBuilder(URI.create(args[1])).timeout(Duration.ofSeconds(10)).build(),
                    BodyHandlers.ofString());
            System.out.print(response.statusCode() + " " + response.body() + "\n");
        }
    }

    /**
     * Maven 3.8's case, with the client that had it: a URL without a port, so Apache HttpClient 4.5 sends the
     * CONNECT target with the port its scheme resolver gives and {@code Host} without it. Here the resolver gives
     * the TLS origin's ephemeral port where it would give 443.
     */
    @Test
    void apacheHttpClient45SendsAConnectWhoseHostLacksThePortAsMavenDoes() throws Exception {
        for (ProxyServer through : List.of(proxy, authProxy)) {
            org.apache.http.HttpHost proxyHost = new org.apache.http.HttpHost("127.0.0.1", through.port());
            org.apache.http.impl.client.BasicCredentialsProvider creds = new org.apache.http.impl.client.BasicCredentialsProvider();
            creds.setCredentials(new org.apache.http.auth.AuthScope(proxyHost),
                    new org.apache.http.auth.UsernamePasswordCredentials(USER, PASSWORD));
            org.apache.http.conn.SchemePortResolver tlsOriginPort = host -> host.getPort() > 0 ? host.getPort() : tlsOrigin.port();
            try (ProxiedClient client = apache45(org.apache.http.impl.client.HttpClients.custom()
                    .setProxy(proxyHost)
                    .setSSLContext(trustTestCertificate)
                    .setSchemePortResolver(tlsOriginPort)
                    .setDefaultCredentialsProvider(creds)
                    .build())) {
                Reply reply = client.send("GET", URI.create("https://127.0.0.1/hello"), null);

                assertThat(reply).isEqualTo(new Reply(200, "hello"));
            }
            RecordedRequest received = tlsOrigin.takeRequest();
            assertThat(received.target()).isEqualTo("/hello");
            assertThat(received.headers("Host")).containsExactly("127.0.0.1"); // as the client sent it
            AccessLogEntry entry = accessLog.take(authority(tlsOrigin));
            if (through == authProxy) {
                // two lines: the 407 and the tunnel's. The tunnel's is written when it closes, and a loaded machine
                // may complete the 407's write after that, so their order in the log is not part of the contract.
                AccessLogEntry other = accessLog.take(authority(tlsOrigin));
                AccessLogEntry challenge = entry.status() == 407 ? entry : other;
                entry = entry.status() == 407 ? other : entry;
                assertThat(challenge.status()).isEqualTo(407);
                assertThat(challenge.method()).isEqualTo("CONNECT");
            }
            assertThat(entry.method()).isEqualTo("CONNECT");
            assertThat(entry.target()).isEqualTo(authority(tlsOrigin));
            assertThat(entry.status()).isEqualTo(200);
        }
    }
}
