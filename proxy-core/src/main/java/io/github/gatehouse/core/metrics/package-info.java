/**
 * Micrometer binding for Gatehouse: {@link io.github.gatehouse.core.metrics.GatehouseMetrics}. Micrometer is an
 * optional dependency of proxy-core; only this package refers to it, so an application without Micrometer on its
 * class path never loads it.
 */
package io.github.gatehouse.core.metrics;
