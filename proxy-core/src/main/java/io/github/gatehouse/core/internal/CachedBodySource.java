package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.HttpHeaders;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A stored response as a {@link BodyRelay.Source}: phase 8 for its head (the response filters see it as they see an
 * upstream head), then its body pulled one buffer at a time from the cache's publisher into the same body relay that
 * upstream responses use. The exchange is {@link RelayState#SERVING_CACHED} throughout.
 *
 * <p><b>Threading.</b> The publisher signals one at a time (Reactive Streams rules); demand comes from the client's
 * write callbacks.
 */
final class CachedBodySource implements Flow.Subscriber<ByteBuffer>, BodyRelay.Source {
    private static final Logger LOG = LoggerFactory.getLogger(CachedBodySource.class);

    private final ExchangeContext x;
    private final RelayHandler relay;
    private volatile Flow.Subscription subscription;
    private volatile BodyRelay body;

    private CachedBodySource(RelayHandler relay, ExchangeContext x) {
        this.relay = relay;
        this.x = x;
    }

    /** Serves {@code cached} to the client; the exchange must already be {@link RelayState#SERVING_CACHED}. */
    static void serve(RelayHandler relay, ExchangeContext x, CachedResponse cached) {
        new CachedBodySource(relay, x).start(cached);
    }

    private void start(CachedResponse cached) {
        HttpHeaders headers = cached.headers();
        headers.add("Via", relay.via(false));
        ResponseHeadImpl head = new ResponseHeadImpl(cached.status(), headers);
        boolean hasBody = !"HEAD".equals(x.exchange.request().method()) && head.status() != 204 && head.status() != 304;
        BodyFilterChain filters;
        try {
            filters = relay.filters().respond(x, head, hasBody);
        } catch (RuntimeException e) {
            LOG.error("{} failed while preparing a cached response head", x.exchange.id(), e);
            relay.answers().internalError(x, "response filter failed");
            cached.body().subscribe(new Cancelling());
            return;
        }
        body = new BodyRelay(x, this, filters, null, relay.answers());
        if (!hasBody) {
            cached.body().subscribe(new Cancelling());
            body.onEnd();
            return;
        }
        cached.body().subscribe(this);
    }

    // ---- Flow.Subscriber: the cache's publisher --------------------------------------------------------------

    @Override
    public void onSubscribe(Flow.Subscription s) {
        this.subscription = s;
        s.request(1);
    }

    @Override
    public void onNext(ByteBuffer item) {
        body.onData(item, null);
    }

    @Override
    public void onError(Throwable failure) {
        if (x.state().isTerminal()) {
            return;
        }
        if (!x.response.isCommitted()) {
            LOG.warn("{} cached body failed before the response began: {}", x.exchange.id(), Failures.describe(failure));
            x.response.reset();
            relay.answers().answer(x, 502, "cached response could not be read", "proxy_internal_error", null, false);
            return;
        }
        LOG.warn("{} cached body failed mid-response; aborting the client response: {}", x.exchange.id(),
                Failures.describe(failure));
        x.failed(failure);
    }

    @Override
    public void onComplete() {
        body.onEnd();
    }

    // ---- BodyRelay.Source ------------------------------------------------------------------------------------

    @Override
    public void demand() {
        subscription.request(1);
    }

    @Override
    public void abort(Throwable cause) {
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
    }

    @Override
    public void lastWritten() {
        x.succeeded();
    }

    /** Takes a stored body nobody will read, and cancels it at once so the store releases it. */
    private static final class Cancelling implements Flow.Subscriber<ByteBuffer> {
        @Override
        public void onSubscribe(Flow.Subscription s) {
            s.cancel();
        }

        @Override
        public void onNext(ByteBuffer item) {
        }

        @Override
        public void onError(Throwable throwable) {
        }

        @Override
        public void onComplete() {
        }
    }
}
