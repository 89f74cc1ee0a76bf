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
     * The link: 20 MB/s per connection (its window), 100 MB/s in all. 2 -> 4 doubles the rate (pays in
     * full), 4 -> 8 brings 25%, under half of what a doubling brings on a link with room: the link filled inside that
     * step, so the tuner stops at 8, with the link full 2 s after the start (one connection at a time took 5.5 s to
     * reach 5 and stopped at 7 after 8.5 s).
     */
    @Test
    void doublesUntilTheLinkIsFullThenStops()
    {
        final Run r = run(2, 16, 30, n -> Math.min(n * 20 * MB, 100 * MB));
        assertTrue(r.tuner.stopped());
        assertEquals(8, r.tuner.connections(), r.counts.toString());
        assertEquals(8, (int)r.counts.get(r.counts.size() - 1));
        final double window = ConcurrencyTuner.WINDOW_NANOS / 1e9;
        final double step = (ConcurrencyTuner.SETTLE_NANOS + ConcurrencyTuner.WINDOW_NANOS) / 1e9;
        assertEquals(window, r.secondsTo(4), 0.15, "the baseline window, then the first doubling: " + r.counts);
        assertEquals(window + step, r.secondsTo(8), 0.25, "one settle and window later, the second: " + r.counts);
        for (int i = 1; i < r.counts.size(); i++)
        {
            final int before = r.counts.get(i - 1);
            final int now = r.counts.get(i);
            assertTrue(now == before || now == 2 * before, "a step doubles: " + r.counts);
        }
        assertEquals(100 * MB, r.tuner.bestRate(), MB);
    }

    /** A disk-bound clone: more connections bring nothing; one doubling is tried, then it stays at four. */
    @Test
    void flatThroughputStopsAfterOneStep()
    {
        final Run r = run(2, 16, 20, n -> 50 * MB);
        assertTrue(r.tuner.stopped());
        assertEquals(4, r.tuner.connections(), r.counts.toString());
    }

    /**
     * A doubling must bring half of a doubling (+50%) to be followed by another; it stops on less. A link where every
     * connection adds 60% of the first's rate goes on; one where the second half adds 40% does not.
     */
    @Test
    void halfOfADoublingIsTheThreshold()
    {
        final Run goes = run(2, 32, 30, n -> 10 * MB * (1 + 0.6 * (n - 1)));
        // 2 -> 4: (1 + 1.8) / 1.6 = +75%; 4 -> 8: 5.2 / 2.8 = +86%; 8 -> 16: 10 / 5.2 = +92%; 16 -> 32 capped: stops at max
        assertEquals(32, goes.tuner.connections(), goes.counts.toString());
        final Run stops = run(2, 32, 30, n -> n <= 2 ? 20 * MB : 28 * MB);
        assertEquals(4, stops.tuner.connections(), "+40% from a doubling: the knee is inside it: " + stops.counts);
        assertTrue(stops.tuner.stopped());
    }

    /** Under 10% is never worth it, even for the smallest step (one connection on top of many). */
    @Test
    void tenPercentIsTheFloor()
    {
        final Run r = run(15, 16, 20, n -> n <= 15 ? 100 * MB : 109 * MB);
        assertEquals(16, r.tuner.connections(), r.counts.toString());
        assertTrue(r.tuner.stopped());
        assertEquals(109 * MB, r.tuner.lastRate(), MB);
    }

    /**
     * Never past the maximum, however well additions pay; a pinned count (initial = max) never moves; the last step
     * is cut to what is left below the maximum.
     */
    @Test
    void maximumAndPinned()
    {
        final Run r = run(2, 12, 60, n -> Math.pow(1.5, n) * MB);
        assertEquals(12, r.tuner.connections(), r.counts.toString());
        assertTrue(r.counts.contains(8) && r.counts.stream().allMatch(n -> n <= 12), r.counts.toString());
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
        assertEquals(4, t.connections(), "the baseline is done: doubled");
        t.onRestart(now);
        // 3 s reconnecting: nothing arrives, and the tuner must not judge the new connections on it
        for (int i = 0; i < 30; i++)
        {
            t.onSample(now, bytes);
            now += STEP;
            t.onRestart(now); // the driver re-settles while it reconnects
        }
        assertEquals(4, t.connections());
        // back at 80 MB/s with four: that pays
        for (int i = 0; i < 16; i++)
        {
            t.onSample(now, bytes);
            bytes += 8_000_000;
            now += STEP;
        }
        assertEquals(8, t.connections());
        assertFalse(t.stopped());
    }

    @Test
    void refusesNonsense()
    {
        assertThrows(IllegalArgumentException.class, () -> new ConcurrencyTuner(0, 4));
        assertThrows(IllegalArgumentException.class, () -> new ConcurrencyTuner(3, 2));
    }
}
