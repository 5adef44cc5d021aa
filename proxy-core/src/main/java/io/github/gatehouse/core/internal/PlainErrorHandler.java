package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.AccessLog;
import io.github.gatehouse.core.AccessLogEntry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the errors Jetty raises itself, before the relay sees a request (malformed request line or headers,
 * oversized head, Host mismatch), the proxy's way: a short plain-text reason, {@code Proxy-Status}, one log line, and
 * the connection closed after a 4xx so nothing pipelined behind a malformed request is read. Each one also gets an
 * access-log line (as Squid logs {@code NONE/400}), with whatever of the request could be parsed.
 */
final class PlainErrorHandler extends ErrorHandler {
    private static final Logger LOG = LoggerFactory.getLogger(PlainErrorHandler.class);
    private final String viaName;
    private final AccessLog accessLog;
    private final Supplier<String> ids;

    PlainErrorHandler(String viaName, AccessLog accessLog, Supplier<String> ids) {
        this.viaName = viaName;
        this.accessLog = accessLog;
        this.ids = ids;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = response.getStatus() > 0 ? response.getStatus() : 500;
        Object attr = request.getAttribute(ERROR_STATUS);
        if (attr instanceof Integer) {
            status = (Integer) attr;
        }
        Object message = request.getAttribute(ERROR_MESSAGE);
        String reason = message == null ? "bad request" : String.valueOf(message);
        if (reason.length() > 200) {
            reason = reason.substring(0, 200);
        }
        if (clientGone(request.getAttribute(ERROR_EXCEPTION))) {
            // The client closed the connection while Jetty was still reading the request: nobody gets an answer,
            // and there was no request to log.
            LOG.debug("{} {} went away before the request was read: {}", Request.getRemoteAddr(request), request.getMethod(), reason);
            if (response.isCommitted()) {
                callback.failed(new org.eclipse.jetty.io.EofException(reason));
            } else {
                PlainTextResponses.write(response, callback, viaName, status, reason, "proxy_internal_error", null, true);
            }
            return true;
        }
        LOG.info("{} {} -> {} {}", Request.getRemoteAddr(request), request.getMethod(), status, reason);
        boolean clientError = status >= 400 && status < 500;
        if (response.isCommitted()) {
            callback.failed(new IllegalStateException("error " + status + " after commit: " + reason));
            return true;
        }
        String logged = reason;
        int code = status;
        Callback logging = accessLog == NoAccessLog.INSTANCE ? callback : Callback.from(callback, () -> log(request, response, code, logged));
        PlainTextResponses.write(response, logging, viaName, status, reason,
                clientError ? "http_request_error" : "proxy_internal_error", null, clientError);
        return true;
    }

    private static boolean clientGone(Object failure) {
        for (Object t = failure; t instanceof Throwable; t = ((Throwable) t).getCause() == t ? null : ((Throwable) t).getCause()) {
            if (t instanceof org.eclipse.jetty.io.EofException || t instanceof java.nio.channels.ClosedChannelException) {
                return true;
            }
        }
        return false;
    }

    private void log(Request request, Response response, int status, String reason) {
        try {
            InetSocketAddress client = RelayHandler.address(request.getConnectionMetaData().getRemoteSocketAddress());
            String clientIp = client.getAddress() != null ? client.getAddress().getHostAddress() : client.getHostString();
            String method = request.getMethod() == null || request.getMethod().isEmpty() ? "NONE" : request.getMethod();
            String target = TargetFormConnectionFactory.rawTarget(request);
            if (target == null) {
                target = request.getHttpURI() == null ? "-" : request.getHttpURI().asString();
            }
            long now = System.currentTimeMillis();
            long began = Request.getTimeStamp(request) > 0 ? Request.getTimeStamp(request) : now;
            Instant start = Instant.ofEpochMilli(began);
            Duration took = Duration.ofMillis(Math.max(0, now - began));
            accessLog.log(new AccessLogEntry(ids.get(), start, took, clientIp, null, method, target,
                    request.getConnectionMetaData().getProtocol(), status, 0, Response.getContentBytesWritten(response),
                    null, null, request.getHeaders().get(HttpHeader.REFERER), request.getHeaders().get(HttpHeader.USER_AGENT),
                    reason, true, 0));
        } catch (RuntimeException e) {
            LOG.error("access log of a rejected request failed", e);
        }
    }
}
