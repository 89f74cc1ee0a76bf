package dev.ferry.engine.recipient;

import java.util.concurrent.TimeUnit;

/**
 * Decides how many connections a clone runs when the caller did not pin {@code --threads} (issue 13; MySQL's
 * {@code clone_autotune_concurrency} grows its threads the same way, toward a maximum while each step pays off).
 * <p>
 * <b>Rule.</b> Start with {@code initial} connections. Once data flows, measure the rate (bytes received per second)
 * over a {@link #WINDOW_NANOS} window; that is the baseline. Add one connection, let it settle for
 * {@link #SETTLE_NANOS} (handshake, COM_ATTACH, TCP slow start), then measure a window again. The addition paid if
 * the new rate is at least {@link #GAIN} (10%) above the best rate seen before it: then add the next one at once.
 * An addition that did not pay is a miss; after {@link #MISSES_TO_STOP} (2) misses in a row the tuner stops, and it
 * never goes past {@code max}. A miss keeps the connection it added (dropping it would save little and lose what it
 * holds in flight). So one step costs {@code SETTLE + WINDOW} = 1.5 s, and a link is full about 1.5 s per missing
 * connection after the start.
 * <p>
 * Pure decision logic on a clock the caller passes in, for deterministic tests with fake samples. Single-threaded:
 * the clone's driver thread.
 */
public final class ConcurrencyTuner
{
    /** How long an added connection settles before its effect is measured. */
    public static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** How long one measurement lasts. */
    public static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** The rise an addition must bring over the best rate before it, as a fraction. */
    public static final double GAIN = 0.10;
    /** Misses in a row after which no connection is added. */
    public static final int MISSES_TO_STOP = 2;

    private final int max;
    private int connections;
    private boolean stopped;
    private int misses;
    /** Best rate measured so far (bytes/s); negative before the baseline. */
    private double best = -1;
    /** When the current measurement starts (after settling), and the byte count then; -1: not started. */
    private long windowStartNanos = -1;
    private long windowStartBytes;
    private long settleUntilNanos;
    private boolean settling;
    private double lastRate;

    /**
     * @param initial connections at the start, at least 1.
     * @param max     most connections, at least {@code initial}.
     */
    public ConcurrencyTuner(final int initial, final int max)
    {
        if (initial < 1 || max < initial)
        {
            throw new IllegalArgumentException("need 1 <= initial <= max, got " + initial + " and " + max);
        }
        this.connections = initial;
        this.max = max;
        this.stopped = initial == max;
    }

    /**
     * Feed the bytes received so far (a monotonic count), about every 100 ms to a second, once data flows.
     *
     * @return the connections the clone should run now: the same as before, or one more.
     */
    public int onSample(final long nowNanos, final long bytes)
    {
        if (stopped)
        {
            return connections;
        }
        if (settling)
        {
            if (nowNanos - settleUntilNanos < 0)
            {
                return connections;
            }
            settling = false;
            windowStartNanos = -1;
        }
        if (windowStartNanos == -1)
        {
            windowStartNanos = nowNanos;
            windowStartBytes = bytes;
            return connections;
        }
        final long elapsed = nowNanos - windowStartNanos;
        if (elapsed < WINDOW_NANOS)
        {
            return connections;
        }
        final double rate = (bytes - windowStartBytes) * 1e9 / elapsed;
        lastRate = rate;
        if (best < 0)
        {
            best = rate; // the baseline at the initial count
        }
        else if (rate >= best * (1 + GAIN))
        {
            best = rate;
            misses = 0;
        }
        else
        {
            misses++;
            best = Math.max(best, rate);
            if (misses >= MISSES_TO_STOP)
            {
                stopped = true;
                return connections;
            }
        }
        if (connections >= max)
        {
            stopped = true;
            return connections;
        }
        connections++;
        settling = true;
        settleUntilNanos = nowNanos + SETTLE_NANOS;
        return connections;
    }

    /**
     * The clone reconnected (its connections were all re-made): what is measured before it is not comparable, so
     * the current window starts again after a settle; the count and the best rate are kept.
     */
    public void onRestart(final long nowNanos)
    {
        settling = true;
        settleUntilNanos = nowNanos + SETTLE_NANOS;
    }

    /** @return the connections decided so far. */
    public int connections()
    {
        return connections;
    }

    /** @return true once no more connections will be added. */
    public boolean stopped()
    {
        return stopped;
    }

    /** @return the rate of the last finished window, bytes/s (0 before the first). */
    public double lastRate()
    {
        return lastRate;
    }

    /** @return the best window rate so far, bytes/s (0 before the baseline). */
    public double bestRate()
    {
        return Math.max(0, best);
    }
}
