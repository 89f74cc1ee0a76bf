package dev.ferry.engine.tools;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A loopback TCP proxy for {@code ferry bench --restarts}: forwards every connection to a donor and resets
 * connections (RST, both sides) when the donor-to-client byte count, over all connections, passes each of a list of
 * cut points given up front. Counts the bytes it carried each way.
 * <p>
 * Benchmark tooling, not library code: blocking sockets and two daemon threads per connection. {@link #close} may
 * be called from any thread; the counters may be read from any thread.
 */
public final class CuttingProxy extends LoopbackProxy
{
    private static final int COPY_BUFFER_BYTES = 64 * 1024;

    private final long[] cutAt;
    private int nextCut;

    /**
     * @param donor where to forward connections.
     * @param cutAt ascending donor-to-client byte counts at which to cut the connection carrying that byte.
     */
    public CuttingProxy(final InetSocketAddress donor, final long[] cutAt) throws IOException
    {
        super(donor);
        if (!ascending(cutAt))
        {
            close();
            throw new IllegalArgumentException("cut points must ascend: " + java.util.Arrays.toString(cutAt));
        }
        this.cutAt = cutAt.clone();
        startAccepting("cutting-proxy");
    }

    private static boolean ascending(final long[] cutAt)
    {
        for (int i = 1; i < cutAt.length; i++)
        {
            if (cutAt[i] <= cutAt[i - 1])
            {
                return false;
            }
        }
        return true;
    }

    /**
     * @return cuts made so far.
     */
    public synchronized int cuts()
    {
        return nextCut;
    }

    @Override
    protected void relay(final Socket client, final Socket toDonor, final long id)
    {
        start(() -> pump(client, toDonor, false), "cutting-proxy-up");
        start(() -> pump(toDonor, client, true), "cutting-proxy-down");
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
}
