package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CachedResponse;
import io.github.gatehouse.core.HttpHeaders;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a {@link CachedResponse} to the client through the response filters, pulling its body one buffer at a time:
 * the next buffer is requested only once the previous one was written.
 */
final class CachedResponseSender implements Flow.Subscriber<ByteBuffer> {
    private static final Logger LOG = LoggerFactory.getLogger(CachedResponseSender.class);

    private final RelayHandler relay;
    private final ExchangeImpl exchange;
    private final Response clientResponse;
    private final Callback done;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile Flow.Subscription subscription;
    private volatile BodyFilterChain bodyFilters;

    CachedResponseSender(RelayHandler relay, ExchangeImpl exchange, Request clientRequest, Response clientResponse,
            Callback done) {
        this.relay = relay;
        this.exchange = exchange;
        this.clientResponse = clientResponse;
        this.done = done;
    }

    void send(CachedResponse cached) {
        HttpHeaders headers = cached.headers();
        headers.add("Via", relay.via(false));
        ResponseHeadImpl head = new ResponseHeadImpl(cached.status(), headers);
        boolean hasBody = !"HEAD".equals(exchange.request().method()) && head.status() != 204 && head.status() != 304;
        try {
            bodyFilters = relay.prepareResponse(exchange, clientResponse, head, hasBody);
        } catch (RuntimeException e) {
            LOG.error("{} failed while preparing a cached response head", exchange.id(), e);
            relay.internalError(exchange, clientResponse, done, "response filter failed");
            return;
        }
        if (!hasBody) {
            cancelQuietly(cached);
            clientResponse.write(true, RelayHandler.empty(), done);
            return;
        }
        cached.body().subscribe(this);
    }

    private static void cancelQuietly(CachedResponse cached) {
        cached.body().subscribe(new Flow.Subscriber<>() {
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
        });
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
        this.subscription = subscription;
        subscription.request(1);
    }

    @Override
    public void onNext(ByteBuffer item) {
        ByteBuffer out = item;
        BodyFilterChain filters = bodyFilters;
        if (filters != null) {
            out = filters.apply(item, false);
            if (filters.isBlocked()) {
                subscription.cancel();
                blocked(filters);
                return;
            }
        }
        if (!out.hasRemaining()) {
            subscription.request(1);
            return;
        }
        clientResponse.write(false, out, Callback.from(Callback.InvocationType.NON_BLOCKING,
                () -> subscription.request(1),
                failure -> {
                    subscription.cancel();
                    fail(failure);
                }));
    }

    @Override
    public void onError(Throwable failure) {
        if (!clientResponse.isCommitted() && finished.compareAndSet(false, true)) {
            LOG.warn("{} cached body failed before the response began: {}", exchange.id(), Failures.describe(failure));
            relay.answer(exchange, clientResponse, done, 502, "cached response could not be read", "proxy_internal_error", null, false);
            return;
        }
        LOG.warn("{} cached body failed mid-response; aborting the client response: {}", exchange.id(), Failures.describe(failure));
        fail(failure);
    }

    @Override
    public void onComplete() {
        ByteBuffer out = RelayHandler.empty();
        BodyFilterChain filters = bodyFilters;
        if (filters != null) {
            out = filters.apply(out, true);
            if (filters.isBlocked()) {
                blocked(filters);
                return;
            }
        }
        clientResponse.write(true, out, Callback.from(Callback.InvocationType.NON_BLOCKING, () -> {
            if (finished.compareAndSet(false, true)) {
                done.succeeded();
            }
        }, this::fail));
    }

    private void blocked(BodyFilterChain filters) {
        if (!finished.compareAndSet(false, true)) {
            return;
        }
        if (!clientResponse.isCommitted()) {
            clientResponse.reset();
            relay.answer(exchange, clientResponse, done, filters.blockStatus(), filters.blockReason(), null, null, false);
        } else {
            exchange.reason(filters.blockReason());
            done.failed(new CancellationException("response blocked: " + filters.blockReason()));
        }
    }

    private void fail(Throwable failure) {
        if (finished.compareAndSet(false, true)) {
            done.failed(failure);
        }
    }
}
