/**
 * Gatehouse filters: host white- and blacklists, keyword content filtering, access rules, rate limits and Basic
 * authentication (bcrypt) for proxy-core, with cluster-wide limits on Hazelcast (optional: {@code requires
 * static}). {@code io.github.gatehouse.filter.internal} is the implementation and is not exported.
 */
module io.github.gatehouse.filter {
    requires transitive io.github.gatehouse.core;
    requires bcrypt;
    requires com.google.common;
    requires static com.hazelcast.core;

    exports io.github.gatehouse.filter;
}
