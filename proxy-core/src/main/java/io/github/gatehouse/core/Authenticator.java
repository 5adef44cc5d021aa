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
 *
 * <p><b>Overload.</b> An authenticator whose capacity is used up (its bounded executor full) says so by throwing a
 * {@link java.util.concurrent.RejectedExecutionException} from {@link #authenticate} or completing the stage with
 * one (also when wrapped, for example in a {@link java.util.concurrent.CompletionException}); this is what a
 * bounded {@link java.util.concurrent.ThreadPoolExecutor} throws when full, so
 * {@code CompletableFuture.supplyAsync(check, boundedPool)} gets it for free. The proxy then answers
 * {@code 503 Service Unavailable} with {@code Retry-After: 1} and {@code Proxy-Status: ...; error=proxy_internal_error},
 * logs a WARN line, and the client may retry; nothing is forwarded.
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

    /**
     * What the authenticator counted so far (successes, failures, lockouts), for metrics and the admin page; empty (the
     * default) when it counts nothing. Cheap and non-blocking.
     */
    default Optional<AuthCounters> counters() {
        return Optional.empty();
    }
}
