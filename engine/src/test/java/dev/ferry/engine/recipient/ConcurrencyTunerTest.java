package dev.ferry.engine.recipient;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntToDoubleFunction;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The autotune rule on a fake clock with synthetic throughput: each connection count gives a rate (bytes/s), bytes
 * accrue at it, and the tuner is fed every 100 ms. No sockets, no sleeping.
 */
class ConcurrencyTunerTest
{
    private static final long STEP = TimeUnit.MILLISECONDS.toNanos(100);
    private static final double MB = 1e6;

    /** What a run of the tuner did: the count at each 100 ms step. */
    private static final class Run
    {
        final List<Integer> counts = new ArrayList<>();
        ConcurrencyTuner tuner;

        /** @return seconds from the start until the count first reached {@code n}, or -1. */
        double secondsTo(final int n)
        {
            for (int i = 0; i < counts.size(); i++)
            {
                if (counts.get(i) >= n)
                {
                    return i * 0.1;
                }
            }
            return -1;
        }
    }

    private static Run run(final int initial, final int max, final double seconds, final IntToDoubleFunction rate)
    {
        final Run r = new Run();
        r.tuner = new ConcurrencyTuner(initial, max);
        long now = 1_000_000_000L;
        double bytes = 0;
        int n = initial;
        for (int i = 0; i < seconds * 10; i++)
        {
            n = r.tuner.onSample(now, (long)bytes);
            r.counts.add(n);
            bytes += rate.applyAsDouble(n) * STEP / 1e9;
            now += STEP;
        }
        return r;
    }

    /**
     * The link: 20 MB/s per connection (its window), 100 MB/s in all. Five connections fill it; the sixth and
     * seventh do not pay, so the tuner stops at seven, and reaches five about 1.5 s per step after a 1 s baseline.
     */
    @Test
    void growsUntilTheLinkIsFullThenStopsAfterTwoMisses()
    {
        final Run r = run(2, 16, 30, n -> Math.min(n * 20 * MB, 100 * MB));
        assertTrue(r.tuner.stopped());
        assertEquals(7, r.tuner.connections(), "5 fill the link, 6 and 7 are the two misses: " + r.counts);
        assertEquals(7, (int)r.counts.get(r.counts.size() - 1));
        final double full = r.secondsTo(5);
        assertTrue(full > 0 && full <= 1.0 + 3 * 1.5 + 0.3, "five connections after " + full + " s");
        assertTrue(r.secondsTo(7) <= 1.0 + 5 * 1.5 + 0.3, "seven after " + r.secondsTo(7) + " s");
        for (int i = 1; i < r.counts.size(); i++)
        {
            assertTrue(r.counts.get(i) - r.counts.get(i - 1) <= 1, "one connection at a time: " + r.counts);
        }
        assertEquals(100 * MB, r.tuner.bestRate(), MB);
    }

    /** A disk-bound clone: more connections bring nothing; two tries, then it stays at four. */
    @Test
    void flatThroughputStopsAfterTwoAdditions()
    {
        final Run r = run(2, 16, 20, n -> 50 * MB);
        assertTrue(r.tuner.stopped());
        assertEquals(4, r.tuner.connections(), r.counts.toString());
    }

    /** A gain just under 10% is a miss; just over, a pay. */
    @Test
    void tenPercentIsTheThreshold()
    {
        final Run under = run(2, 16, 20, n -> 100 * MB * Math.pow(1.09, n));
        assertEquals(4, under.tuner.connections(), "9% per step does not pay: " + under.counts);
        final Run over = run(2, 6, 30, n -> 100 * MB * Math.pow(1.11, n));
        assertEquals(6, over.tuner.connections(), "11% per step pays up to the maximum: " + over.counts);
        assertTrue(over.tuner.stopped());
    }

    /** One miss followed by an addition that pays resets the count of misses. */
    @Test
    void aPayingAdditionAfterAMissKeepsGoing()
    {
        // 3 brings nothing over 2, 4 brings a lot (say two half-used chunks finish), 5 and 6 nothing
        final Run r = run(2, 16, 30, n -> n <= 3 ? 40 * MB : 80 * MB);
        assertEquals(6, r.tuner.connections(), r.counts.toString());
        assertTrue(r.tuner.stopped());
    }

    /**
     * Never past the maximum, however well additions pay; a pinned count (initial = max) never moves. (Linear growth
     * would stop by itself at 12: from 11 to 12 connections is only 9% more.)
     */
    @Test
    void maximumAndPinned()
    {
        final Run r = run(2, 16, 60, n -> Math.pow(1.5, n) * MB);
        assertEquals(16, r.tuner.connections());
        assertTrue(r.counts.stream().allMatch(n -> n <= 16));
        assertTrue(r.tuner.stopped());
        final Run pinned = run(2, 2, 10, n -> n * 20 * MB);
        assertTrue(pinned.counts.stream().allMatch(n -> n == 2));
        assertTrue(pinned.tuner.stopped());
    }

    /** A reconnect pause is not measured: nothing arrives while reconnecting, and no miss is counted for it. */
    @Test
    void aRestartIsNotCountedAsAMiss()
    {
        final ConcurrencyTuner t = new ConcurrencyTuner(2, 16);
        long now = 0;
        long bytes = 0;
        // baseline at 2 connections, 40 MB/s
        for (int i = 0; i < 11; i++)
        {
            t.onSample(now, bytes);
            bytes += 4_000_000;
            now += STEP;
        }
        assertEquals(3, t.connections(), "the baseline is done: one added");
        t.onRestart(now);
        // 3 s reconnecting: nothing arrives, and the tuner must not judge the third connection on it
        for (int i = 0; i < 30; i++)
        {
            t.onSample(now, bytes);
            now += STEP;
            t.onRestart(now); // the driver re-settles while it reconnects
        }
        assertEquals(3, t.connections());
        // back at 60 MB/s with three: that pays
        for (int i = 0; i < 16; i++)
        {
            t.onSample(now, bytes);
            bytes += 6_000_000;
            now += STEP;
        }
        assertEquals(4, t.connections());
        assertFalse(t.stopped());
    }

    @Test
    void refusesNonsense()
    {
        assertThrows(IllegalArgumentException.class, () -> new ConcurrencyTuner(0, 4));
        assertThrows(IllegalArgumentException.class, () -> new ConcurrencyTuner(3, 2));
    }
}
