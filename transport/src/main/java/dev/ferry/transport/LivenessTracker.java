package dev.ferry.transport;

/**
 * Decides when a connection must send a heartbeat or give up on its peer, from instants the connection reports:
 * the last byte received, the last byte sent, and the start of a frame that is not complete yet.
 * <ul>
 * <li>{@link #SEND_HEARTBEAT}: nothing was sent for the heartbeat interval and the send side is idle.</li>
 * <li>{@link #IDLE_TIMEOUT}: nothing arrived for the read timeout while the connection was willing to read.</li>
 * <li>{@link #FRAME_TIMEOUT}: a frame was started and not completed within the read timeout while the connection was
 * willing to read; a peer that trickles a byte now and then never trips the idle timeout, but trips this one.</li>
 * </ul>
 * A connection paused for back-pressure is not willing to read: neither timeout runs, and both restart when it
 * resumes ({@link #onReadingResumed}), since the silence was ours.
 * <p>
 * Pure arithmetic on the times it is given (from the loop's {@link org.agrona.concurrent.NanoClock}), so tests drive
 * it with any numbers. Loop thread only.
 */
final class LivenessTracker
{
    static final int ALIVE = 0;
    static final int SEND_HEARTBEAT = 1;
    static final int IDLE_TIMEOUT = 2;
    static final int FRAME_TIMEOUT = 3;

    private final long readTimeoutNanos;
    private final long heartbeatNanos;
    private long lastReceiveNanos;
    private long lastSendNanos;
    private boolean midFrame;
    private long frameStartNanos;
    private long lastCompletedFrames;

    /**
     * @param nowNanos the connection's start: it counts as both a receive and a send.
     */
    LivenessTracker(final long readTimeoutNanos, final long heartbeatNanos, final long nowNanos)
    {
        this.readTimeoutNanos = readTimeoutNanos;
        this.heartbeatNanos = heartbeatNanos;
        this.lastReceiveNanos = nowNanos;
        this.lastSendNanos = nowNanos;
    }

    long readTimeoutNanos()
    {
        return readTimeoutNanos;
    }

    void onReceived(final long nowNanos)
    {
        lastReceiveNanos = nowNanos;
    }

    void onSent(final long nowNanos)
    {
        lastSendNanos = nowNanos;
    }

    /**
     * After parsing: is a frame (or a bulk body) incomplete? The frame timer starts at the first such report and
     * stops when a report says no.
     */
    void onParsed(final boolean incompleteFrame, final long nowNanos)
    {
        onParsed(incompleteFrame, lastCompletedFrames, nowNanos);
    }

    /**
     * As {@link #onParsed(boolean, long)}, with the count of frames completed so far: a frame completed since the
     * last report restarts the timer for the one now incomplete. A steady stream read in pieces that never end on a
     * frame boundary (reads cut by a rate limit's tokens) is always mid-frame, yet completes frames all the time;
     * without this it tripped the frame timeout after the read timeout (seen: 30 s into a clone under --max-rate).
     */
    void onParsed(final boolean incompleteFrame, final long completedFrames, final long nowNanos)
    {
        final boolean progressed = completedFrames != lastCompletedFrames;
        lastCompletedFrames = completedFrames;
        if (!incompleteFrame)
        {
            midFrame = false;
        }
        else if (!midFrame || progressed)
        {
            midFrame = true;
            frameStartNanos = nowNanos;
        }
    }

    /**
     * Reading resumes after a pause: the peer's silence meanwhile does not count.
     */
    void onReadingResumed(final long nowNanos)
    {
        lastReceiveNanos = nowNanos;
        if (midFrame)
        {
            frameStartNanos = nowNanos;
        }
    }

    /**
     * @param reading      true if the connection is willing to read (not paused, not waiting for a body buffer).
     * @param sendSideIdle true if nothing waits to be sent and the connection is not closing.
     * @return {@link #ALIVE}, {@link #SEND_HEARTBEAT}, {@link #IDLE_TIMEOUT} or {@link #FRAME_TIMEOUT}.
     */
    int check(final long nowNanos, final boolean reading, final boolean sendSideIdle)
    {
        if (reading)
        {
            if (midFrame && nowNanos - frameStartNanos > readTimeoutNanos)
            {
                return FRAME_TIMEOUT;
            }
            if (nowNanos - lastReceiveNanos > readTimeoutNanos)
            {
                return IDLE_TIMEOUT;
            }
        }
        if (sendSideIdle && nowNanos - lastSendNanos > heartbeatNanos)
        {
            return SEND_HEARTBEAT;
        }
        return ALIVE;
    }

    /**
     * @return how long nothing has arrived, for a message.
     */
    long silentNanos(final long nowNanos)
    {
        return nowNanos - lastReceiveNanos;
    }
}
