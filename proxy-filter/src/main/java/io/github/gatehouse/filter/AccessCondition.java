package io.github.gatehouse.filter;

import io.github.gatehouse.core.Exchange;

/**
 * A test on an exchange's request, such as "the client is in 10.0.0.0/8" or "the method is POST": the building
 * block of {@link AccessRules}. {@link AccessConditions} holds the ready ones; write your own as a lambda.
 *
 * <p>Conditions see the exchange after authentication, so {@link Exchange#user()} is known when an authenticator
 * is configured. Give custom conditions a {@code toString()}: it names the rule in deny reasons when the rule has
 * no name of its own.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads: must be thread-safe, fast and must not block.
 */
@FunctionalInterface
public interface AccessCondition {

    /** Whether this condition holds for {@code exchange}. */
    boolean test(Exchange exchange);
}
