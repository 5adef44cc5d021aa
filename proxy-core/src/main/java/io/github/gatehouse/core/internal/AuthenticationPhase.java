package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AuthResult;
import io.github.gatehouse.core.Credentials;
import io.github.gatehouse.core.Exchange.Mode;
import io.github.gatehouse.core.HttpHeaders;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phase 3: turns {@code Proxy-Authorization} (forward, tunnels) or {@code Authorization} (reverse) into a user,
 * through the configured {@code Authenticator}, or answers 407 / 401 with its challenge, or 403. The authenticator
 * may answer later (bcrypt runs on its own executor): the exchange then pauses and resumes the driver.
 *
 * <p>Stateless and thread-safe.
 */
final class AuthenticationPhase {
    private static final Logger LOG = LoggerFactory.getLogger(AuthenticationPhase.class);

    private final ProxyConfig config;
    private final Answers answers;
    private ExchangeDriver driver;

    AuthenticationPhase(ProxyConfig config, Answers answers) {
        this.config = config;
        this.answers = answers;
    }

    void driver(ExchangeDriver driver) {
        this.driver = driver;
    }

    ExchangeDriver.Step authenticate(ExchangeContext x) {
        HttpsInspection.Inner inner = x.exchange.intercepted();
        if (inner != null) { // inside an intercepted tunnel: its CONNECT was authenticated, as this user
            if (inner.user() != null) {
                x.exchange.user(inner.user());
            }
            x.moveTo(RelayState.AUTHENTICATED);
            return ExchangeDriver.Step.NEXT;
        }
        if (config.authenticator() == null || x.exchange.isPeerRequest()) { // a peer's: authenticated there
            x.moveTo(RelayState.AUTHENTICATED);
            return ExchangeDriver.Step.NEXT;
        }
        boolean reverse = x.exchange.mode() == Mode.REVERSE;
        Optional<Credentials> credentials = Credentials.parse(
                x.request.getHeaders().get(reverse ? "Authorization" : "Proxy-Authorization"));
        CompletionStage<AuthResult> stage;
        try {
            stage = config.authenticator().authenticate(credentials, x.exchange);
        } catch (RuntimeException e) {
            if (isOverload(e)) {
                return overloaded(x, e);
            }
            LOG.error("{} authenticator {} threw", x.exchange.id(), config.authenticator(), e);
            return answers.internalError(x, "authentication failed");
        }
        if (stage == null) {
            LOG.error("{} authenticator {} returned null (expected: a CompletionStage)", x.exchange.id(),
                    config.authenticator());
            return answers.internalError(x, "authentication failed");
        }
        // An authenticator that answered at once continues on this thread, in the driver's loop.
        if (stage instanceof java.util.concurrent.CompletableFuture<AuthResult> future && future.isDone()
                && !future.isCompletedExceptionally()) {
            return decide(x, future.join(), null);
        }
        stage.whenComplete((result, failure) -> {
            if (decide(x, result, failure) == ExchangeDriver.Step.NEXT) {
                driver.advance(x);
            }
        });
        return ExchangeDriver.Step.PAUSED;
    }

    private ExchangeDriver.Step decide(ExchangeContext x, AuthResult result, Throwable failure) {
        try {
            if (failure != null && isOverload(failure)) {
                return overloaded(x, failure);
            }
            if (failure != null || result == null) {
                LOG.error("{} authenticator {} failed", x.exchange.id(), config.authenticator(), failure);
                return answers.internalError(x, "authentication failed");
            }
            boolean reverse = x.exchange.mode() == Mode.REVERSE;
            switch (result.kind()) {
                case AUTHENTICATED:
                    x.exchange.user(result.user().orElseThrow());
                    x.moveTo(RelayState.AUTHENTICATED);
                    return ExchangeDriver.Step.NEXT;
                case CHALLENGE:
                    x.exchange.deny();
                    HttpHeaders h = new HttpHeaders().add(reverse ? "WWW-Authenticate" : "Proxy-Authenticate",
                            result.challenge().orElseThrow());
                    return answers.answerUnread(x, reverse ? 401 : 407, result.reason(), h);
                default:
                    x.exchange.deny();
                    return answers.answerUnread(x, 403, result.reason(), null);
            }
        } catch (Throwable t) {
            LOG.error("{} failed after authentication", x.exchange.id(), t);
            return answers.internalError(x, "proxy internal error");
        }
    }

    /** An authenticator out of capacity (its pool full) says so with a {@code RejectedExecutionException}. */
    private static boolean isOverload(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RejectedExecutionException) {
                return true;
            }
        }
        return false;
    }

    private ExchangeDriver.Step overloaded(ExchangeContext x, Throwable failure) {
        LOG.warn("{} authenticator {} is overloaded ({}); answering 503", x.exchange.id(), config.authenticator(),
                Failures.describe(failure));
        return answers.answer(x, 503, "authentication is overloaded; retry shortly", "proxy_internal_error",
                new HttpHeaders().add("Retry-After", "1"), false);
    }
}
