package dev.ferry.engine.recipient;

import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.NanoClock;

/**
 * When to try reconnecting after a network failure, as the clone plugin does it: the first attempt at once, then
 * waits of 50 ms doubling up to 5 s, for as long as the restart window lasts from the start of the outage. An outage
 * starts at a failure that follows a successful reconnection (the master task was accepted again); failures while
 * still reconnecting belong to the same outage and keep its deadline and its backoff.
 * <p>
 * The clone's driver thread; time comes from the injected clock, so tests drive it deterministically.
 */
final class RestartBackoff
{
    static final long FIRST_WAIT_MS = 50;
    static final long MAX_WAIT_MS = 5000;

    private final NanoClock clock;
    private long outageStartNanos;
    private boolean inOutage;
    private long waitMs;

    RestartBackoff(final NanoClock clock)
    {
        this.clock = clock;
    }

    /**
     * A connection failed.
     *
     * @param reconnected true if the clone was running again (master accepted) since the previous failure.
     */
    void onFailure(final boolean reconnected)
    {
        if (!inOutage || reconnected)
        {
            inOutage = true;
            outageStartNanos = clock.nanoTime();
            waitMs = 0;
        }
    }

    /**
     * @return how long to wait before the next attempt (0 for the first of an outage), and advance the backoff.
     */
    long nextWaitMs()
    {
        final long w = waitMs;
        waitMs = Math.min(MAX_WAIT_MS, Math.max(FIRST_WAIT_MS, waitMs * 2));
        return w;
    }

    /**
     * @return true if waiting {@code waitMs} before an attempt still ends inside the window of {@code windowMs}.
     */
    boolean fits(final long waitMs, final long windowMs)
    {
        return clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs) <=
            outageStartNanos + TimeUnit.MILLISECONDS.toNanos(windowMs);
    }

    /**
     * @return milliseconds left in the window of {@code windowMs} (0 when it has passed).
     */
    long remainingMs(final long windowMs)
    {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(outageStartNanos + TimeUnit.MILLISECONDS.toNanos(windowMs) -
            clock.nanoTime()));
    }
}
