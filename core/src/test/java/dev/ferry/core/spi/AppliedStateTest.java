package dev.ferry.core.spi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The applied state a restart locator and the resume journal carry: per chunk, leading blocks applied and a
 * complete bit.
 */
class AppliedStateTest
{
    @Test
    void freshStateHasNothingApplied()
    {
        final AppliedState s = new AppliedState(130);
        assertEquals(130, s.chunkCount());
        assertEquals(0, s.completeCount());
        assertEquals(0, s.partialCount());
        assertFalse(s.allComplete());
        for (int c = 0; c < 130; c++)
        {
            assertFalse(s.isComplete(c));
            assertEquals(0, s.appliedBlocks(c));
        }
    }

    @Test
    void zeroChunksIsTriviallyComplete()
    {
        final AppliedState s = new AppliedState(0);
        assertTrue(s.allComplete());
        assertEquals(0, s.partialCount());
        assertEquals(new AppliedState(0), s);
        assertThrows(IllegalArgumentException.class, () -> s.onApplied(0, 1, false));
    }

    @Test
    void negativeChunkCountIsRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> new AppliedState(-1));
    }

    @Test
    void chunkOutsideTheStateIsRefused()
    {
        final AppliedState s = new AppliedState(3);
        assertThrows(IllegalArgumentException.class, () -> s.onApplied(-1, 1, false));
        assertThrows(IllegalArgumentException.class, () -> s.onApplied(3, 1, false));
        assertThrows(IllegalArgumentException.class, () -> s.onApplied(Integer.MAX_VALUE, 1, true));
    }

    @Test
    void blocksNeverMoveBackwards()
    {
        final AppliedState s = new AppliedState(2);
        s.onApplied(1, 5, false);
        s.onApplied(1, 3, false);
        assertEquals(5, s.appliedBlocks(1));
        s.onApplied(1, -4, false);
        assertEquals(5, s.appliedBlocks(1));
        s.onApplied(1, 6, false);
        assertEquals(6, s.appliedBlocks(1));
        assertEquals(1, s.partialCount());
        assertEquals(0, s.completeCount());
    }

    @Test
    void completionIsCountedOnceAndIsPermanent()
    {
        final AppliedState s = new AppliedState(3);
        s.onApplied(0, 4, true);
        s.onApplied(0, 4, true);
        s.onApplied(0, 1, false);
        assertTrue(s.isComplete(0));
        assertEquals(1, s.completeCount());
        assertEquals(0, s.partialCount(), "a complete chunk is not partial");
        s.onApplied(1, 0, true);
        s.onApplied(2, 9, true);
        assertEquals(3, s.completeCount());
        assertTrue(s.allComplete());
    }

    @Test
    void completeBitsAcrossWordBoundaries()
    {
        final int chunks = 200;
        final AppliedState s = new AppliedState(chunks);
        final int[] marked = { 0, 62, 63, 64, 65, 127, 128, 199 };
        for (final int c : marked)
        {
            s.onApplied(c, 1, true);
        }
        int seen = 0;
        for (int c = 0; c < chunks; c++)
        {
            if (s.isComplete(c))
            {
                assertEquals(marked[seen], c);
                seen++;
            }
        }
        assertEquals(marked.length, seen);
        assertEquals(marked.length, s.completeCount());
    }

    @Test
    void partialCountCountsIncompleteChunksWithBlocks()
    {
        final AppliedState s = new AppliedState(10);
        s.onApplied(1, 1, false);
        s.onApplied(2, 2, false);
        s.onApplied(3, 3, true);
        s.onApplied(4, 0, false);
        assertEquals(2, s.partialCount());
        assertEquals(1, s.completeCount());
    }

    @Test
    void copyIsIndependent()
    {
        final AppliedState s = new AppliedState(70);
        s.onApplied(3, 2, false);
        s.onApplied(66, 0, true);
        final AppliedState c = s.copy();
        assertEquals(s, c);
        assertEquals(s.hashCode(), c.hashCode());
        assertEquals(s.completeCount(), c.completeCount());
        assertEquals(s.partialCount(), c.partialCount());

        c.onApplied(3, 9, false);
        c.onApplied(5, 0, true);
        assertEquals(2, s.appliedBlocks(3));
        assertFalse(s.isComplete(5));
        assertEquals(1, s.completeCount());
        assertNotEquals(s, c);
    }

    @Test
    void equalityIgnoresBlocksOfCompleteChunks()
    {
        final AppliedState a = new AppliedState(4);
        final AppliedState b = new AppliedState(4);
        a.onApplied(0, 16, true);
        b.onApplied(0, 0, true);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());

        a.onApplied(1, 2, false);
        assertNotEquals(a, b);
        b.onApplied(1, 2, false);
        assertEquals(a, b);

        assertNotEquals(new AppliedState(4), new AppliedState(5));
        assertNotEquals(a, "not a state");
        assertNotEquals(a, null);
        assertTrue(a.toString().contains("chunks=4"));
    }
}
