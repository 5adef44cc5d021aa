/**
 * The Gatehouse launcher ({@code gatehouse.jar}) and the examples: a command-line proxy built from proxy-core,
 * proxy-cache and proxy-filter, with its configuration file, admin page and Prometheus metrics. Exports the
 * examples package so that the example classes can be run from the module path.
 */
module io.github.gatehouse.examples {
    requires io.github.gatehouse.core;
    requires io.github.gatehouse.cache;
    requires io.github.gatehouse.filter;
    requires org.snakeyaml.engine.v2;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires com.hazelcast.core;
    requires static org.bouncycastle.pkix;
    requires java.management;   // the admin page's JVM figures
    requires jdk.unsupported;   // sun.misc.Signal: SIGHUP reloads the configuration file

    exports io.github.gatehouse.examples;
}
