package io.github.gatehouse.filter.testing;

import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.testsupport.RawHttp;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Raw requests through a forward proxy. */
public final class Wire {
    private Wire() {
    }

    /** A forward proxy builder that may reach the loopback origins of tests. */
    public static ProxyServer.Builder forward() {
        return ProxyServer.builder().forward().allowAllInternalDestinations();
    }

    /** {@code GET url} in absolute form through {@code proxy}, with extra header lines. */
    public static RawHttp.Reply get(ProxyServer proxy, String url, String... headers) throws Exception {
        return request(proxy, "GET", url, headers);
    }

    public static RawHttp.Reply request(ProxyServer proxy, String method, String url, String... headers) throws Exception {
        java.net.URI u = java.net.URI.create(url);
        StringBuilder sb = new StringBuilder(method + " " + url + " HTTP/1.1\r\nHost: " + u.getRawAuthority() + "\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        return RawHttp.exchange(proxy.port(), sb.append("Connection: close\r\n\r\n").toString());
    }

    /** {@code CONNECT host:port} through {@code proxy}; only for requests the proxy refuses (it reads until close). */
    public static RawHttp.Reply connect(ProxyServer proxy, String authority, String... headers) throws Exception {
        StringBuilder sb = new StringBuilder("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        return RawHttp.exchange(proxy.port(), sb.append("\r\n").toString());
    }

    public static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }
}
