package io.github.gatehouse.core.internal;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers the errors Jetty raises itself, before the relay sees a request (malformed request line or headers,
 * oversized head, Host mismatch), the proxy's way: a short plain-text reason, {@code Proxy-Status}, one log line, and
 * the connection closed after a 4xx so nothing pipelined behind a malformed request is read.
 */
final class PlainErrorHandler extends ErrorHandler {
    private static final Logger LOG = LoggerFactory.getLogger(PlainErrorHandler.class);
    private final String viaName;

    PlainErrorHandler(String viaName) {
        this.viaName = viaName;
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
        LOG.info("{} {} -> {} {}", Request.getRemoteAddr(request), request.getMethod(), status, reason);
        boolean clientError = status >= 400 && status < 500;
        if (response.isCommitted()) {
            callback.failed(new IllegalStateException("error " + status + " after commit: " + reason));
            return true;
        }
        PlainTextResponses.write(response, callback, viaName, status, reason,
                clientError ? "http_request_error" : "proxy_internal_error", null, clientError);
        return true;
    }
}
