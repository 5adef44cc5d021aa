package io.github.gatehouse.core.testsupport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Sends raw bytes to a server and reads what comes back, for tests that need exact control of the wire. */
public final class RawHttp {
    private RawHttp() {
    }

    /** A raw response: the head as text, parsed headers (lower-case names) and the body bytes read until close. */
    public record Reply(String statusLine, Map<String, String> headers, byte[] body, boolean closedCleanly) {
        public int status() {
            return Integer.parseInt(statusLine.split(" ")[1]);
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** Sends {@code request} (with {@code Connection: close} expected in it) and reads until the server closes. */
    public static Reply exchange(int port, String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            boolean clean = true;
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    all.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("no end of response within 10 s; got: " + all.toString(StandardCharsets.ISO_8859_1), e);
            } catch (IOException e) {
                clean = false;
            }
            byte[] bytes = all.toByteArray();
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end < 0) {
                throw new AssertionError("no response head; got: " + text);
            }
            String head = text.substring(0, end);
            byte[] body = java.util.Arrays.copyOfRange(bytes, end + 4, bytes.length);
            return new Reply(head.split("\r\n")[0], parseHeaders(head), body, clean);
        }
    }

    /** Parses a header block (status or request line first) into lower-case names, repeated fields joined by ", ". */
    public static java.util.Map<String, String> parseHeaders(String head) {
        java.util.Map<String, String> map = new java.util.LinkedHashMap<>();
        java.util.List<String> lines = java.util.List.of(head.split("\r\n"));
        for (int i = 1; i < lines.size(); i++) {
            int colon = lines.get(i).indexOf(':');
            if (colon > 0) {
                map.merge(lines.get(i).substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
                        lines.get(i).substring(colon + 1).trim(), (a, b) -> a + ", " + b);
            }
        }
        return map;
    }
}
