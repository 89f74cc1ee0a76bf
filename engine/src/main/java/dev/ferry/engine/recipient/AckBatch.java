package dev.ferry.engine.recipient;

import java.util.concurrent.TimeUnit;

/**
 * When a task sends its COM_ACK: applied blocks are batched into one frame every {@link #INTERVAL_NANOS} or as soon
 * as {@link #MAX_CHUNKS} chunks are pending, whichever comes first, and at once when forced (the task completed). A
 * policy over the loop's clock reading, so it is tested without a socket or a sleep.
 * <p>
 * One task's loop thread.
 */
final class AckBatch
{
    static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    static final int MAX_CHUNKS = 128;

    private long lastSentNanos;

    /**
     * @return true if an ACK of {@code pendingChunks} should go out at {@code nowNanos}.
     */
    boolean due(final int pendingChunks, final long nowNanos, final boolean force)
    {
        return pendingChunks > 0 && (force || pendingChunks >= MAX_CHUNKS || nowNanos - lastSentNanos >= INTERVAL_NANOS);
    }

    void sent(final long nowNanos)
    {
        lastSentNanos = nowNanos;
    }
}
