package io.github.gatehouse.core.internal;

import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * The client's request body as the upstream request's content: a zero-copy, demand-driven view of the server
 * request. The upstream connection reads a chunk only when it can write it, so a slow upstream slows the client's
 * upload instead of filling the heap.
 */
final class ClientRequestContent implements org.eclipse.jetty.client.Request.Content {
    private final Request clientRequest;
    private final ExchangeImpl exchange;
    private final long length;
    private final String contentType;
    private volatile boolean started;

    ClientRequestContent(Request clientRequest, ExchangeImpl exchange) {
        this.clientRequest = clientRequest;
        this.exchange = exchange;
        this.length = clientRequest.getLength();
        this.contentType = clientRequest.getHeaders().get("Content-Type");
    }

    @Override
    public String getContentType() {
        return contentType;
    }

    @Override
    public long getLength() {
        return length;
    }

    @Override
    public Content.Chunk read() {
        Content.Chunk chunk = clientRequest.read();
        if (chunk != null) {
            started = true;
        }
        if (chunk == null || Content.Chunk.isFailure(chunk)) {
            return chunk;
        }
        exchange.addBytesIn(chunk.remaining());
        if (!chunk.hasRemaining()) {
            return chunk;
        }
        // jetty-client may release a request-content chunk while its socket write is still pending (an upstream
        // that fails mid-upload): a server buffer released that way returns to the server's pool and is reused by
        // another connection's parser while the stale write still moves its position. The soak saw valid requests
        // answered 400 ("Illegal character", "Bad EOL"). The upstream gets a private copy; the server buffer goes
        // back to its pool at once.
        java.nio.ByteBuffer copy = java.nio.ByteBuffer.allocate(chunk.remaining());
        copy.put(chunk.getByteBuffer().slice()).flip();
        boolean last = chunk.isLast();
        chunk.release();
        return Content.Chunk.from(copy, last);
    }

    @Override
    public void demand(Runnable demandCallback) {
        clientRequest.demand(demandCallback);
    }

    @Override
    public void fail(Throwable failure) {
        // Before the first read (the upstream connection failed) the client's body is untouched and the request
        // may still be retried elsewhere; failing it now would poison that retry.
        if (started) {
            clientRequest.fail(failure);
        }
    }

    @Override
    public boolean rewind() {
        return false;
    }
}
