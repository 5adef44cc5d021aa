/**
 * Gatehouse cache: the RFC 9111 {@code HttpCache} for proxy-core, its memory and disk stores, and the shared tier
 * of several instances on Hazelcast (optional: {@code requires static}, loaded only when a cluster is configured).
 * {@code io.github.gatehouse.cache.metrics} binds the shared tier's meters to Micrometer (optional too).
 * {@code io.github.gatehouse.cache.internal} is the implementation and is not exported.
 */
module io.github.gatehouse.cache {
    requires transitive io.github.gatehouse.core;
    requires com.github.benmanes.caffeine;
    requires com.google.common;
    requires static com.google.errorprone.annotations;
    requires static com.hazelcast.core;
    requires static micrometer.core;

    exports io.github.gatehouse.cache;
    exports io.github.gatehouse.cache.metrics;
}
