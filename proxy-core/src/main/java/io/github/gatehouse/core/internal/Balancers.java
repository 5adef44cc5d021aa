package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.LoadBalancer;
import io.github.gatehouse.core.Upstream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/** The built-in load-balancing strategies. */
public final class Balancers {
    private Balancers() {
    }

    /** nginx's smooth weighted round robin; plain round robin when all weights are equal. */
    public static LoadBalancer smoothWeightedRoundRobin() {
        return new SmoothWeightedRoundRobin();
    }

    /** Weighted random choice. */
    public static LoadBalancer weightedRandom() {
        return (candidates, exchange) -> {
            int total = 0;
            for (Upstream u : candidates) {
                total += u.weight();
            }
            int r = ThreadLocalRandom.current().nextInt(total);
            for (Upstream u : candidates) {
                r -= u.weight();
                if (r < 0) {
                    return u;
                }
            }
            return candidates.get(candidates.size() - 1);
        };
    }

    /**
     * Smooth weighted round robin: every pick adds each candidate's weight to its current score, picks the highest
     * score and subtracts the total from it. Over a cycle each member gets exactly its weight's share, interleaved
     * (5,1,1 gives a a b a c a a, not a a a a a b c). Synchronized: the pick is a few additions per member.
     */
    static final class SmoothWeightedRoundRobin implements LoadBalancer {
        private final Map<Upstream, Integer> current = new HashMap<>();

        @Override
        public synchronized Upstream pick(List<Upstream> candidates, Exchange exchange) {
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
            if (current.size() > candidates.size() * 4) {
                current.keySet().retainAll(candidates);
            }
            int total = 0;
            Upstream best = null;
            int bestScore = Integer.MIN_VALUE;
            for (Upstream u : candidates) {
                int score = current.getOrDefault(u, 0) + u.weight();
                current.put(u, score);
                total += u.weight();
                if (score > bestScore) {
                    bestScore = score;
                    best = u;
                }
            }
            current.put(best, bestScore - total);
            return best;
        }

        @Override
        public String toString() {
            return "roundRobin";
        }
    }
}
