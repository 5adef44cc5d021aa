/**
 * Several Gatehouse instances as one: {@link io.github.gatehouse.core.cluster.Cluster} (an embedded Hazelcast member)
 * and its {@link io.github.gatehouse.core.cluster.ClusterConfig}. Hazelcast is an optional dependency of proxy-core;
 * only this package (and the shared stores in proxy-cache and proxy-filter) refer to it, so a single instance never
 * loads it.
 */
package io.github.gatehouse.core.cluster;
