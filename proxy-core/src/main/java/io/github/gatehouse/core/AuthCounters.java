package io.github.gatehouse.core;

/**
 * What an {@link Authenticator} counted since it was built, reported through {@link Authenticator#counters()} (the
 * stats SPI for authentication).
 *
 * <p>Immutable; counters only grow.
 *
 * @param successes credentials accepted
 * @param failures credentials refused (wrong password, unknown user, malformed), lockout refusals included
 * @param lockouts times a client address or user was locked out after repeated failures
 */
public record AuthCounters(long successes, long failures, long lockouts) {
}
