package io.github.gatehouse.core.internal;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;

/**
 * Resolves upstream host names (asynchronously, through Jetty's resolver) and drops addresses the
 * {@link DestinationPolicy} denies, after resolution, so a public-looking name that resolves to loopback or to the
 * metadata service is caught at connect time.
 */
final class GuardedResolver implements SocketAddressResolver {
    private final SocketAddressResolver delegate;
    private final DestinationPolicy policy;

    GuardedResolver(SocketAddressResolver delegate, DestinationPolicy policy) {
        this.delegate = delegate;
        this.policy = policy;
    }

    @Override
    public void resolve(String host, int port, Map<String, Object> context, Promise<List<InetSocketAddress>> promise) {
        delegate.resolve(host, port, context, new Promise<>() {
            @Override
            public void succeeded(List<InetSocketAddress> addresses) {
                List<InetSocketAddress> permitted = new ArrayList<>(addresses.size());
                for (InetSocketAddress a : addresses) {
                    if (policy.allows(a)) {
                        permitted.add(a);
                    }
                }
                if (permitted.isEmpty() && !addresses.isEmpty()) {
                    promise.failed(new DestinationPolicy.DeniedDestinationException(host, port, addresses.get(0).getAddress()));
                } else {
                    promise.succeeded(permitted);
                }
            }

            @Override
            public void failed(Throwable failure) {
                promise.failed(failure);
            }
        });
    }
}
