package dev.ferry.engine.remote;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP proxy between a client and a donor that injects network faults into the donor-to-client stream:
 * cut a connection (reset) after N bytes, stall it, black-hole it, or flip a byte. Plain blocking sockets, two
 * threads per connection; for tests only (public for the update tests in another package). Faults are armed from the
 * test thread and fire once.
 */
public final class FaultProxy implements AutoCloseable
{
    public enum Kind
    {
        NONE, RESET, STALL, BLACK_HOLE, CORRUPT
    }

    private final ServerSocket server;
    private volatile InetSocketAddress target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicLong downstream = new AtomicLong();
    private final AtomicLong upstream = new AtomicLong();
    private volatile long upstreamAtFault = -1;
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong faultsFired = new AtomicLong();
    private final Thread acceptor;
    private volatile Kind kind = Kind.NONE;
    private volatile long fireAt = Long.MAX_VALUE;
    private volatile long stallMs;
    private volatile boolean closed;
    private volatile long bytesPerSecond;

    /**
     * Limit donor-to-client throughput per connection (0 = unlimited), so a test can act mid-clone.
     */
    public void throttle(final long v)
    {
        bytesPerSecond = v;
    }

    public FaultProxy(final InetSocketAddress target) throws IOException
    {
        this.target = target;
        this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "fault-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /**
     * Forward new connections to {@code newTarget} (a donor that restarted on another port).
     */
    void retarget(final InetSocketAddress newTarget)
    {
        target = newTarget;
    }

    public InetSocketAddress address()
    {
        return new InetSocketAddress("127.0.0.1", server.getLocalPort());
    }

    /**
     * Fire {@code k} when the donor-to-client byte count (over all connections) passes {@code afterBytes} from now.
     */
    public synchronized void arm(final Kind k, final long afterBytes)
    {
        fireAt = downstream.get() + afterBytes;
        kind = k;
    }

    void stallMs(final long ms)
    {
        stallMs = ms;
    }

    public boolean armed()
    {
        return kind != Kind.NONE;
    }

    public long downstreamBytes()
    {
        return downstream.get();
    }

    /**
     * @return client-to-donor bytes forwarded over all connections.
     */
    public long upstreamBytes()
    {
        return upstream.get();
    }

    /**
     * @return the client-to-donor byte count when the last fault fired, -1 before any fired.
     */
    public long upstreamAtFault()
    {
        return upstreamAtFault;
    }

    public long connections()
    {
        return connections.get();
    }

    public long faultsFired()
    {
        return faultsFired.get();
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            try
            {
                final Socket client = server.accept();
                final Socket donor = new Socket();
                donor.connect(target, 5000);
                client.setTcpNoDelay(true);
                donor.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(donor);
                connections.incrementAndGet();
                final java.util.concurrent.atomic.AtomicBoolean holed = new java.util.concurrent.atomic.AtomicBoolean();
                start(() -> pump(client, donor, false, holed), "fault-proxy-up");
                start(() -> pump(donor, client, true, holed), "fault-proxy-down");
            }
            catch (final IOException ex)
            {
                if (closed)
                {
                    return;
                }
            }
        }
    }

    private static void start(final Runnable r, final String name)
    {
        final Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /**
     * @param holed shared by both directions of a connection: once a black hole fired, the donor's side stays open
     *              and read (its session lives on and keeps sending, as behind a dead link) whatever the client does.
     */
    private void pump(final Socket from, final Socket to, final boolean down,
        final java.util.concurrent.atomic.AtomicBoolean holed)
    {
        final byte[] buf = new byte[64 * 1024];
        try
        {
            final InputStream in = from.getInputStream();
            final OutputStream out = to.getOutputStream();
            while (true)
            {
                final int n = in.read(buf);
                if (n < 0)
                {
                    if (holed.get() && !down)
                    {
                        return; // the client left: the donor must not hear of it
                    }
                    to.shutdownOutput();
                    return;
                }
                if (holed.get())
                {
                    continue; // swallow everything, keep the sockets open
                }
                final long rate = bytesPerSecond;
                if (down && rate > 0)
                {
                    Thread.sleep(Math.max(1, n * 1000L / rate));
                }
                if (!down)
                {
                    upstream.addAndGet(n);
                }
                if (down)
                {
                    final long before = downstream.getAndAdd(n);
                    final Kind k = kind;
                    if (k != Kind.NONE && before + n > fireAt && claimFault(k))
                    {
                        final int at = (int)Math.max(0, Math.min(n - 1, fireAt - before));
                        switch (k)
                        {
                            case RESET:
                                out.write(buf, 0, at);
                                reset(from);
                                reset(to);
                                return;
                            case STALL:
                                out.write(buf, 0, at);
                                Thread.sleep(stallMs);
                                out.write(buf, at, n - at);
                                continue;
                            case BLACK_HOLE:
                                out.write(buf, 0, at);
                                holed.set(true);
                                continue;
                            case CORRUPT:
                                buf[at] ^= 0x5A;
                                break;
                            default:
                                break;
                        }
                    }
                }
                out.write(buf, 0, n);
            }
        }
        catch (final IOException | InterruptedException ex)
        {
            if (holed.get() && !down)
            {
                return; // the client's side broke: the donor's side stays open behind the hole
            }
            reset(from);
            reset(to);
        }
    }

    private synchronized boolean claimFault(final Kind k)
    {
        if (kind != k)
        {
            return false;
        }
        kind = Kind.NONE;
        fireAt = Long.MAX_VALUE;
        upstreamAtFault = upstream.get();
        faultsFired.incrementAndGet();
        return true;
    }

    private static void reset(final Socket s)
    {
        try
        {
            s.setSoLinger(true, 0);
            s.close();
        }
        catch (final SocketException ignore)
        {
            // already closed
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
