package io.github.gatehouse.core;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Turns the credentials a client sent into a user, or refuses them with a challenge.
 *
 * <p>Called once for each exchange (including {@code CONNECT}) before any {@link ProxyFilter}. Credentials come
 * from {@code Proxy-Authorization} in forward mode and {@code Authorization} in reverse mode; the proxy strips that
 * header before the request goes upstream, whatever the outcome, and never logs its value.
 *
 * <p><b>Threading.</b> Called concurrently from I/O threads; must be thread-safe and must not block. Slow checks
 * (password hashing, a directory lookup) run on your own executor and complete the stage there. A stage that
 * completes exceptionally, or a {@code null} stage, becomes a 500 answer and an ERROR log line.
 */
@FunctionalInterface
public interface Authenticator {

    /**
     * Checks the credentials of one exchange.
     *
     * @param credentials what the client sent, or empty when it sent none
     * @param exchange the exchange (its request head, client address)
     * @return a stage completed with the outcome; never {@code null}
     */
    CompletionStage<AuthResult> authenticate(Optional<Credentials> credentials, Exchange exchange);
}
