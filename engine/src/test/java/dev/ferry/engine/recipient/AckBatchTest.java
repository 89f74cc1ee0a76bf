package dev.ferry.engine.recipient;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link AckBatch}: an ACK goes out every 5 ms, at once when 128 chunks are pending or when forced, never empty.
 */
class AckBatchTest
{
    private static final long MS = 1_000_000L;

    @Test
    void batchesByTimeAndBySizeAndNeverSendsNothing()
    {
        final AckBatch batch = new AckBatch();
        final long t0 = 1_000 * MS;
        assertTrue(batch.due(1, t0, false), "the first applied block goes out at once");
        batch.sent(t0);
        assertFalse(batch.due(1, t0 + 4 * MS, false), "within 5 ms it waits for more");
        assertFalse(batch.due(AckBatch.MAX_CHUNKS - 1, t0 + 4 * MS, false));
        assertTrue(batch.due(AckBatch.MAX_CHUNKS, t0 + 4 * MS, false), "a full batch goes out early");
        assertTrue(batch.due(1, t0 + 5 * MS, false), "after 5 ms it goes out");
        assertTrue(batch.due(1, t0 + MS, true), "a completed task flushes at once");
        assertFalse(batch.due(0, t0 + 100 * MS, true), "nothing pending, nothing sent");
        batch.sent(t0 + 5 * MS);
        assertFalse(batch.due(3, t0 + 9 * MS, false));
        assertTrue(batch.due(3, t0 + 10 * MS, false));
    }
}
