package io.github.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.internal.MemberState;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Consistent hashing without sockets: remapping when a member joins, and bounded load. */
class ConsistentHashTest {

    private static Exchange keyed(String key) {
        RequestHead head = new RequestHead() {
            final HttpHeaders headers = new HttpHeaders().add("X-Key", key);
            @Override public String method() { return "GET"; }
            @Override public java.net.URI uri() { return java.net.URI.create("http://h/"); }
            @Override public void uri(java.net.URI uri) { }
            @Override public String host() { return "h"; }
            @Override public int port() { return 80; }
            @Override public String scheme() { return "http"; }
            @Override public String path() { return "/"; }
            @Override public java.util.Optional<String> query() { return java.util.Optional.empty(); }
            @Override public String version() { return "HTTP/1.1"; }
            @Override public HttpHeaders headers() { return headers; }
        };
        return new Exchange() {
            @Override public String id() { return key; }
            @Override public Mode mode() { return Mode.REVERSE; }
            @Override public InetSocketAddress clientAddress() { return new InetSocketAddress("127.0.0.1", 1); }
            @Override public InetSocketAddress localAddress() { return new InetSocketAddress("127.0.0.1", 2); }
            @Override public Instant startTime() { return Instant.EPOCH; }
            @Override public RequestHead request() { return head; }
            @Override public Optional<String> user() { return Optional.empty(); }
            @Override public Optional<Route> route() { return Optional.empty(); }
            @Override public Map<String, Object> attributes() { return new HashMap<>(); }
            @Override public Optional<io.github.gatehouse.core.CacheStatus> cacheStatus() { return Optional.empty(); }
        };
    }

    private static List<UpstreamMember> members(int n) {
        List<UpstreamMember> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new MemberState(Upstream.of("http://10.0.0." + i + ":80"), null, System::nanoTime));
        }
        return list;
    }

    @Test
    void addingAMemberMovesAboutOneNthOfTheKeysAndOnlyToIt() {
        LoadBalancer lb = LoadBalancing.hashByHeader("X-Key");
        List<UpstreamMember> four = members(5).subList(0, 4);
        List<UpstreamMember> five = new ArrayList<>(four);
        UpstreamMember added = new MemberState(Upstream.of("http://10.0.0.99:80"), null, System::nanoTime);
        five.add(added);
        int keys = 10_000;
        int moved = 0;
        Map<UpstreamMember, Integer> load = new HashMap<>();
        for (int i = 0; i < keys; i++) {
            Exchange e = keyed("user-" + i);
            UpstreamMember before = lb.pick(four, e);
            UpstreamMember after = lb.pick(five, e);
            load.merge(after, 1, Integer::sum);
            if (before != after) {
                moved++;
                assertThat(after).isSameAs(added);
            }
        }
        assertThat(moved).isBetween(keys / 5 * 6 / 10, keys / 5 * 14 / 10);
        load.values().forEach(n -> assertThat(n).isBetween(keys / 5 / 2, keys / 5 * 2));
    }

    @Test
    void boundedLoadSendsAHotKeyElsewhereWhenItsMemberIsOverloaded() {
        LoadBalancer lb = LoadBalancing.hashByHeader("X-Key");
        List<UpstreamMember> three = members(3);
        Exchange hot = keyed("hot");
        MemberState home = (MemberState) lb.pick(three, hot);
        for (int i = 0; i < 10; i++) {
            home.begin();
        }
        assertThat(lb.pick(three, hot)).isNotSameAs(home);
    }
}
