package io.github.gatehouse.core.internal;

import java.util.function.Consumer;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/** Reads a small request body whole (its length known and capped by the caller), without blocking. */
final class BodyBuffer implements Runnable {
    private final Request request;
    private final ExchangeImpl exchange;
    private final byte[] body;
    private final Consumer<byte[]> onBody;
    private final Consumer<Throwable> onFailure;
    private int filled;

    private BodyBuffer(Request request, ExchangeImpl exchange, int length, Consumer<byte[]> onBody, Consumer<Throwable> onFailure) {
        this.request = request;
        this.exchange = exchange;
        this.body = new byte[length];
        this.onBody = onBody;
        this.onFailure = onFailure;
    }

    static void read(Request request, ExchangeImpl exchange, int length, Consumer<byte[]> onBody, Consumer<Throwable> onFailure) {
        new BodyBuffer(request, exchange, length, onBody, onFailure).run();
    }

    @Override
    public void run() {
        while (true) {
            Content.Chunk chunk = request.read();
            if (chunk == null) {
                request.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                onFailure.accept(chunk.getFailure());
                return;
            }
            int n = chunk.remaining();
            if (filled + n > body.length) {
                chunk.release();
                onFailure.accept(new org.eclipse.jetty.http.BadMessageException("request body longer than its Content-Length"));
                return;
            }
            chunk.getByteBuffer().get(body, filled, n);
            filled += n;
            exchange.addBytesIn(n);
            boolean last = chunk.isLast();
            chunk.release();
            if (last) {
                if (filled != body.length) {
                    onFailure.accept(new org.eclipse.jetty.http.BadMessageException("request body shorter than its Content-Length"));
                } else {
                    onBody.accept(body);
                }
                return;
            }
        }
    }
}
