package dev.ferry.engine.recipient;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.Test;

/**
 * {@link RestartBackoff} on a fake clock: the waits, the window counted from the start of an outage, and what starts
 * a new outage. No sleeps.
 */
class RestartBackoffTest
{
    private final CachedNanoClock clock = new CachedNanoClock();
    private final RestartBackoff backoff = new RestartBackoff(clock);

    private void advanceMs(final long ms)
    {
        clock.advance(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    @Test
    void waitsStartAtZeroThenDoubleFromFiftyMillisecondsUpToFiveSeconds()
    {
        clock.update(1_000_000_000L);
        backoff.onFailure(false);
        final List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            waits.add(backoff.nextWaitMs());
        }
        assertEquals(List.of(0L, 50L, 100L, 200L, 400L, 800L, 1600L, 3200L, 5000L, 5000L), waits);
    }

    @Test
    void theWindowCountsFromTheStartOfTheOutageNotFromEachFailure()
    {
        backoff.onFailure(false);
        advanceMs(9_000);
        backoff.onFailure(false); // a reconnection attempt failed: the same outage
        assertTrue(backoff.fits(1_000, 10_000), "9 s + 1 s ends exactly at the window");
        assertFalse(backoff.fits(1_001, 10_000));
        assertEquals(1_000, backoff.remainingMs(10_000));
        advanceMs(2_000);
        assertEquals(0, backoff.remainingMs(10_000));
    }

    @Test
    void aFailureAfterTheCloneRanAgainStartsANewOutageWithAFreshBackoff()
    {
        backoff.onFailure(false);
        backoff.nextWaitMs();
        backoff.nextWaitMs();
        assertEquals(100, backoff.nextWaitMs());
        advanceMs(60_000);
        backoff.onFailure(true); // the master was accepted again in between
        assertEquals(0, backoff.nextWaitMs(), "a new outage tries at once");
        assertEquals(50, backoff.nextWaitMs());
        assertEquals(10_000, backoff.remainingMs(10_000), "and gets a whole window");
        backoff.onFailure(false);
        assertEquals(100, backoff.nextWaitMs(), "a failure while reconnecting keeps the backoff");
    }
}
