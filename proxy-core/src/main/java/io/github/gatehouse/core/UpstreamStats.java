package io.github.gatehouse.core;

import java.time.Duration;

/**
 * A snapshot of one upstream member's counters. Immutable.
 *
 * @param upstream the member's URL
 * @param weight its current weight
 * @param healthy whether active health checks consider it up
 * @param ejected whether passive outlier detection has ejected it
 * @param draining whether it is draining
 * @param activeRequests requests in flight
 * @param requests requests sent to it since it joined
 * @param errors of those, the ones that failed (connect failure, reset, timeout or a 5xx answer)
 * @param ejections how many times it was ejected
 * @param latencyP50 median time to the response head over the last 1024 requests (zero if none)
 * @param latencyP99 99th percentile of the same
 */
public record UpstreamStats(String upstream, int weight, boolean healthy, boolean ejected, boolean draining,
        int activeRequests, long requests, long errors, long ejections, Duration latencyP50, Duration latencyP99) {
}
