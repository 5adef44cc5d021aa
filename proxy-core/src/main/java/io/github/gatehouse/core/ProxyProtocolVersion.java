package io.github.gatehouse.core;

/**
 * The version of the PROXY protocol (HAProxy's {@code proxy-protocol.txt}) a pool sends to its members
 * ({@link UpstreamPool#proxyProtocol}): before anything else on each new upstream connection, a header that names the
 * client's address and port and the address it connected to (the ones a PROXY header from a trusted load balancer in
 * front of Gatehouse named, when there is one).
 *
 * <p>{@link #V1} is the human-readable line ({@code PROXY TCP4 192.0.2.7 192.0.2.1 53211 443\r\n}); {@link #V2} is
 * the binary header. Both carry the same addresses; pick the one the members accept.
 */
public enum ProxyProtocolVersion {
    /** The text header of version 1. */
    V1,
    /** The binary header of version 2. */
    V2
}
