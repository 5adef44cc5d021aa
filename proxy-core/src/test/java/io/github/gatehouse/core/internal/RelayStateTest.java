package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.net.InetSocketAddress;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The exchange state machine: the legal moves, and that every other move is refused. */
class RelayStateTest {

    /** The phase order of a plain miss relayed upstream, then the two orders in which a response may end. */
    private static final List<RelayState> MISS = List.of(RelayState.RECEIVED, RelayState.HEAD_CHECKED,
            RelayState.TARGET_RESOLVED, RelayState.AUTHENTICATED, RelayState.ADMITTED, RelayState.CACHE_MISSED,
            RelayState.UPSTREAM_CHOSEN, RelayState.AWAITING_RESPONSE, RelayState.STREAMING_UPSTREAM);

    @Test
    void theLifeOfAMissIsOneLegalMoveAfterAnother() {
        for (int i = 0; i + 1 < MISS.size(); i++) {
            assertThat(MISS.get(i).mayMoveTo(MISS.get(i + 1))).as(MISS.get(i) + " -> " + MISS.get(i + 1)).isTrue();
        }
        assertThat(RelayState.STREAMING_UPSTREAM.mayMoveTo(RelayState.BODY_SENT)).isTrue();
        assertThat(RelayState.BODY_SENT.mayMoveTo(RelayState.COMPLETED)).isTrue();
        assertThat(RelayState.STREAMING_UPSTREAM.mayMoveTo(RelayState.UPSTREAM_DONE)).isTrue();
        assertThat(RelayState.UPSTREAM_DONE.mayMoveTo(RelayState.COMPLETED)).isTrue();
    }

    @Test
    void aRetryGoesBackToPhaseSixOnly() {
        assertThat(RelayState.AWAITING_RESPONSE.mayMoveTo(RelayState.RETRYING)).isTrue();
        assertThat(RelayState.DRAINING_FOR_RETRY.mayMoveTo(RelayState.RETRYING)).isTrue();
        assertThat(RelayState.RETRYING.mayMoveTo(RelayState.UPSTREAM_CHOSEN)).isTrue();
        // once the response streams, or was handed to the cache, there is no retry
        assertThat(RelayState.STREAMING_UPSTREAM.mayMoveTo(RelayState.RETRYING)).isFalse();
        assertThat(RelayState.SERVING_CACHED.mayMoveTo(RelayState.RETRYING)).isFalse();
        assertThat(RelayState.BODY_SENT.mayMoveTo(RelayState.RETRYING)).isFalse();
    }

    @Test
    void noPhaseIsSkippedOrRunTwice() {
        assertThat(RelayState.RECEIVED.mayMoveTo(RelayState.AUTHENTICATED)).isFalse();   // target first
        assertThat(RelayState.TARGET_RESOLVED.mayMoveTo(RelayState.ADMITTED)).isFalse(); // authentication first
        assertThat(RelayState.AUTHENTICATED.mayMoveTo(RelayState.CACHE_MISSED)).isFalse(); // filters first
        assertThat(RelayState.ADMITTED.mayMoveTo(RelayState.UPSTREAM_CHOSEN)).isFalse();  // cache first
        assertThat(RelayState.CACHE_MISSED.mayMoveTo(RelayState.AWAITING_RESPONSE)).isFalse(); // an upstream first
        for (RelayState s : RelayState.values()) {
            assertThat(s.mayMoveTo(s)).as(s + " -> itself").isFalse();
        }
    }

    @Test
    void aCommittedBodyCannotTurnIntoAnAnswer() {
        assertThat(RelayState.BODY_SENT.mayMoveTo(RelayState.ANSWERING)).isFalse();
        assertThat(RelayState.UPSTREAM_DONE.mayMoveTo(RelayState.ANSWERING)).isFalse();
        assertThat(RelayState.ANSWERING.mayMoveTo(RelayState.SERVING_CACHED)).isFalse();
    }

    @ParameterizedTest
    @EnumSource(RelayState.class)
    void everyStateCanFailAndTerminalStatesGoNowhere(RelayState state) {
        if (state.isTerminal()) {
            for (RelayState target : RelayState.values()) {
                assertThat(state.mayMoveTo(target)).as(state + " -> " + target).isFalse();
            }
        } else {
            assertThat(state.mayMoveTo(RelayState.FAILED)).as(state + " -> FAILED").isTrue();
        }
    }

    @Test
    void onlyStatesWithAResponseUnderWayMayComplete() {
        Set<RelayState> completing = EnumSet.noneOf(RelayState.class);
        for (RelayState s : RelayState.values()) {
            if (s.mayMoveTo(RelayState.COMPLETED)) {
                completing.add(s);
            }
        }
        assertThat(completing).containsExactlyInAnyOrder(RelayState.BODY_SENT, RelayState.UPSTREAM_DONE,
                RelayState.SERVING_CACHED, RelayState.ANSWERING, RelayState.TUNNEL);
    }

    @Test
    void theContextRefusesAnIllegalMoveAndKeepsItsState() {
        ExchangeContext x = context(mock(Callback.class));
        x.moveTo(RelayState.HEAD_CHECKED);
        assertThatThrownBy(() -> x.moveTo(RelayState.STREAMING_UPSTREAM))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("HEAD_CHECKED -> STREAMING_UPSTREAM is not a legal move");
        assertThat(x.state()).isEqualTo(RelayState.HEAD_CHECKED);
        assertThat(x.moveFrom(RelayState.RECEIVED, RelayState.HEAD_CHECKED)).isFalse(); // not there any more
        assertThatThrownBy(() -> x.moveFrom(RelayState.HEAD_CHECKED, RelayState.COMPLETED))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void completingBeforeAResponseIsUnderWayFailsTheExchangeOnce() {
        Callback jetty = mock(Callback.class);
        ExchangeContext x = context(jetty);
        x.moveTo(RelayState.HEAD_CHECKED);
        x.succeeded(); // a bug somewhere: nothing was answered yet
        assertThat(x.state()).isEqualTo(RelayState.FAILED);
        verify(jetty).failed(org.mockito.ArgumentMatchers.any(IllegalStateException.class));
        verify(jetty, never()).succeeded();
        x.succeeded();
        x.failed(new RuntimeException("late"));
        verify(jetty, org.mockito.Mockito.times(1)).failed(org.mockito.ArgumentMatchers.any());
    }

    @Test
    void anAnsweredExchangeCompletesOnce() {
        Callback jetty = mock(Callback.class);
        ExchangeContext x = context(jetty);
        x.moveTo(RelayState.ANSWERING);
        x.succeeded();
        x.succeeded();
        x.failed(new RuntimeException("late"));
        assertThat(x.state()).isEqualTo(RelayState.COMPLETED);
        verify(jetty, org.mockito.Mockito.times(1)).succeeded();
        verify(jetty, never()).failed(org.mockito.ArgumentMatchers.any());
    }

    private static ExchangeContext context(Callback jetty) {
        ProxyConfig config = mock(ProxyConfig.class);
        when(config.accessLog()).thenReturn(NoAccessLog.INSTANCE);
        RelayHandler relay = mock(RelayHandler.class);
        when(relay.config()).thenReturn(config);
        when(relay.events()).thenReturn(new ExchangeEvents());
        Request request = mock(Request.class);
        when(request.getMethod()).thenReturn("GET");
        ConnectionMetaData meta = mock(ConnectionMetaData.class);
        when(request.getConnectionMetaData()).thenReturn(meta);
        ExchangeImpl exchange = new ExchangeImpl("t-1", "GET", new InetSocketAddress("127.0.0.1", 1),
                new InetSocketAddress("127.0.0.1", 2), "/");
        return new ExchangeContext(relay, exchange, request, mock(Response.class), jetty, "/");
    }
}
