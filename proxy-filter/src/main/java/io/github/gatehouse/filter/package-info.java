/**
 * Ready filters and authenticators for Gatehouse: {@link io.github.gatehouse.filter.HostRules} (host whitelists
 * and blacklists), {@link io.github.gatehouse.filter.AccessRules} with
 * {@link io.github.gatehouse.filter.AccessConditions} (ordered allow/deny lists on URL, method, client address,
 * port, user and time), {@link io.github.gatehouse.filter.KeywordFilter} (content filtering),
 * {@link io.github.gatehouse.filter.RateLimits} (429 with Retry-After) and
 * {@link io.github.gatehouse.filter.BasicAuthenticator} (Basic with in-memory users and htpasswd files).
 *
 * <p>Everything here plugs into core's {@link io.github.gatehouse.core.ProxyFilter} and
 * {@link io.github.gatehouse.core.Authenticator}; write your own against those interfaces. Types in
 * {@code io.github.gatehouse.filter.internal} carry no compatibility promise.
 */
package io.github.gatehouse.filter;
