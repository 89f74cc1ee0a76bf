package dev.ferry.engine.tools;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.agrona.concurrent.SystemNanoClock;

import dev.ferry.transport.TokenBucket;

/**
 * A loopback TCP proxy that behaves like a long fat link, for {@code ferry bench --wan} and tests: every connection
 * is forwarded to a donor through two one-way pipes, each of which
 * <ul>
 * <li>delays every byte by half the round trip ({@code rttMs / 2}) before it reaches the other side;</li>
 * <li>keeps at most {@code windowBytes} unacknowledged per connection and direction: a byte counts until half a
 * round trip after the far side accepted it (its ACK coming back), so one connection moves at most
 * {@code window / RTT}, as a TCP window does;</li>
 * <li>takes tokens from one {@link TokenBucket} per direction shared by every connection (the link's rate; 0: none).
 * </li>
 * </ul>
 * A connection through it reaches {@code min(window / RTT, link rate / connections)}: 1 MiB over 50 ms is about
 * 20 MB/s, so a 100 MB/s link needs five connections. Counts the bytes it carried each way.
 * <p>
 * Tooling, not library code: blocking sockets, two threads per direction of each connection, a byte array per
 * read. {@link #close} may be called from any thread; the counters may be read from any thread.
 */
public final class WanProxy extends LoopbackProxy
{
    private static final int READ_BYTES = 64 * 1024;
    /** The longest a reader sleeps before looking again (a window or a bucket it waits on). */
    private static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    /** The shortest sleep for tokens: a bucket refills in bursts, and a sleep costs a wakeup. */
    private static final long MIN_TOKEN_WAIT_NANOS = TimeUnit.MICROSECONDS.toNanos(500);

    private final long oneWayNanos;
    private final long windowBytes;
    private final TokenBucket down;
    private final TokenBucket up;

    /**
     * @param donor       where to forward connections.
     * @param linkRate    bytes per second each way, all connections together; 0 for no limit.
     * @param rttMs       round trip time added (half each way).
     * @param windowBytes unacknowledged bytes per connection and direction, at least 64 KiB.
     * @throws IllegalArgumentException if a parameter is out of range.
     */
    public WanProxy(final InetSocketAddress donor, final long linkRate, final long rttMs, final long windowBytes)
        throws IOException
    {
        super(donor);
        if (linkRate < 0 || rttMs < 0 || windowBytes < READ_BYTES)
        {
            close();
            throw new IllegalArgumentException("a WAN link needs a rate >= 0, an RTT >= 0 and a window >= " + READ_BYTES +
                " bytes: got " + linkRate + " B/s, " + rttMs + " ms, " + windowBytes + " bytes");
        }
        this.oneWayNanos = TimeUnit.MILLISECONDS.toNanos(rttMs) / 2;
        this.windowBytes = windowBytes;
        this.down = new TokenBucket(SystemNanoClock.INSTANCE, linkRate, null);
        this.up = new TokenBucket(SystemNanoClock.INSTANCE, linkRate, null);
        startAccepting("wan-proxy");
    }

    @Override
    protected void relay(final Socket client, final Socket toDonor, final long id)
    {
        new Pipe(toDonor, client, down, downstream).start("wan-proxy-down-" + id);
        new Pipe(client, toDonor, up, upstream).start("wan-proxy-up-" + id);
    }

    /**
     * One direction of one connection: a reader thread that respects the window and the link's rate and stamps each
     * read with the time it may be delivered, and a writer thread that delivers it then and acknowledges it half a
     * round trip later.
     */
    private final class Pipe
    {
        private final Socket from;
        private final Socket to;
        private final TokenBucket link;
        private final AtomicLong carried;
        private final LinkedBlockingQueue<Segment> inFlight = new LinkedBlockingQueue<>();
        private final ConcurrentLinkedQueue<Segment> acks = new ConcurrentLinkedQueue<>();
        private volatile Thread reader;
        private final long linkRate;

        Pipe(final Socket from, final Socket to, final TokenBucket link, final AtomicLong carried)
        {
            this.from = from;
            this.to = to;
            this.link = link;
            this.carried = carried;
            this.linkRate = link.rate();
        }

        void start(final String name)
        {
            LoopbackProxy.start(() ->
            {
                reader = Thread.currentThread();
                read();
            }, name + "-read");
            LoopbackProxy.start(this::write, name + "-write");
        }

        private void read()
        {
            long unacked = 0;
            try
            {
                final InputStream in = from.getInputStream();
                while (!isClosed())
                {
                    unacked -= takeAcks(System.nanoTime());
                    while (unacked >= windowBytes - 1 && !isClosed())
                    {
                        // the window is full: sleep until the oldest acknowledgement is due (the writer wakes this
                        // thread when it queues one), not in a poll that would wake thousands of times a second
                        final Segment next = acks.peek();
                        LockSupport.parkNanos(next == null ? MAX_WAIT_NANOS :
                            Math.min(MAX_WAIT_NANOS, Math.max(0, next.at - System.nanoTime())));
                        unacked -= takeAcks(System.nanoTime());
                    }
                    final byte[] b = new byte[(int)Math.min(READ_BYTES, windowBytes - unacked)];
                    final int n = in.read(b);
                    if (n < 0)
                    {
                        break;
                    }
                    long paid = 0;
                    while (paid < n && !isClosed())
                    {
                        final long g = link.acquire(n - paid);
                        paid += g;
                        if (paid < n)
                        {
                            // the link is busy: sleep about as long as the bucket needs to refill what is missing
                            final long rate = Math.max(1, linkRate);
                            LockSupport.parkNanos(Math.min(MAX_WAIT_NANOS, Math.max(MIN_TOKEN_WAIT_NANOS,
                                (n - paid) * 1_000_000_000L / rate)));
                        }
                    }
                    unacked += n;
                    inFlight.put(new Segment(b, n, System.nanoTime() + oneWayNanos));
                }
            }
            catch (final IOException | InterruptedException ex)
            {
                // the connection ended
            }
            inFlight.offer(new Segment(null, -1, System.nanoTime() + oneWayNanos));
        }

        private long takeAcks(final long now)
        {
            long acked = 0;
            Segment s;
            while ((s = acks.peek()) != null && s.at <= now)
            {
                acks.poll();
                acked += s.length;
            }
            return acked;
        }

        private void write()
        {
            try
            {
                final OutputStream out = to.getOutputStream();
                while (true)
                {
                    final Segment s = inFlight.take();
                    long wait;
                    while ((wait = s.at - System.nanoTime()) > 0)
                    {
                        LockSupport.parkNanos(wait);
                    }
                    if (s.length < 0)
                    {
                        to.shutdownOutput();
                        return;
                    }
                    out.write(s.bytes, 0, s.length);
                    carried.addAndGet(s.length);
                    final boolean wasEmpty = acks.isEmpty();
                    acks.offer(new Segment(null, s.length, System.nanoTime() + oneWayNanos));
                    final Thread r = reader;
                    if (r != null && wasEmpty)
                    {
                        LockSupport.unpark(r); // a reader asleep on an empty queue learns when this one is due
                    }
                }
            }
            catch (final IOException | InterruptedException ex)
            {
                closeQuietly(from);
                closeQuietly(to);
            }
        }
    }

    private record Segment(byte[] bytes, int length, long at)
    {
    }


    private static void closeQuietly(final Socket s)
    {
        try
        {
            s.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }

}
