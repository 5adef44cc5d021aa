/**
 * Gatehouse core: the proxy server, its builder, the relay and the SPIs (filters, authenticators, cache, access
 * log, load balancing) that the sibling modules implement.
 *
 * <p>Exported: {@code io.github.gatehouse.core} (the API), {@code .metrics} (Micrometer binding, optional),
 * {@code .cluster} (several instances on Hazelcast, optional) and {@code .testing} (the testing kit; JUnit 5
 * optional). {@code io.github.gatehouse.core.internal} is the implementation, open only to the sibling modules.
 * Optional dependencies are {@code requires static}: they are needed at run time only by the feature that uses
 * them.
 */
module io.github.gatehouse.core {
    requires transitive org.eclipse.jetty.server;
    requires transitive org.eclipse.jetty.http;
    requires transitive org.eclipse.jetty.io;
    requires transitive org.eclipse.jetty.util;
    requires transitive org.slf4j;
    requires org.eclipse.jetty.client;
    requires org.eclipse.jetty.http2.common;
    requires org.eclipse.jetty.http2.server;
    requires org.eclipse.jetty.http2.client.transport;
    requires org.eclipse.jetty.alpn.server;
    requires org.eclipse.jetty.alpn.java.server;
    requires org.eclipse.jetty.alpn.java.client;
    requires com.google.common;
    requires org.apache.commons.net;
    requires java.net.http; // the testing kit's clients
    requires static com.google.errorprone.annotations;
    requires static org.bouncycastle.pkix;
    requires static org.bouncycastle.provider;
    requires static micrometer.core;
    requires static com.hazelcast.core;
    requires static org.junit.jupiter.api;

    exports io.github.gatehouse.core;
    exports io.github.gatehouse.core.metrics;
    exports io.github.gatehouse.core.cluster;
    exports io.github.gatehouse.core.testing;
    exports io.github.gatehouse.core.internal to
            io.github.gatehouse.cache, io.github.gatehouse.filter, io.github.gatehouse.examples;
}
