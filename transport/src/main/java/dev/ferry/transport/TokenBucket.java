package dev.ferry.transport;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.agrona.concurrent.NanoClock;

/**
 * A rate limit in bytes per second shared by every connection of a clone (and, with a {@link #parent}, by every clone
 * of a donor): connections {@link #acquire} tokens before bytes go to or come from the socket and {@link #refund} what
 * the socket did not take. Thread-safe and lock-free: any number of loop threads acquire at once, and any thread may
 * {@link #rate(long)} change the rate at runtime.
 * <p>
 * <b>Algorithm</b>: a virtual-scheduling token bucket (the GCRA of ATM traffic shaping) kept in one
 * {@link AtomicLong}, the <i>cursor</i>: the instant up to which every granted byte is paid for. Acquiring at time
 * {@code now} sees {@code (now - max(cursor, now - burstNanos)) * rate} bytes available, takes up to that many and
 * moves the cursor forward by their cost with one compare-and-set. The cursor never passes {@code now} (plus a
 * nanosecond of rounding), so no caller ever holds debt; an idle bucket fills up to the burst and no further.
 * <p>
 * <b>Burst</b>: {@link #BURST_NANOS} (200 ms) worth of the rate, at least {@link #MIN_BURST_BYTES}. Over any
 * interval of {@code t} seconds at most {@code rate * t + burst} bytes are granted: at most 1.2x the rate over any
 * one second (WDT's peak of 1.2x the average) and within 2% over any 10 s window.
 * <p>
 * A rate of {@link #UNLIMITED} grants everything asked at once (one volatile read); changing the rate keeps the
 * cursor, so a full bucket stays full at the new rate.
 */
public final class TokenBucket
{
    /** The rate meaning "no limit". */
    public static final long UNLIMITED = 0;

    /** The burst, as time at the current rate. */
    public static final long BURST_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    /** The burst is never smaller than this, so a low rate still moves a useful amount per call. */
    public static final long MIN_BURST_BYTES = 64 * 1024;

    private static final double NANOS_PER_SECOND = 1e9;

    private final NanoClock clock;
    private final TokenBucket parent;
    private final AtomicLong cursor;
    private volatile long rate;

    /**
     * @param clock  the time tokens accrue on (a test passes a {@link org.agrona.concurrent.CachedNanoClock}).
     * @param rate   bytes per second, or {@link #UNLIMITED}.
     * @param parent a bucket every grant must also come from (a donor's total), or null.
     * @throws IllegalArgumentException if the rate is negative.
     */
    public TokenBucket(final NanoClock clock, final long rate, final TokenBucket parent)
    {
        this.clock = clock;
        this.parent = parent;
        this.rate = check(rate);
        this.cursor = new AtomicLong(clock.nanoTime() - BURST_NANOS); // starts with BURST_NANOS of tokens
    }

    private static long check(final long rate)
    {
        if (rate < 0)
        {
            throw new IllegalArgumentException("a rate limit must be >= 0 bytes/s (0: unlimited), got " + rate);
        }
        return rate;
    }

    /**
     * @return bytes per second, or {@link #UNLIMITED}. Any thread.
     */
    public long rate()
    {
        return rate;
    }

    /**
     * Change the rate; takes effect at the next {@link #acquire}. Any thread.
     *
     * @param bytesPerSecond the new rate, or {@link #UNLIMITED}.
     * @throws IllegalArgumentException if negative.
     */
    public void rate(final long bytesPerSecond)
    {
        rate = check(bytesPerSecond);
    }

    /**
     * @return the burst at the current rate in bytes, or {@link Long#MAX_VALUE} when unlimited.
     */
    public long burstBytes()
    {
        final long r = rate;
        return r == UNLIMITED ? Long.MAX_VALUE : Math.max(MIN_BURST_BYTES, bytesFor(BURST_NANOS, r));
    }

    /**
     * Take up to {@code want} bytes of tokens, from this bucket and its parent. Any thread; never blocks.
     *
     * @return the bytes granted, {@code 0..want}; 0 when the bucket is empty now (try again on a later tick).
     */
    public long acquire(final long want)
    {
        if (want <= 0)
        {
            return 0;
        }
        final long r = rate;
        final long granted = r == UNLIMITED ? want : take(want, r);
        if (granted == 0 || parent == null)
        {
            return granted;
        }
        final long fromParent = parent.acquire(granted);
        if (fromParent < granted && r != UNLIMITED)
        {
            giveBack(granted - fromParent, r);
        }
        return fromParent;
    }

    /**
     * Return tokens acquired and not used (the socket took fewer bytes than granted), to this bucket and its parent.
     * Any thread.
     */
    public void refund(final long bytes)
    {
        if (bytes <= 0)
        {
            return;
        }
        final long r = rate;
        if (r != UNLIMITED)
        {
            giveBack(bytes, r);
        }
        if (parent != null)
        {
            parent.refund(bytes);
        }
    }

    private long take(final long want, final long r)
    {
        final long now = clock.nanoTime();
        final long window = Math.max(BURST_NANOS, nanosFor(MIN_BURST_BYTES, r));
        while (true)
        {
            final long c = cursor.get();
            final long base = Math.max(c, now - window);
            final long available = bytesFor(now - base, r);
            if (available <= 0)
            {
                return 0;
            }
            final long g = Math.min(want, available);
            if (cursor.compareAndSet(c, base + nanosFor(g, r)))
            {
                return g;
            }
        }
    }

    private void giveBack(final long bytes, final long r)
    {
        // floor: a refund never returns more time than the grant cost (which was rounded up)
        cursor.addAndGet(-(long)(bytes * NANOS_PER_SECOND / r));
    }

    /** Bytes the rate earns in {@code nanos} (at most the window, so a double is exact enough), rounded down. */
    private static long bytesFor(final long nanos, final long r)
    {
        return nanos <= 0 ? 0 : (long)(nanos * (double)r / NANOS_PER_SECOND);
    }

    /** The time {@code bytes} cost at the rate, rounded up. */
    private static long nanosFor(final long bytes, final long r)
    {
        return (long)Math.ceil(bytes * NANOS_PER_SECOND / r);
    }

    @Override
    public String toString()
    {
        return "TokenBucket{rate=" + rate + (parent == null ? "" : ", parent=" + parent) + "}";
    }
}
