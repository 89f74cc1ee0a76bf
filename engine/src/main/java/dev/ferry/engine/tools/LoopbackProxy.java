package dev.ferry.engine.tools;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the bench's loopback proxies share: a listening socket on 127.0.0.1, an accept thread that connects each
 * client to the donor and hands the pair to {@link #relay}, byte and connection counters, and a close that resets
 * every connection. Subclasses decide what happens to the bytes on the way ({@link CuttingProxy} cuts connections,
 * {@link WanProxy} delays and paces them).
 * <p>
 * Tooling, not library code: blocking sockets and daemon threads. {@link #close} may be called from any thread; the
 * counters may be read from any thread.
 */
public abstract class LoopbackProxy implements AutoCloseable
{
    private static final int CONNECT_TIMEOUT_MS = 5_000;

    /** Bytes carried from the donor to clients. */
    protected final AtomicLong downstream = new AtomicLong();
    /** Bytes carried from clients to the donor. */
    protected final AtomicLong upstream = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final InetSocketAddress donor;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    protected LoopbackProxy(final InetSocketAddress donor) throws IOException
    {
        this.donor = donor;
        this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
    }

    /**
     * Start accepting (call last in the subclass's constructor, once its own fields are set).
     */
    protected final void startAccepting(final String name)
    {
        start(this::acceptLoop, name + "-accept");
    }

    /**
     * Carry the bytes of one connection both ways, on threads of the subclass's own (see {@link #start}).
     *
     * @param id 1 for the first connection, then 2, ...
     */
    protected abstract void relay(Socket client, Socket toDonor, long id);

    /**
     * @return the address clients connect to.
     */
    public final InetSocketAddress address()
    {
        return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
    }

    /**
     * @return bytes carried from the donor to clients.
     */
    public final long downstreamBytes()
    {
        return downstream.get();
    }

    /**
     * @return bytes carried from clients to the donor.
     */
    public final long upstreamBytes()
    {
        return upstream.get();
    }

    /**
     * @return connections accepted so far.
     */
    public final long connections()
    {
        return connections.get();
    }

    protected final boolean isClosed()
    {
        return closed;
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            final Socket client;
            try
            {
                client = server.accept();
            }
            catch (final IOException ex)
            {
                return; // closed
            }
            final Socket toDonor = new Socket();
            try
            {
                toDonor.connect(donor, CONNECT_TIMEOUT_MS);
                client.setTcpNoDelay(true);
                toDonor.setTcpNoDelay(true);
            }
            catch (final IOException ex)
            {
                reset(client); // the donor refused this one connection: the client sees a reset and retries
                reset(toDonor);
                continue;
            }
            sockets.add(client);
            sockets.add(toDonor);
            relay(client, toDonor, connections.incrementAndGet());
        }
    }

    /**
     * Run {@code task} on a new daemon thread.
     */
    protected static void start(final Runnable task, final String name)
    {
        final Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
    }

    /**
     * Close {@code s} with a reset (RST), as a broken link would.
     */
    protected static void reset(final Socket s)
    {
        try
        {
            s.setSoLinger(true, 0);
            s.close();
        }
        catch (final IOException ignore)
        {
            // already closed
        }
    }

    @Override
    public void close()
    {
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
        for (final Socket s : sockets)
        {
            reset(s);
        }
    }
}
