package io.github.gatehouse.core;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * The credentials a client sent in {@code Proxy-Authorization} (forward) or {@code Authorization} (reverse): an
 * authentication scheme and its token.
 *
 * <p>Immutable and thread-safe. {@link #toString()} never shows the token.
 */
public final class Credentials {
    private final String scheme;
    private final String token;

    /** Creates credentials from a scheme such as {@code Basic} and its token. */
    public Credentials(String scheme, String token) {
        this.scheme = requireNonNull(scheme, "scheme");
        this.token = requireNonNull(token, "token");
    }

    /** Parses a header value such as {@code Basic dXNlcjpwYXNz}; empty when it has no scheme. */
    public static Optional<Credentials> parse(String headerValue) {
        if (headerValue == null) {
            return Optional.empty();
        }
        String v = headerValue.trim();
        int space = v.indexOf(' ');
        if (space <= 0) {
            return v.isEmpty() ? Optional.empty() : Optional.of(new Credentials(v, ""));
        }
        return Optional.of(new Credentials(v.substring(0, space), v.substring(space + 1).trim()));
    }

    /** The scheme as sent, such as {@code Basic}. */
    public String scheme() {
        return scheme;
    }

    /** The token after the scheme, as sent. */
    public String token() {
        return token;
    }

    /** Whether the scheme is {@code scheme}, ignoring case. */
    public boolean isScheme(String scheme) {
        return this.scheme.equalsIgnoreCase(scheme);
    }

    /**
     * Decodes Basic credentials (RFC 7617, UTF-8): empty if the scheme is not Basic or the token is not valid
     * base64 of {@code user:password}.
     */
    public Optional<UserPassword> basic() {
        if (!isScheme("Basic")) {
            return Optional.empty();
        }
        try {
            String decoded = new String(Base64.getDecoder().decode(token), StandardCharsets.UTF_8);
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                return Optional.empty();
            }
            return Optional.of(new UserPassword(decoded.substring(0, colon), decoded.substring(colon + 1)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return "Credentials{" + scheme + " <redacted>}";
    }

    /** A user name and password from Basic credentials. {@link #toString()} hides the password. */
    public static final class UserPassword {
        private final String user;
        private final String password;

        /** Creates a pair. */
        public UserPassword(String user, String password) {
            this.user = requireNonNull(user, "user");
            this.password = requireNonNull(password, "password");
        }

        /** The user name. */
        public String user() {
            return user;
        }

        /** The password. */
        public String password() {
            return password;
        }

        @Override
        public String toString() {
            return "UserPassword{" + user + ", <redacted>}";
        }
    }
}
