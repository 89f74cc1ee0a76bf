package dev.ferry.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * Accepts TCP connections on an {@link EventLoop} and hands each new socket to a consumer (which assigns it to a
 * loop). Loop thread only, after {@link #open}.
 */
public final class Acceptor implements AutoCloseable
{
    private static final int ACCEPTS_PER_CYCLE = 16;

    private final ServerSocketChannel server;
    private final Consumer<SocketChannel> onAccept;

    private Acceptor(final ServerSocketChannel server, final Consumer<SocketChannel> onAccept)
    {
        this.server = server;
        this.onAccept = onAccept;
    }

    /**
     * Bind and register with {@code loop}. Callable from any thread before the loop runs, or from the loop.
     */
    public static Acceptor open(final EventLoop loop, final InetSocketAddress address, final Consumer<SocketChannel> onAccept)
        throws IOException
    {
        return open(loop, address, null, onAccept);
    }

    /**
     * As {@link #open(EventLoop, InetSocketAddress, Consumer)}, with the receive buffer {@link SocketBuffers} asks for
     * set on the listening socket before it binds (accepted sockets inherit it, and their window scale with it).
     */
    public static Acceptor open(final EventLoop loop, final InetSocketAddress address, final TransportSettings settings,
        final Consumer<SocketChannel> onAccept) throws IOException
    {
        final ServerSocketChannel server = ServerSocketChannel.open();
        try
        {
            if (settings != null)
            {
                SocketBuffers.apply(server, settings);
            }
            server.bind(address, 1024);
            server.configureBlocking(false);
            final Acceptor acceptor = new Acceptor(server, onAccept);
            loop.execute(() ->
            {
                try
                {
                    server.register(loop.selector(), SelectionKey.OP_ACCEPT, acceptor);
                }
                catch (final IOException ex)
                {
                    acceptor.close();
                }
            });
            return acceptor;
        }
        catch (final IOException ex)
        {
            server.close();
            throw ex;
        }
    }

    public InetSocketAddress localAddress() throws IOException
    {
        return (InetSocketAddress)server.getLocalAddress();
    }

    int onAccept()
    {
        int n = 0;
        for (int i = 0; i < ACCEPTS_PER_CYCLE; i++)
        {
            final SocketChannel ch;
            try
            {
                ch = server.accept();
            }
            catch (final IOException ex)
            {
                return n;
            }
            if (ch == null)
            {
                break;
            }
            n++;
            onAccept.accept(ch);
        }
        return n;
    }

    @Override
    public void close()
    {
        try
        {
            server.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }
}
