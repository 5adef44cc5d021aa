package io.github.gatehouse.core.testsupport;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.Container;

/**
 * Counts the connections a Jetty connector opens and closes, as its {@code Connection.Listener}, so that a test waits
 * for connection events instead of polling a count. Register it before the connections it should see
 * ({@link #on}); a connection replaced by an upgrade (a {@code CONNECT} tunnel taking over the client's connection)
 * counts as closed at the upgrade, and a TLS endpoint counts twice (its TLS and its HTTP connection).
 *
 * <p>A close reported here is not yet a released file descriptor: a channel closed while registered with a selector
 * keeps its descriptor until that selector's next {@code select()}. {@link #awaitAllReleased()} waits for that too.
 *
 * <p><b>Threading.</b> Events arrive on I/O threads; every method is thread-safe (one monitor).
 */
public final class ConnectionEvents implements Connection.Listener {
    private static final long WAIT_SECONDS = 20;

    private final String name;
    private final Container root;
    private int opened;
    private int closed;

    private ConnectionEvents(String name, Container root) {
        this.name = name;
        this.root = root;
    }

    /** Counts the connections of {@code connector} from now on; {@code name} appears in failure messages. */
    public static ConnectionEvents on(ServerConnector connector, String name) {
        ConnectionEvents events = new ConnectionEvents(name, connector.getServer());
        connector.addEventListener(events);
        return events;
    }

    @Override
    public synchronized void onOpened(Connection connection) {
        opened++;
        notifyAll();
    }

    @Override
    public synchronized void onClosed(Connection connection) {
        closed++;
        notifyAll();
    }

    /** Connections opened so far. */
    public synchronized int opened() {
        return opened;
    }

    /** Connections closed so far. */
    public synchronized int closed() {
        return closed;
    }

    /** Waits (at most 20 s) until {@code count} connections in all have opened. */
    public void awaitOpened(int count) throws InterruptedException {
        await(() -> opened >= count, count + " opened");
    }

    /** Waits (at most 20 s) until every connection opened so far has closed. */
    public void awaitAllClosed() throws InterruptedException {
        await(() -> closed >= opened, "every opened connection closed");
    }

    /**
     * Waits until every connection opened so far has closed ({@link #awaitAllClosed()}) and the selectors of the
     * connector's server have released their descriptors ({@link #awaitSelectorsCycled}).
     */
    public void awaitAllReleased() throws InterruptedException {
        awaitAllClosed();
        awaitSelectorsCycled(root);
    }

    private synchronized void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError(name + ": not within " + WAIT_SECONDS + " s: " + what + " (opened " + opened
                        + ", closed " + closed + ")");
            }
            TimeUnit.NANOSECONDS.timedWait(this, left); // woken by onOpened / onClosed
        }
    }

    /**
     * Returns once every Jetty selector under {@code root} (connectors, {@code ConnectHandler}, {@code HttpClient}) ran
     * a {@code select()} that began after this call did. A socket channel closed while registered with a selector
     * keeps its file descriptor until that selector's next {@code select()} deregisters it, and Jetty reports the
     * close to listeners before that. An update submitted to a selector runs on its thread between two selects, so
     * a second update, submitted once the first ran, runs after at least one select that followed the first.
     *
     * @throws AssertionError if {@code root} holds no selector, or a selector ran no update within 10 s
     */
    public static void awaitSelectorsCycled(Container root) throws InterruptedException {
        java.util.Collection<ManagedSelector> selectors = root.getContainedBeans(ManagedSelector.class);
        if (selectors.isEmpty()) {
            throw new AssertionError("no selector under " + root + " (expected: a started Jetty server)");
        }
        for (ManagedSelector selector : selectors) {
            for (int i = 0; i < 2; i++) {
                CountDownLatch ran = new CountDownLatch(1);
                selector.submit(s -> ran.countDown());
                if (!ran.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("selector " + selector + " ran no update within 10 s");
                }
            }
        }
    }
}
