package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.HttpHeaders;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** The proxy's own answers: a status, a short plain-text reason, {@code Proxy-Status} for errors, {@code Via}. */
final class PlainTextResponses {
    private PlainTextResponses() {
    }

    /**
     * Writes a complete answer. {@code proxyStatusError} may be null (no {@code Proxy-Status} field); {@code extra}
     * may be null. {@code close} asks for the connection to be closed afterwards (after a malformed request).
     */
    static void write(Response response, Callback callback, String viaName, int status, String reason,
            String proxyStatusError, HttpHeaders extra, boolean close) {
        response.reset();
        response.setStatus(status);
        var headers = response.getHeaders();
        headers.put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
        headers.put(HttpHeader.CACHE_CONTROL, "no-store");
        headers.put(HttpHeader.VIA, "1.1 " + viaName);
        if (proxyStatusError != null) {
            headers.put("Proxy-Status", viaName + "; error=" + proxyStatusError + "; details=" + quoted(reason));
        }
        if (extra != null) {
            extra.forEachField(headers::add);
        }
        if (close) {
            headers.put(HttpHeader.CONNECTION, "close");
        }
        byte[] body = (status + " " + reason + "\n").getBytes(StandardCharsets.UTF_8);
        headers.put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    private static String quoted(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length() && i < 200; i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                sb.append(c);
            } else {
                sb.append('?');
            }
        }
        return sb.append('"').toString();
    }
}
