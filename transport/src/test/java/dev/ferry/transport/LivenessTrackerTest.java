package dev.ferry.transport;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static dev.ferry.transport.LivenessTracker.ALIVE;
import static dev.ferry.transport.LivenessTracker.FRAME_TIMEOUT;
import static dev.ferry.transport.LivenessTracker.IDLE_TIMEOUT;
import static dev.ferry.transport.LivenessTracker.SEND_HEARTBEAT;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link LivenessTracker} on made-up instants: heartbeats, the idle timeout, the frame-completion timeout, and what a
 * pause for back-pressure does to them. No clock, no sockets, no sleeps.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class LivenessTrackerTest
{
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long START = 5_000 * MS; // any origin: only differences count
    private static final long READ_TIMEOUT = 1_000 * MS;
    private static final long HEARTBEAT = 100 * MS;

    private final LivenessTracker tracker = new LivenessTracker(READ_TIMEOUT, HEARTBEAT, START);

    @Test
    void heartbeatIsDueOnlyAfterTheIntervalWithoutSendsAndOnlyWhenTheSendSideIsIdle()
    {
        assertEquals(ALIVE, tracker.check(START + HEARTBEAT, true, true), "exactly the interval is not past it");
        assertEquals(SEND_HEARTBEAT, tracker.check(START + HEARTBEAT + 1, true, true));
        assertEquals(ALIVE, tracker.check(START + HEARTBEAT + 1, true, false), "bytes wait to go: no ping");

        tracker.onSent(START + 50 * MS);
        assertEquals(ALIVE, tracker.check(START + HEARTBEAT + 1, true, true), "a send restarts the interval");
        assertEquals(SEND_HEARTBEAT, tracker.check(START + 150 * MS + 1, true, true));
        tracker.onReceived(START + 150 * MS);
        assertEquals(SEND_HEARTBEAT, tracker.check(START + 150 * MS + 1, true, true), "receiving does not count as sending");
    }

    @Test
    void silenceLongerThanTheReadTimeoutTimesOutWhileReading()
    {
        tracker.onSent(START + READ_TIMEOUT); // keep heartbeats out of the way
        assertEquals(ALIVE, tracker.check(START + READ_TIMEOUT, true, false));
        assertEquals(IDLE_TIMEOUT, tracker.check(START + READ_TIMEOUT + 1, true, false));
        assertEquals(READ_TIMEOUT + 1, tracker.silentNanos(START + READ_TIMEOUT + 1));

        tracker.onReceived(START + 600 * MS);
        assertEquals(ALIVE, tracker.check(START + READ_TIMEOUT + 1, true, false), "a receive restarts the timer");
        assertEquals(IDLE_TIMEOUT, tracker.check(START + 1_600 * MS + 1, true, false));
    }

    @Test
    void noTimeoutWhilePausedForBackPressureAndTheSilenceDoesNotCountAfterwards()
    {
        tracker.onParsed(true, START + 10 * MS); // a frame was started, too
        final long muchLater = START + 100 * READ_TIMEOUT;
        assertEquals(ALIVE, tracker.check(muchLater, false, false), "not reading: neither timeout runs");
        assertEquals(SEND_HEARTBEAT, tracker.check(muchLater, false, true), "heartbeats go on while paused");

        tracker.onReadingResumed(muchLater);
        assertEquals(ALIVE, tracker.check(muchLater + READ_TIMEOUT, true, false),
            "resumed: both the idle and the frame timer start again");
        assertEquals(FRAME_TIMEOUT, tracker.check(muchLater + READ_TIMEOUT + 1, true, false));
    }

    @Test
    void aFrameMustCompleteInTimeEvenIfBytesTrickleIn()
    {
        tracker.onParsed(true, START);
        for (long t = START + 100 * MS; t <= START + READ_TIMEOUT; t += 100 * MS)
        {
            tracker.onReceived(t);
            tracker.onSent(t);
            tracker.onParsed(true, t); // still incomplete: the frame keeps its start
            assertEquals(ALIVE, tracker.check(t, true, true), "at " + (t - START) / MS + " ms");
        }
        assertEquals(FRAME_TIMEOUT, tracker.check(START + READ_TIMEOUT + 1, true, true));
        assertEquals(ALIVE, tracker.check(START + READ_TIMEOUT + 1, false, false), "not while paused");

        tracker.onParsed(false, START + READ_TIMEOUT + 1);
        assertEquals(ALIVE, tracker.check(START + READ_TIMEOUT + 1, true, false), "complete: no frame timer");
        tracker.onReceived(START + 1_500 * MS);
        tracker.onParsed(true, START + 1_500 * MS);
        assertEquals(ALIVE, tracker.check(START + 2_500 * MS, true, false), "the next frame has its own start");
        tracker.onReceived(START + 2_500 * MS);
        assertEquals(FRAME_TIMEOUT, tracker.check(START + 2_500 * MS + 1, true, false));
    }

    /**
     * A stream that is never parsed to a frame boundary (reads cut by a rate limit's tokens) but completes frames all
     * the time is healthy: each completed frame restarts the timer; once frames stop completing it runs out.
     */
    @Test
    void framesCompletingRestartTheTimerThoughEveryParseEndsMidFrame()
    {
        long completed = 0;
        tracker.onParsed(true, completed, START);
        long t = START;
        for (; t <= START + 5 * READ_TIMEOUT; t += 100 * MS)
        {
            tracker.onReceived(t);
            tracker.onSent(t);
            tracker.onParsed(true, ++completed, t); // a frame done, the next one begun
            assertEquals(ALIVE, tracker.check(t, true, true), "at " + (t - START) / MS + " ms");
        }
        final long lastDone = t - 100 * MS;
        tracker.onReceived(t);
        tracker.onParsed(true, completed, t); // bytes, but no frame completed since: the timer runs from lastDone
        assertEquals(ALIVE, tracker.check(lastDone + READ_TIMEOUT, true, false));
        assertEquals(FRAME_TIMEOUT, tracker.check(lastDone + READ_TIMEOUT + 1, true, false));
    }
}
