package io.github.gatehouse.core.internal;

import java.io.EOFException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.eclipse.jetty.http.HttpException;

/** Maps upstream failures to a status, an RFC 9209 {@code Proxy-Status} error type and a short human reason. */
final class Failures {
    private Failures() {
    }

    /** A classified upstream failure. */
    record Classified(int status, String proxyStatusError, String description) {
    }

    /**
     * What is wrong with the peer's certificate, when {@code t}'s causes include a certificate check that failed
     * (untrusted chain, wrong name, expired), else null.
     */
    static String certificateProblem(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof java.security.cert.CertificateException || c instanceof java.security.cert.CertPathValidatorException
                    || c instanceof java.security.cert.CertPathBuilderException) {
                Throwable root = c;
                while (root.getCause() != null && root.getCause() != root) {
                    root = root.getCause();
                }
                String m = root.getMessage() != null ? root.getMessage() : c.getMessage();
                if (m != null && m.contains("unable to find valid certification path")) {
                    return "its chain leads to no trusted root (" + m + ")";
                }
                return String.valueOf(m);
            }
        }
        return null;
    }

    static Classified classify(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof DestinationPolicy.DeniedDestinationException) {
                return new Classified(403, "destination_ip_prohibited", t.getMessage());
            }
            if (t instanceof UpstreamHeadTimeout) {
                return new Classified(504, "http_response_timeout", t.getMessage());
            }
            if (t instanceof SocketTimeoutException) {
                return new Classified(504, "connection_timeout", "connection timed out");
            }
            if (t instanceof TimeoutException) {
                String msg = t.getMessage() == null ? "" : t.getMessage().toLowerCase(java.util.Locale.ROOT);
                if (msg.contains("connect")) {
                    return new Classified(504, "connection_timeout", "connection timed out");
                }
                if (msg.contains("idle")) {
                    return new Classified(504, "http_response_timeout", "upstream went silent (idle timeout)");
                }
                return new Classified(504, "http_response_timeout", "upstream timed out");
            }
            if (t instanceof ConnectException) {
                return new Classified(502, "connection_refused", "connection refused");
            }
            if (t instanceof UnknownHostException || t instanceof UnresolvedAddressException) {
                return new Classified(502, "dns_error", "host name could not be resolved");
            }
            if (t instanceof NoRouteToHostException) {
                return new Classified(502, "destination_unavailable", "no route to host");
            }
            if (t instanceof SSLException && certificateProblem(t) != null) {
                return new Classified(502, "tls_certificate_error",
                        "TLS certificate not accepted: " + certificateProblem(t));
            }
            if (t instanceof SSLException) {
                return new Classified(502, "tls_protocol_error", "TLS handshake failed");
            }
            if (t instanceof HttpException) {
                String msg = String.valueOf(t.getMessage()).toLowerCase(java.util.Locale.ROOT);
                if (msg.contains("too large") || msg.contains("header")) {
                    return new Classified(502, "http_response_header_section_size", "upstream response head too large or invalid");
                }
                return new Classified(502, "http_protocol_error", "upstream sent an invalid response");
            }
            if (t instanceof EOFException || t instanceof ClosedChannelException) {
                return new Classified(502, "http_response_incomplete", "upstream closed the connection early");
            }
        }
        String msg = failure.getMessage();
        if (msg != null && msg.toLowerCase(java.util.Locale.ROOT).contains("too large")) {
            return new Classified(502, "http_response_header_section_size", "upstream response head too large");
        }
        return new Classified(502, "connection_terminated", "upstream failed: " + describe(failure));
    }

    /**
     * Whether a request failure was the client's doing (a malformed or too slow body, which the relay answers with
     * 400 or 408), so it must not count against the upstream.
     */
    static boolean isClientBodyFault(Throwable requestFailure) {
        for (Throwable t = requestFailure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof HttpException && ((HttpException) t).getCode() >= 400 && ((HttpException) t).getCode() < 500) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code failure} is the destination policy refusing an internal address (found after DNS). */
    static boolean isDeniedDestination(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof DestinationPolicy.DeniedDestinationException) {
                return true;
            }
        }
        return false;
    }

    /** A one-line description of a failure: the innermost message, no stack trace. */
    static String describe(Throwable failure) {
        Throwable t = failure;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String msg = t.getMessage();
        if (msg != null && msg.length() > 120) {
            msg = msg.substring(0, 117) + "...";
        }
        return t.getClass().getSimpleName() + (msg == null || msg.isEmpty() ? "" : ": " + msg);
    }

    /** Our own timeout for the upstream's response head. */
    static final class UpstreamHeadTimeout extends TimeoutException {
        private static final long serialVersionUID = 1L;

        UpstreamHeadTimeout(String message) {
            super(message);
        }
    }
}
