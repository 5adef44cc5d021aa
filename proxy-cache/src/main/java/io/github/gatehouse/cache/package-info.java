/**
 * The Gatehouse RFC 9111 shared cache: {@link io.github.gatehouse.cache.HttpCaches} builds a
 * {@link io.github.gatehouse.cache.SharedCache} to plug into {@code ProxyServer.Builder.cache(...)}.
 */
package io.github.gatehouse.cache;
