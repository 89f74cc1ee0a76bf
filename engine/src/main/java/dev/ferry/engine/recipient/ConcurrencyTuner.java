package dev.ferry.engine.recipient;

import java.util.concurrent.TimeUnit;

/**
 * Decides how many connections a clone runs when the caller did not pin {@code --threads} (issue 13; MySQL's
 * {@code clone_autotune_concurrency} grows its threads the same way, toward a maximum while each step pays off).
 * <p>
 * <b>Rule.</b> Start with {@code initial} connections. Once data flows, measure the rate (bytes per second the clone
 * moves forward: received over the network plus pieces the donor found unchanged, so that an update, whose pace is
 * the two sides' hashing and not the link, adds connections only while they hash faster) over a {@link #WINDOW_NANOS}
 * window; that is the baseline. Then grow like TCP's slow start: double the connections,
 * let the new ones settle for {@link #SETTLE_NANOS} (handshake, COM_ATTACH, TCP slow start), and measure a window
 * again. A step that brought at least half of what it would have on a link with room to spare (doubling: at least
 * +50%) is followed by the next doubling. A step that brought less has found where the link fills (the knee lies
 * inside it), and a step that brought under {@link #GAIN} (10%) was not needed: either way the tuner stops there,
 * keeping the connections it added (dropping them would lose what they hold in flight), and never goes past
 * {@code max}. One step costs {@code SETTLE + WINDOW} = 1 s, so a link that needs {@code k} times the initial
 * connections is full after about {@code 0.7 + log2(k)} s (on issue 13's link, 2 to 8 connections in 1.7 s, where
 * one connection at a time took 7 s to reach 5), at the price of up to twice the connections it needs.
 * <p>
 * Pure decision logic on a clock the caller passes in, for deterministic tests with fake samples. Single-threaded:
 * the clone's driver thread.
 */
public final class ConcurrencyTuner
{
    /** How long an added connection settles before its effect is measured. */
    public static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(300);
    /** How long one measurement lasts. */
    public static final long WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(700);
    /** The rise an addition must bring over the best rate before it, as a fraction. */
    public static final double GAIN = 0.10;

    private final int max;
    private int connections;
    private boolean stopped;
    /** Connections the last step added. */
    private int lastAdded;
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
     * @return the connections the clone should run now: the same as before, or more.
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
        else
        {
            final double gain = best > 0 ? rate / best - 1 : (rate > 0 ? Double.MAX_VALUE : 0);
            best = Math.max(best, rate);
            // a step of `added` onto `before` connections that had room would raise the rate by added / before
            if (gain < GAIN || gain < 0.5 * lastAdded / (connections - lastAdded))
            {
                stopped = true; // not needed, or the link filled inside this step
                return connections;
            }
        }
        if (connections >= max)
        {
            stopped = true;
            return connections;
        }
        lastAdded = Math.min(connections, max - connections);
        connections += lastAdded;
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
