package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Rendezvous hashing: an even spread, and a membership change moves only the keys it must. */
class RendezvousTest {
    static final int KEYS = 30_000;

    static List<String> members(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("http://10.0.0." + (i + 1) + ":8080");
        }
        return out;
    }

    static String key(int i) {
        return "http://shop.example:80/items/" + i + "?v=1";
    }

    static Map<String, String> homes(List<String> members) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < KEYS; i++) {
            out.put(key(i), Rendezvous.home(key(i), members));
        }
        return out;
    }

    @Test
    void keysSpreadEvenlyOverTheMembers() {
        for (int n : new int[] {2, 3, 5, 8}) {
            Map<String, Integer> counts = new HashMap<>();
            homes(members(n)).values().forEach(h -> counts.merge(h, 1, Integer::sum));
            assertThat(counts).as("members holding keys, of %s", n).hasSize(n);
            double fair = (double) KEYS / n;
            for (int c : counts.values()) {
                assertThat(c).as("keys of one member, of %s members (fair share %s)", n, fair)
                        .isBetween((int) (fair * 0.95), (int) (fair * 1.05));
            }
        }
    }

    @Test
    void portsAloneMakeDistinctMembers() {
        List<String> sameHost = List.of("http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083");
        Map<String, Integer> counts = new HashMap<>();
        homes(sameHost).values().forEach(h -> counts.merge(h, 1, Integer::sum));
        assertThat(counts.values()).allSatisfy(c -> assertThat(c).isBetween(KEYS / 3 - 500, KEYS / 3 + 500));
    }

    @Test
    void removingAMemberMovesOnlyTheKeysItWasHomeTo() {
        List<String> five = members(5);
        Map<String, String> before = homes(five);
        String gone = five.get(2);
        List<String> four = new ArrayList<>(five);
        four.remove(gone);
        Map<String, String> after = homes(four);
        int moved = 0;
        for (Map.Entry<String, String> e : before.entrySet()) {
            if (e.getValue().equals(gone)) {
                moved++;
                assertThat(after.get(e.getKey())).isNotEqualTo(gone);
            } else {
                assertThat(after.get(e.getKey())).as("home of %s, whose home stayed", e.getKey()).isEqualTo(e.getValue());
            }
        }
        assertThat(moved).as("keys that moved: those of the member removed, about a fifth").isBetween(KEYS / 5 - 600,
                KEYS / 5 + 600);
    }

    @Test
    void addingAMemberTakesAboutItsShareAndMovesNothingElse() {
        List<String> three = members(3);
        Map<String, String> before = homes(three);
        List<String> four = members(4);
        String added = four.get(3);
        Map<String, String> after = homes(four);
        int taken = 0;
        for (Map.Entry<String, String> e : after.entrySet()) {
            if (e.getValue().equals(added)) {
                taken++;
            } else {
                assertThat(e.getValue()).as("home of %s", e.getKey()).isEqualTo(before.get(e.getKey()));
            }
        }
        assertThat(taken).isBetween(KEYS / 4 - 600, KEYS / 4 + 600);
    }

    @Test
    void theHomeDoesNotDependOnTheOrderMembersAreListedIn() {
        List<String> members = members(4);
        List<String> reversed = new ArrayList<>(members);
        java.util.Collections.reverse(reversed);
        for (int i = 0; i < 1000; i++) {
            assertThat(Rendezvous.home(key(i), reversed)).isEqualTo(Rendezvous.home(key(i), members));
        }
        assertThat(Rendezvous.home("k", List.of())).isNull();
    }

    @Test
    void peerUrlsAreNormalisedOrRefused() {
        assertThat(PeerRouting.normalize("http://Peer.Example:8080")).isEqualTo("http://peer.example:8080");
        assertThat(PeerRouting.normalize("10.0.0.2:3128")).isEqualTo("http://10.0.0.2:3128");
        assertThat(PeerRouting.normalize("http://10.0.0.2/")).isEqualTo("http://10.0.0.2:80");
        assertThatThrownBy(() -> PeerRouting.normalize("https://10.0.0.2:443")).hasMessageContaining("expected: http://host:port");
        assertThatThrownBy(() -> PeerRouting.normalize("http://10.0.0.2:80/path")).hasMessageContaining("cache peer");
    }
}
