package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import java.util.ArrayList;
import java.util.List;

/** The tries of one reverse exchange: which members were tried and the request body kept for replay. */
final class Tries {
    final Route route;
    final UpstreamPool pool;
    final List<UpstreamMember> tried = new ArrayList<>(2);
    /** The whole request body when it was small enough to keep for replay; null when it streams. */
    final byte[] body;
    int count;

    Tries(Route route, UpstreamPool pool, byte[] body) {
        this.route = route;
        this.pool = pool;
        this.body = body;
    }

    /** Whether a failure after the body started streaming may still be retried. */
    boolean bodyReplayable(boolean requestHasBody) {
        return body != null || !requestHasBody;
    }
}
