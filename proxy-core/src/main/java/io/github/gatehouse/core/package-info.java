/**
 * Gatehouse's public core API: {@link io.github.gatehouse.core.ProxyServer} and its builder, the extension points
 * ({@link io.github.gatehouse.core.ProxyFilter}, {@link io.github.gatehouse.core.BodyFilter},
 * {@link io.github.gatehouse.core.Authenticator}, {@link io.github.gatehouse.core.HttpCache}, the access log and
 * exchange events) and the values they exchange.
 *
 * <p><b>Absent values.</b> One rule across the API: a method whose value may be absent returns
 * {@link java.util.Optional}, and no method returns {@code null} instead. Two deliberate kinds of exception:
 * <ul>
 *   <li>field-map lookups ({@link io.github.gatehouse.core.HttpHeaders#get}), which return {@code null} for a
 *       missing field like {@link java.util.Map#get}, so that a filter's hot path allocates nothing;</li>
 *   <li>the components of the records that describe a finished exchange
 *       ({@link io.github.gatehouse.core.AccessLogEntry}, {@link io.github.gatehouse.core.ExchangeEvent}), which are
 *       {@code null} when unknown, as each record's javadoc says: they are flat data for log writers and meters.</li>
 * </ul>
 * Parameters are never {@code null} unless their javadoc says so.
 */
package io.github.gatehouse.core;
