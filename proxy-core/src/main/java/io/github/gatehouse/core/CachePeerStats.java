package io.github.gatehouse.core;

import java.util.List;

/**
 * What cache-peer routing ({@link CachePeers}) did on one instance, since it started: a snapshot.
 *
 * @param members the instances keys are spread over now ({@code http://host:port}), this one included
 * @param self this instance's URL as the others reach it
 * @param peerFetches misses for a foreign key sent to their home instance
 * @param peerHits of those, the ones the home answered from its cache ({@code Cache-Status: ...; hit})
 * @param peerFallbacks misses whose home failed (refused, did not answer within the timeout, answered an error of
 *     its own), which went to the origin instead
 * @param peerRequestsServed requests of other instances that this one served as the home of their key
 * @param peerRequestsRefused requests that claimed to come from a peer and did not (refused with 403)
 */
public record CachePeerStats(List<String> members, String self, long peerFetches, long peerHits, long peerFallbacks,
        long peerRequestsServed, long peerRequestsRefused) {
    /** Copies {@code members}. */
    public CachePeerStats {
        members = List.copyOf(members);
    }
}
