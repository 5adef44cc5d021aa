package io.github.gatehouse.core.internal;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;

/**
 * Phase 1: the checks on a request head that Jetty's parser does not make (it already enforced the syntax, the
 * framing rules and the size limit): the number of fields, {@code Transfer-Encoding} in HTTP/1.0, and this proxy's
 * own name in {@code Via}, which means a forwarding loop; and a cache peer's mark ({@link PeerRouting#HEADER}), which
 * makes the exchange a peer request when it comes from a peer, and is refused (403) from anyone else.
 *
 * <p>Stateless and thread-safe.
 */
final class RequestHeadCheck {
    private final ProxyConfig config;
    private final Answers answers;

    RequestHeadCheck(ProxyConfig config, Answers answers) {
        this.config = config;
        this.answers = answers;
    }

    ExchangeDriver.Step check(ExchangeContext x) {
        HttpFields fields = x.request.getHeaders();
        if (fields.size() > config.maxRequestHeaders()) {
            return answers.answer(x, 431, "too many header fields (" + fields.size() + ", limit "
                    + config.maxRequestHeaders() + ")", null, null, true);
        }
        if (fields.contains(HttpHeader.TRANSFER_ENCODING) && fields.contains(HttpHeader.CONTENT_LENGTH)) {
            // RFC 9112 §6.1: a request smuggling vector; refused, and the connection closed (the body is not read)
            return answers.badRequest(x, "Transfer-Encoding and Content-Length");
        }
        if (fields.contains(HttpHeader.TRANSFER_ENCODING)
                && HttpVersion.HTTP_1_0.is(x.request.getConnectionMetaData().getProtocol())) {
            // RFC 9112 §6.1: framing of an HTTP/1.0 message with Transfer-Encoding is faulty
            return answers.badRequest(x, "Transfer-Encoding in an HTTP/1.0 request");
        }
        if (fields.contains(HttpHeader.VIA)) {
            for (HttpField via : fields.getFields(HttpHeader.VIA)) {
                if (containsViaToken(via.getValue(), config.viaName())) {
                    return answers.answer(x, 508, "forwarding loop detected: the request already passed through "
                            + config.viaName(), "proxy_loop_detected", null, true);
                }
            }
        }
        String peerField = fields.get(PeerRouting.HEADER);
        if (peerField != null) {
            PeerRouting peers = config.cachePeers();
            java.net.InetAddress from = x.exchange.clientAddress().getAddress();
            if (peers == null || !peers.isTrusted(peerField, from)) {
                if (peers != null) {
                    peers.refusedPeer();
                }
                x.exchange.deny();
                return answers.answer(x, 403, PeerRouting.HEADER + " from " + (from == null ? "an unknown address"
                        : from.getHostAddress()) + ", which is not a cache peer" + (peers == null
                        ? " (this instance has no cache peers)" : ""), "http_request_denied", null, false);
            }
            x.exchange.peerRequest(true);
            peers.servedPeer();
        }
        x.moveTo(RelayState.HEAD_CHECKED);
        return ExchangeDriver.Step.NEXT;
    }

    /** Whether the {@code Via} value names a proxy called {@code name} (the second word of an element). */
    static boolean containsViaToken(String via, String name) {
        if (via == null) {
            return false;
        }
        for (String element : via.split(",")) {
            String[] parts = element.trim().split("\\s+");
            if (parts.length >= 2 && parts[1].equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }
}
