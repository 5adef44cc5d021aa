package io.github.gatehouse.core.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.util.BufferUtil;

/**
 * The upstream clients' connector: its TCP endpoints report a failed read (a reset) as a failure.
 *
 * <p>Jetty's {@link SocketChannelEndPoint#fill} turns an {@link IOException} from the socket into an end of input,
 * so a close-delimited response body (no {@code Content-Length}, no chunking) cut by a reset would look exactly like
 * one ended by a clean FIN, and the relay would pass a truncated body off as complete. Here the read error is
 * rethrown after the input is shut down, and jetty-client fails the exchange with it.
 *
 * <p>Thread-safe as Jetty's connector is.
 */
final class ResetAwareClientConnector extends ClientConnector {
    @Override
    protected EndPoint newEndPoint(SelectableChannel selectable, ManagedSelector selector, SelectionKey selectionKey) {
        if (selectable instanceof SocketChannel) {
            return new ResetAwareEndPoint((SocketChannel) selectable, selector, selectionKey, this);
        }
        return super.newEndPoint(selectable, selector, selectionKey);
    }

    private static final class ResetAwareEndPoint extends SocketChannelEndPoint {
        ResetAwareEndPoint(SocketChannel channel, ManagedSelector selector, SelectionKey key, ClientConnector connector) {
            super(channel, selector, key, connector.getScheduler());
        }

        @Override
        public int fill(ByteBuffer buffer) throws IOException {
            if (isInputShutdown()) {
                return -1;
            }
            int pos = BufferUtil.flipToFill(buffer);
            int filled;
            try {
                filled = getChannel().read(buffer);
                if (filled > 0) {
                    notIdle();
                } else if (filled == -1) {
                    shutdownInput();
                }
            } catch (IOException e) {
                shutdownInput();
                throw e; // a reset is a failure, never an end of the body
            } finally {
                BufferUtil.flipToFlush(buffer, pos);
            }
            return filled;
        }
    }
}
