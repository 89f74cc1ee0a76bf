package dev.ferry.engine.tools;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP proxy for {@code ferry bench --restarts}: forwards every connection to a donor and resets
 * connections (RST, both sides) when the donor-to-client byte count, over all connections, passes each of a list of
 * cut points given up front. Counts the bytes it carried each way.
 * <p>
 * Benchmark tooling, not library code: blocking sockets and two daemon threads per connection. {@link #close} may
 * be called from any thread; the counters may be read from any thread.
 */
public final class CuttingProxy implements AutoCloseable
{
    private static final int COPY_BUFFER_BYTES = 64 * 1024;
    private static final int CONNECT_TIMEOUT_MS = 5_000;

    private final InetSocketAddress donor;
    private final long[] cutAt;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicLong downstream = new AtomicLong();
    private final AtomicLong upstream = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private int nextCut;
    private volatile boolean closed;

    /**
     * @param donor where to forward connections.
     * @param cutAt ascending donor-to-client byte counts at which to cut the connection carrying that byte.
     */
    public CuttingProxy(final InetSocketAddress donor, final long[] cutAt) throws IOException
    {
        for (int i = 1; i < cutAt.length; i++)
        {
            if (cutAt[i] <= cutAt[i - 1])
            {
                throw new IllegalArgumentException("cut points must ascend: " + cutAt[i - 1] + ", " + cutAt[i]);
            }
        }
        this.donor = donor;
        this.cutAt = cutAt.clone();
        this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        start(this::acceptLoop, "cutting-proxy-accept");
    }

    /**
     * @return the address clients connect to.
     */
    public InetSocketAddress address()
    {
        return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
    }

    /**
     * @return bytes carried from the donor to clients (including those of connections later cut).
     */
    public long downstreamBytes()
    {
        return downstream.get();
    }

    /**
     * @return bytes carried from clients to the donor.
     */
    public long upstreamBytes()
    {
        return upstream.get();
    }

    /**
     * @return connections accepted.
     */
    public long connections()
    {
        return connections.get();
    }

    /**
     * @return cuts made so far.
     */
    public synchronized int cuts()
    {
        return nextCut;
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            try
            {
                final Socket client = server.accept();
                final Socket upstreamSocket = new Socket();
                sockets.add(client);
                sockets.add(upstreamSocket);
                upstreamSocket.connect(donor, CONNECT_TIMEOUT_MS);
                client.setTcpNoDelay(true);
                upstreamSocket.setTcpNoDelay(true);
                connections.incrementAndGet();
                start(() -> pump(client, upstreamSocket, false), "cutting-proxy-up");
                start(() -> pump(upstreamSocket, client, true), "cutting-proxy-down");
            }
            catch (final IOException ex)
            {
                // closed, or the donor refused this one connection: the client sees a reset and retries
            }
        }
    }

    private void pump(final Socket from, final Socket to, final boolean down)
    {
        final byte[] buffer = new byte[COPY_BUFFER_BYTES];
        try
        {
            final InputStream in = from.getInputStream();
            final OutputStream out = to.getOutputStream();
            while (true)
            {
                final int n = in.read(buffer);
                if (n < 0)
                {
                    to.shutdownOutput();
                    return;
                }
                if (!down)
                {
                    upstream.addAndGet(n);
                    out.write(buffer, 0, n);
                    continue;
                }
                final long before = downstream.getAndAdd(n);
                final long cut = claimCut(before + n);
                if (cut >= 0)
                {
                    out.write(buffer, 0, (int)Math.max(0, cut - before));
                    reset(from);
                    reset(to);
                    return;
                }
                out.write(buffer, 0, n);
            }
        }
        catch (final IOException ex)
        {
            reset(from);
            reset(to);
        }
    }

    /**
     * @return the cut point that {@code end} (a downstream byte count) passed, now taken by the caller, or -1.
     */
    private synchronized long claimCut(final long end)
    {
        if (nextCut < cutAt.length && end > cutAt[nextCut])
        {
            return cutAt[nextCut++];
        }
        return -1;
    }

    private static void start(final Runnable task, final String name)
    {
        final Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
    }

    private static void reset(final Socket s)
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
    public void close() throws IOException
    {
        closed = true;
        server.close();
        for (final Socket s : sockets)
        {
            reset(s);
        }
    }
}
