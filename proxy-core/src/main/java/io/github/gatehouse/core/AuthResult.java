package io.github.gatehouse.core;

import static com.google.common.base.Preconditions.checkArgument;
import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * The outcome of an {@link Authenticator}: a user, a challenge, or a refusal.
 *
 * <p>A challenge becomes {@code 407 Proxy Authentication Required} with {@code Proxy-Authenticate} in forward mode,
 * and {@code 401 Unauthorized} with {@code WWW-Authenticate} in reverse mode. Immutable and thread-safe.
 */
public final class AuthResult {
    /** The kinds of outcome. */
    public enum Kind {
        /** The credentials name a user who may proceed. */
        AUTHENTICATED,
        /** No or wrong credentials: ask the client to (re)authenticate. */
        CHALLENGE,
        /** Known user, or blocked client, that must not proceed: 403. */
        FORBIDDEN
    }

    private final Kind kind;
    private final String user;
    private final String challenge;
    private final String reason;

    private AuthResult(Kind kind, String user, String challenge, String reason) {
        this.kind = kind;
        this.user = user;
        this.challenge = challenge;
        this.reason = reason;
    }

    /** The request proceeds on behalf of {@code user}. */
    public static AuthResult authenticated(String user) {
        requireNonNull(user, "user");
        checkArgument(!user.isEmpty(), "user: empty (expected: a user name)");
        return new AuthResult(Kind.AUTHENTICATED, user, null, null);
    }

    /**
     * Asks the client for credentials with {@code challenge} (a header value such as
     * {@code Basic realm="gatehouse", charset="UTF-8"}); {@code reason} goes to the body and the log.
     */
    public static AuthResult challenge(String challenge, String reason) {
        return new AuthResult(Kind.CHALLENGE, null, requireNonNull(challenge, "challenge"), requireNonNull(reason, "reason"));
    }

    /** Refuses the request with 403 and {@code reason}. */
    public static AuthResult forbidden(String reason) {
        return new AuthResult(Kind.FORBIDDEN, null, null, requireNonNull(reason, "reason"));
    }

    /** The kind of outcome. */
    public Kind kind() {
        return kind;
    }

    /** The user, when authenticated. */
    public Optional<String> user() {
        return Optional.ofNullable(user);
    }

    /** The challenge header value, for {@link Kind#CHALLENGE}. */
    public Optional<String> challenge() {
        return Optional.ofNullable(challenge);
    }

    /** Why the request was not authenticated; empty when it was. */
    public String reason() {
        return reason == null ? "" : reason;
    }

    @Override
    public String toString() {
        return "AuthResult{" + kind + (user != null ? ", " + user : "") + (reason != null ? ", " + reason : "") + "}";
    }
}
