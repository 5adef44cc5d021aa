package io.github.gatehouse.core.internal;

import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The one reference through which new exchanges reach the relay of the configuration in force: a reconfiguration
 * builds a whole new {@link RelayHandler} (every phase built from the new {@link ProxyConfig}) and swaps it in here.
 * Each exchange keeps the relay it started on ({@link ExchangeContext#relay}), so exchanges in flight finish on the
 * old configuration. The first relay stays this handler's child, so that Jetty starts and stops it (and the deadline
 * timer and tunnel handler that every later relay shares).
 *
 * <p><b>Threading.</b> Thread-safe: {@link #current} is volatile, {@link #swap} is called by one thread at a time.
 */
final class RelaySwitch extends Handler.Wrapper {
    private volatile RelayHandler current;

    RelaySwitch(RelayHandler first) {
        super(first);
        this.current = first;
    }

    RelayHandler current() {
        return current;
    }

    /** New exchanges go to {@code next} from now on; returns the relay they went to until now. */
    RelayHandler swap(RelayHandler next) {
        RelayHandler previous = current;
        current = next;
        return previous;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        return current.handle(request, response, callback);
    }
}
