package dev.ferry.core.spi;

import java.util.Arrays;

/**
 * What the recipient has applied: per chunk, the number of leading blocks applied and whether the chunk is
 * complete. It is what a restart locator carries and what the resume journal records.
 * <p>
 * Not thread-safe: one owner (the client's master task or the local clone driver) updates it.
 */
public final class AppliedState
{
    private final int chunkCount;
    private final int[] appliedBlocks;
    private final long[] complete;
    private int completeCount;

    public AppliedState(final int chunkCount)
    {
        if (chunkCount < 0)
        {
            throw new IllegalArgumentException("chunkCount " + chunkCount);
        }
        this.chunkCount = chunkCount;
        this.appliedBlocks = new int[chunkCount];
        this.complete = new long[(chunkCount + 63) >>> 6];
    }

    public int chunkCount()
    {
        return chunkCount;
    }

    /**
     * Record that the first {@code blocks} blocks of {@code chunk} are applied; {@code chunkComplete} marks the
     * whole chunk done. Never moves a chunk backwards.
     */
    public void onApplied(final int chunk, final int blocks, final boolean chunkComplete)
    {
        if (chunk < 0 || chunk >= chunkCount)
        {
            throw new IllegalArgumentException("chunk " + chunk + " outside 0.." + chunkCount);
        }
        if (blocks > appliedBlocks[chunk])
        {
            appliedBlocks[chunk] = blocks;
        }
        if (chunkComplete && !isComplete(chunk))
        {
            complete[chunk >>> 6] |= 1L << (chunk & 63);
            completeCount++;
        }
    }

    public boolean isComplete(final int chunk)
    {
        return (complete[chunk >>> 6] & (1L << (chunk & 63))) != 0;
    }

    public int appliedBlocks(final int chunk)
    {
        return appliedBlocks[chunk];
    }

    public int completeCount()
    {
        return completeCount;
    }

    public boolean allComplete()
    {
        return completeCount == chunkCount;
    }

    /**
     * @return how many incomplete chunks have at least one applied block.
     */
    public int partialCount()
    {
        int n = 0;
        for (int i = 0; i < chunkCount; i++)
        {
            if (appliedBlocks[i] > 0 && !isComplete(i))
            {
                n++;
            }
        }
        return n;
    }

    public AppliedState copy()
    {
        final AppliedState c = new AppliedState(chunkCount);
        System.arraycopy(appliedBlocks, 0, c.appliedBlocks, 0, chunkCount);
        System.arraycopy(complete, 0, c.complete, 0, complete.length);
        c.completeCount = completeCount;
        return c;
    }

    @Override
    public boolean equals(final Object o)
    {
        if (!(o instanceof AppliedState))
        {
            return false;
        }
        final AppliedState that = (AppliedState)o;
        if (chunkCount != that.chunkCount || !Arrays.equals(complete, that.complete))
        {
            return false;
        }
        for (int i = 0; i < chunkCount; i++)
        {
            if (!isComplete(i) && appliedBlocks[i] != that.appliedBlocks[i])
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode()
    {
        return 31 * chunkCount + Arrays.hashCode(complete);
    }

    @Override
    public String toString()
    {
        return "AppliedState{chunks=" + chunkCount + ", complete=" + completeCount + ", partial=" + partialCount() + "}";
    }
}
