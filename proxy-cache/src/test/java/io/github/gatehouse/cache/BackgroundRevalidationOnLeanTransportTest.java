package io.github.gatehouse.cache;

import io.github.gatehouse.core.internal.JettyProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link BackgroundRevalidationThroughRelayTest} again on the lean HTTP/1.1 upstream transport
 * ({@code -Dgatehouse.upstream.transport=lean}): a background exchange takes whichever transport a client's would.
 */
class BackgroundRevalidationOnLeanTransportTest extends BackgroundRevalidationThroughRelayTest {
    @BeforeAll
    static void lean() {
        System.setProperty(JettyProxy.TRANSPORT_PROPERTY, "lean");
    }

    @AfterAll
    static void jettyClient() {
        System.clearProperty(JettyProxy.TRANSPORT_PROPERTY);
    }
}
