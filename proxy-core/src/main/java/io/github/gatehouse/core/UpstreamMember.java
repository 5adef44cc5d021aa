package io.github.gatehouse.core;

/**
 * A live view of one member of an {@link UpstreamPool}: its address, weight, load and health, as the load
 * balancer and operators see them.
 *
 * <p><b>Threading.</b> Thread-safe; values change as exchanges start and end and as health checks run, so two
 * reads may disagree.
 */
public interface UpstreamMember {
    /** The member's address and configured weight. */
    Upstream upstream();

    /** The current weight (the configured one unless re-weighted at runtime). */
    int weight();

    /** The weight to balance with now: lower than {@link #weight()} while the member is in slow start. */
    int effectiveWeight();

    /** Requests in flight to this member. */
    int activeRequests();

    /** Whether active health checks consider it up (always true without health checks). */
    boolean isHealthy();

    /** Whether passive outlier detection has ejected it for now. */
    boolean isEjected();

    /** Whether it is draining: no new requests, those in flight finish. */
    boolean isDraining();

    /** Whether it may take a new request: healthy, not ejected, not draining. */
    default boolean isAvailable() {
        return isHealthy() && !isEjected() && !isDraining();
    }

    /** A snapshot of its counters. */
    UpstreamStats stats();
}
