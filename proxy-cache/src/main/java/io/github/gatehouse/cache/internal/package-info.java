/** Implementation of the cache: directive parsing, freshness math, stores. No compatibility promise. */
package io.github.gatehouse.cache.internal;
