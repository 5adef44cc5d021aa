package io.github.gatehouse.cache.internal;

import io.github.gatehouse.cache.StoredEntry;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.RequestHead;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.Upstream;
import io.github.gatehouse.core.UpstreamPool;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Revalidates stale entries in the background ({@code stale-while-revalidate}, RFC 5861): sends its own conditional
 * {@code GET} to the upstream the exchange would have used (the route's pool and balancer in reverse mode, the
 * target itself in forward mode), then freshens the entry on 304 or stores the new response.
 *
 * <p>The proxy core offers no way for a cache to send a request through the relay without a client, so this class
 * owns a small jetty-client; it does not apply request filters nor the proxy's forwarding headers.
 */
final class BackgroundRevalidator implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackgroundRevalidator.class);
    private static final Set<String> DROPPED = Set.of("if-none-match", "if-modified-since", "if-range", "range",
            "if-match", "if-unmodified-since", "host", "content-length", "expect");

    private final CacheEngine engine;
    private final Duration timeout;
    private volatile HttpClient client;

    BackgroundRevalidator(CacheEngine engine, Duration timeout) {
        this.engine = engine;
        this.timeout = timeout;
    }

    private synchronized HttpClient client() throws Exception {
        if (client == null) {
            QueuedThreadPool pool = new QueuedThreadPool(8, 1);
            pool.setName("cache-revalidate");
            HttpClient c = new HttpClient();
            c.setExecutor(pool);
            c.setFollowRedirects(false);
            c.setUserAgentField(null);
            c.start();
            client = c;
        }
        return client;
    }

    CompletableFuture<Void> revalidate(Exchange exchange, StoredEntry entry, Instant requestTime,
            io.github.gatehouse.cache.CacheRule rule) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        String id = exchange.id(); // read everything from the exchange now: it ends before the revalidation does
        java.util.List<String> targeted = engine.targeted(exchange);
        try {
            RequestHead request = exchange.request();
            HttpHeaders headers = new HttpHeaders(request.headers());
            URI uri;
            String host;
            String h = request.host().indexOf(':') >= 0 ? "[" + request.host() + "]" : request.host();
            String clientHost = request.port() == (request.scheme().equals("https") ? 443 : 80) ? h : h + ":" + request.port();
            Route route = exchange.route().orElse(null);
            if (exchange.mode() == Exchange.Mode.REVERSE && route != null && route.pool().isPresent()) {
                UpstreamPool pool = route.pool().get();
                Upstream upstream = pool.select(exchange, java.util.List.of())
                        .orElseThrow(() -> new IllegalStateException("no upstream available in " + pool))
                        .upstream();
                String q = request.query();
                uri = URI.create(upstream.uri() + route.rewritePath(request.path()) + (q == null ? "" : "?" + q));
                switch (route.hostHeaderPolicy()) {
                    case UPSTREAM:
                        host = upstream.authority();
                        break;
                    case FIXED:
                        host = route.fixedHost().orElse(clientHost);
                        break;
                    default:
                        host = clientHost;
                }
            } else {
                uri = request.uri();
                host = clientHost;
            }
            HttpHeaders conditional = Responder.validators(entry.head());
            HttpHeaders requestHeaders = new HttpHeaders(headers);
            org.eclipse.jetty.client.Request upstreamRequest = client().newRequest(uri)
                    .method(HttpMethod.GET)
                    .timeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .headers(out -> {
                        headers.forEachField((n, v) -> {
                            if (!DROPPED.contains(n.toLowerCase(Locale.ROOT))) {
                                out.add(n, v);
                            }
                        });
                        out.put("Host", host);
                        conditional.forEachField(out::put);
                    });
            upstreamRequest.send(new Response.Listener() {
                private EntryWriter writer;

                @Override
                public void onHeaders(Response response) {
                    if (response.getStatus() == 304) {
                        engine.backgroundNotModified(entry, fields(response), requestTime, targeted);
                        return;
                    }
                    writer = engine.backgroundStore(entry, "GET", requestHeaders, response.getStatus(), fields(response),
                            requestTime, targeted, rule);
                }

                @Override
                public void onContent(Response response, ByteBuffer content) {
                    if (writer != null) {
                        writer.write(content);
                    }
                }

                @Override
                public void onComplete(Result result) {
                    if (writer != null) {
                        if (result.isSucceeded()) {
                            writer.complete();
                        } else {
                            writer.abort(result.getFailure());
                        }
                    }
                    if (result.isFailed()) {
                        done.completeExceptionally(result.getFailure());
                    } else {
                        if (LOG.isDebugEnabled()) {
                            LOG.debug("{} background revalidation of {} answered {}", id, uri,
                                    result.getResponse().getStatus());
                        }
                        done.complete(null);
                    }
                }
            });
        } catch (Exception e) {
            done.completeExceptionally(e);
        }
        return done;
    }

    private static HttpHeaders fields(Response response) {
        HttpHeaders h = new HttpHeaders();
        response.getHeaders().forEach(f -> {
            String n = f.getLowerCaseName();
            if (!n.equals("connection") && !n.equals("keep-alive") && !n.equals("transfer-encoding")) {
                h.add(f.getName(), f.getValue() == null ? "" : f.getValue());
            }
        });
        return h;
    }

    @Override
    public synchronized void close() {
        if (client != null) {
            try {
                client.stop();
            } catch (Exception e) {
                LOG.debug("stopping the revalidation client failed", e);
            }
        }
    }
}
