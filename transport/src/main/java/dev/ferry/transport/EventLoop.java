package dev.ferry.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.jctools.queues.MpscUnboundedArrayQueue;

/**
 * A selector loop that owns a set of {@link Connection}s: it is the only thread that reads, writes or changes
 * them. Other threads hand it work with {@link #execute}, through a lock-free queue, and it drains a bounded number
 * of commands per duty cycle. Blocks in {@code select} for at most one tick when idle.
 * <p>
 * Run it with an {@link org.agrona.concurrent.AgentRunner} and a no-op idle strategy, or call {@link #doWork} from
 * a test.
 */
public final class EventLoop implements Agent
{
    private static final int COMMANDS_PER_CYCLE = 64;

    private final String name;
    private final Selector selector;
    private final MpscUnboundedArrayQueue<Runnable> commands = new MpscUnboundedArrayQueue<>(256);
    private final List<Connection> connections = new ArrayList<>();
    private final long tickNanos;
    private final NanoClock clock;
    private volatile boolean closed;
    private long cycle;

    /**
     * A loop on the system's clock.
     *
     * @param name   agent name, for thread names.
     * @param tickMs at most this long between ticks (timeouts, heartbeats, ACK batching).
     */
    public EventLoop(final String name, final long tickMs)
    {
        this(name, tickMs, SystemNanoClock.INSTANCE);
    }

    /**
     * @param name   agent name, for thread names.
     * @param tickMs at most this long between ticks (timeouts, heartbeats, ACK batching).
     * @param clock  the time every heartbeat, timeout and tick of this loop's connections is measured with; a test
     *               passes a {@link org.agrona.concurrent.CachedNanoClock} and moves it by hand.
     */
    public EventLoop(final String name, final long tickMs, final NanoClock clock)
    {
        this.name = name;
        this.tickNanos = TimeUnit.MILLISECONDS.toNanos(tickMs);
        this.clock = clock;
        try
        {
            this.selector = Selector.open();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    Selector selector()
    {
        return selector;
    }

    /**
     * @return the clock of this loop and its connections. Any thread.
     */
    public NanoClock clock()
    {
        return clock;
    }

    /**
     * Run a command on the loop thread. Callable from any thread.
     */
    public void execute(final Runnable command)
    {
        commands.offer(command);
        selector.wakeup();
    }

    /**
     * Wake the loop from {@code select}. Callable from any thread.
     */
    public void wakeup()
    {
        selector.wakeup();
    }

    void add(final Connection c)
    {
        connections.add(c);
    }

    void remove(final Connection c)
    {
        connections.remove(c);
    }

    /**
     * @return connections this loop owns. Loop thread only.
     */
    public int connectionCount()
    {
        return connections.size();
    }

    /**
     * @return the duty cycles run so far: a handler that bounds what it does per cycle (a byte budget per turn)
     * starts a new budget when this changes. Loop thread only.
     */
    public long cycle()
    {
        return cycle;
    }

    @Override
    public int doWork() throws IOException
    {
        cycle++;
        int work = 0;
        for (int i = 0; i < COMMANDS_PER_CYCLE; i++)
        {
            final Runnable r = commands.poll();
            if (r == null)
            {
                break;
            }
            r.run();
            work++;
        }
        final long timeoutMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(tickNanos));
        final int ready = work > 0 ? selector.selectNow() : selector.select(timeoutMs);
        if (ready > 0)
        {
            final var keys = selector.selectedKeys();
            for (final SelectionKey key : keys)
            {
                final Object a = key.attachment();
                if (a instanceof Connection)
                {
                    work += ((Connection)a).onReady(key);
                }
                else if (a instanceof Acceptor)
                {
                    work += ((Acceptor)a).onAccept();
                }
            }
            keys.clear();
        }
        // tick on every cycle: a wakeup from another thread (a returned buffer, an apply result) must be seen at once.
        // Round-robin: each cycle starts one connection further on, so the one ticked first (which takes the tokens a
        // shared rate limit gained since the last cycle) changes every cycle instead of always being the same.
        final long now = clock.nanoTime();
        final int size = connections.size();
        final int first = size == 0 ? 0 : (int)(cycle % size);
        for (int k = size - 1; k >= 0; k--)
        {
            final int i = (k + first) % size;
            if (i < connections.size()) // a tick may close (remove) a connection
            {
                connections.get(i).tick(now);
            }
        }
        return work;
    }

    @Override
    public void onClose()
    {
        closed = true;
        for (int i = connections.size() - 1; i >= 0; i--)
        {
            connections.get(i).close(dev.ferry.core.protocol.ErrorCode.CANCELLED, "event loop closed");
        }
        Runnable r;
        while ((r = commands.poll()) != null)
        {
            try
            {
                r.run();
            }
            catch (final RuntimeException ignore)
            {
                // closing: nothing more to do for it
            }
        }
        try
        {
            selector.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }

    public boolean isClosed()
    {
        return closed;
    }

    @Override
    public String roleName()
    {
        return name;
    }
}
