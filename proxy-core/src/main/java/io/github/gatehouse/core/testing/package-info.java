/**
 * Gatehouse's testing kit: what the project's own tests use, published for yours. Add JUnit 5
 * ({@code org.junit.jupiter:junit-jupiter}) to your test dependencies; proxy-core only declares it optional.
 *
 * <ul>
 *   <li>{@link io.github.gatehouse.core.testing.ProxyUnderTest}: a JUnit 5 extension that builds a
 *       {@link io.github.gatehouse.core.ProxyServer} from your builder code, starts it on an ephemeral loopback port
 *       and hands out clients that go through it.</li>
 *   <li>{@link io.github.gatehouse.core.testing.MockOrigin}: a scriptable origin server on a real socket, in the
 *       spirit of OkHttp's MockWebServer: enqueue {@link io.github.gatehouse.core.testing.MockResponse}s (delays,
 *       gates, chunked or generated bodies, trailers, mid-body aborts, connection resets) or serve them by path,
 *       over HTTP or HTTPS; take the
 *       {@link io.github.gatehouse.core.testing.RecordedRequest}s it received.</li>
 *   <li>{@link io.github.gatehouse.core.testing.FaultInjection}: a {@link io.github.gatehouse.core.ProxyFilter}
 *       that adds latency, answers 5xx or aborts responses for a seeded share of requests.</li>
 *   <li>{@link io.github.gatehouse.core.testing.SettableClock}: a {@link java.time.Clock} tests move by hand, for the
 *       cache, rate limits, lockouts and time-of-day rules, so no test waits for real time to pass.</li>
 * </ul>
 *
 * <pre>{@code
 * class HelloThroughTheProxyTest {
 *     @RegisterExtension static final MockOrigin origin = MockOrigin.create();
 *     @RegisterExtension static final ProxyUnderTest proxy =
 *             ProxyUnderTest.of(b -> b.forward().allowAllInternalDestinations());
 *
 *     @Test
 *     void theOriginsAnswerReachesTheClient() throws Exception {
 *         origin.enqueue(MockResponse.ok("hello"));
 *         HttpResponse<String> response = proxy.client().send(
 *                 HttpRequest.newBuilder(origin.uri("/greeting")).build(), HttpResponse.BodyHandlers.ofString());
 *         assertThat(response.body()).isEqualTo("hello");
 *         assertThat(origin.takeRequest().header("Via")).hasValueSatisfying(via -> assertThat(via).contains("1.1"));
 *     }
 * }
 * }</pre>
 *
 * <p>Everything here listens on loopback only and uses named threads ({@code origin-NAME}, {@code proxy-client}),
 * so a hung test's thread dump says who is stuck. Nothing here sleeps in your test thread: waits are bounded
 * blocking takes that fail with an {@link AssertionError} naming what did not happen.
 */
package io.github.gatehouse.core.testing;
