/**
 * Micrometer meters of a shared cache tier and of cache-peer routing ({@link
 * io.github.gatehouse.cache.metrics.SharedCacheMetrics}). Micrometer is an optional dependency of proxy-cache:
 * only this package uses it, so an application that does not bind these meters does not need it.
 */
package io.github.gatehouse.cache.metrics;
