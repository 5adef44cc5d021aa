package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.LoadBalancer;
import io.github.gatehouse.core.UpstreamMember;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

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
        return new LoadBalancer() {
            @Override
            public UpstreamMember pick(List<UpstreamMember> candidates, Exchange exchange) {
                return randomByWeight(candidates, null);
            }

            @Override
            public String toString() {
                return "random";
            }
        };
    }

    /** Power of two random choices over requests in flight per unit of weight. */
    public static LoadBalancer leastRequests() {
        return new LoadBalancer() {
            @Override
            public UpstreamMember pick(List<UpstreamMember> candidates, Exchange exchange) {
                if (candidates.size() == 1) {
                    return candidates.get(0);
                }
                UpstreamMember a = randomByWeight(candidates, null);
                UpstreamMember b = randomByWeight(candidates, a);
                double la = (a.activeRequests() + 1.0) / Math.max(1, a.effectiveWeight());
                double lb = (b.activeRequests() + 1.0) / Math.max(1, b.effectiveWeight());
                return la <= lb ? a : b;
            }

            @Override
            public String toString() {
                return "leastRequests";
            }
        };
    }

    /** Consistent hashing with bounded load. */
    public static LoadBalancer consistentHash(Function<Exchange, String> key) {
        return new ConsistentHash(key);
    }

    static UpstreamMember randomByWeight(List<UpstreamMember> candidates, UpstreamMember except) {
        int total = 0;
        for (UpstreamMember m : candidates) {
            if (m != except) {
                total += Math.max(1, m.effectiveWeight());
            }
        }
        if (total == 0) {
            return candidates.get(0);
        }
        int r = ThreadLocalRandom.current().nextInt(total);
        for (UpstreamMember m : candidates) {
            if (m == except) {
                continue;
            }
            r -= Math.max(1, m.effectiveWeight());
            if (r < 0) {
                return m;
            }
        }
        return candidates.get(candidates.size() - 1);
    }

    /**
     * Smooth weighted round robin: every pick adds each candidate's weight to its current score, picks the highest
     * score and subtracts the total from it. Over a cycle each member gets exactly its weight's share, interleaved
     * (5,1,1 gives a a b a c a a, not a a a a a b c). Synchronized: the pick is a few additions per member.
     */
    static final class SmoothWeightedRoundRobin implements LoadBalancer {
        private final Map<UpstreamMember, Integer> current = new IdentityHashMap<>();

        @Override
        public synchronized UpstreamMember pick(List<UpstreamMember> candidates, Exchange exchange) {
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
            if (current.size() > candidates.size() * 4) {
                current.keySet().retainAll(candidates);
            }
            int total = 0;
            UpstreamMember best = null;
            int bestScore = Integer.MIN_VALUE;
            for (UpstreamMember m : candidates) {
                int w = Math.max(1, m.effectiveWeight());
                int score = current.getOrDefault(m, 0) + w;
                current.put(m, score);
                total += w;
                if (score > bestScore) {
                    bestScore = score;
                    best = m;
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

    /**
     * A hash ring with 160 virtual nodes per unit of weight (capped), rebuilt when the candidate set changes, walked
     * clockwise from the key's hash past members above 1.25x the average load.
     */
    static final class ConsistentHash implements LoadBalancer {
        private static final double LOAD_FACTOR = 1.25;
        private final Function<Exchange, String> key;
        private volatile Ring ring;

        ConsistentHash(Function<Exchange, String> key) {
            this.key = key;
        }

        private record Ring(List<UpstreamMember> members, TreeMap<Long, UpstreamMember> points) {
        }

        @Override
        public UpstreamMember pick(List<UpstreamMember> candidates, Exchange exchange) {
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
            String k = key.apply(exchange);
            if (k == null) {
                return randomByWeight(candidates, null);
            }
            Ring r = ring;
            if (r == null || !r.members().equals(candidates)) {
                r = build(candidates);
                ring = r;
            }
            int totalActive = 0;
            for (UpstreamMember m : candidates) {
                totalActive += m.activeRequests();
            }
            double limit = Math.ceil(LOAD_FACTOR * (totalActive + 1) / candidates.size());
            long h = hash(k);
            Map.Entry<Long, UpstreamMember> e = r.points().ceilingEntry(h);
            if (e == null) {
                e = r.points().firstEntry();
            }
            UpstreamMember first = e.getValue();
            int steps = 0;
            while (e != null && steps++ < r.points().size()) {
                UpstreamMember m = e.getValue();
                if (m.activeRequests() + 1 <= limit) {
                    return m;
                }
                e = r.points().higherEntry(e.getKey());
                if (e == null) {
                    e = r.points().firstEntry();
                }
            }
            return first;
        }

        private static Ring build(List<UpstreamMember> candidates) {
            TreeMap<Long, UpstreamMember> points = new TreeMap<>();
            for (UpstreamMember m : candidates) {
                int vnodes = 160 * Math.min(Math.max(1, m.weight()), 10);
                String id = m.upstream().uri().toString();
                for (int i = 0; i < vnodes; i++) {
                    points.put(hash(id + "#" + i), m);
                }
            }
            return new Ring(List.copyOf(candidates), points);
        }

        /** 64-bit FNV-1a followed by a murmur3 finaliser, for a well-spread ring. */
        static long hash(String s) {
            long h = 0xcbf29ce484222325L;
            for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
                h ^= b & 0xff;
                h *= 0x100000001b3L;
            }
            h ^= h >>> 33;
            h *= 0xff51afd7ed558ccdL;
            h ^= h >>> 33;
            h *= 0xc4ceb9fe1a85ec53L;
            h ^= h >>> 33;
            return h;
        }

        @Override
        public String toString() {
            return "consistentHash";
        }
    }
}
