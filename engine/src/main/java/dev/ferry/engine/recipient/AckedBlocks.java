package dev.ferry.engine.recipient;

import java.util.concurrent.atomic.AtomicIntegerArray;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.engine.layout.ChunkPlan;

/**
 * How many leading blocks of each chunk are applied and acknowledged, for one generation of tasks (one run of
 * connections between restarts). Each chunk is received by exactly one task at a time, so each slot has one writer
 * (that task's loop thread); the clone's driver thread reads a snapshot for checkpoints and restart locators. A chunk
 * is complete when all its blocks are applied. Lock-free; no allocation per acknowledgement.
 */
final class AckedBlocks
{
    private final ChunkPlan plan;
    private final AtomicIntegerArray blocks;

    /**
     * @param seed what earlier generations applied (null: nothing).
     */
    AckedBlocks(final ChunkPlan plan, final AppliedState seed)
    {
        this.plan = plan;
        this.blocks = new AtomicIntegerArray(plan.chunkCount());
        if (seed != null && seed.chunkCount() == plan.chunkCount())
        {
            for (int c = 0; c < plan.chunkCount(); c++)
            {
                blocks.set(c, seed.isComplete(c) ? plan.chunkBlocks(c) : Math.min(seed.appliedBlocks(c), plan.chunkBlocks(c)));
            }
        }
    }

    ChunkPlan plan()
    {
        return plan;
    }

    /**
     * The first {@code applied} blocks of {@code chunk} are on disk. Never moves a chunk backwards.
     */
    void onApplied(final int chunk, final int applied)
    {
        if (chunk < 0 || chunk >= blocks.length())
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data for chunk " + chunk + " outside the announced " +
                blocks.length() + " chunks");
        }
        final int capped = Math.min(applied, plan.chunkBlocks(chunk));
        if (capped > blocks.get(chunk))
        {
            blocks.set(chunk, capped); // one writer per chunk: no race between the read and the write
        }
    }

    /**
     * @return true if {@code applied} leading blocks are the whole of {@code chunk}.
     */
    boolean completes(final int chunk, final int applied)
    {
        return applied >= plan.chunkBlocks(chunk);
    }

    /**
     * @return leading blocks of {@code chunk} applied, 0 for a complete chunk (where a resumed chunk starts).
     */
    int resumeBlock(final int chunk)
    {
        final int b = blocks.get(chunk);
        return b >= plan.chunkBlocks(chunk) ? 0 : b;
    }

    /**
     * @return a copy in the wire's form (driver thread: checkpoints, restart locators).
     */
    AppliedState snapshot()
    {
        final AppliedState s = new AppliedState(plan.chunkCount());
        for (int c = 0; c < plan.chunkCount(); c++)
        {
            final int b = blocks.get(c);
            if (b > 0)
            {
                s.onApplied(c, b, b >= plan.chunkBlocks(c));
            }
        }
        return s;
    }

    /**
     * @return chunks not yet complete.
     */
    int incompleteCount()
    {
        int n = 0;
        for (int c = 0; c < plan.chunkCount(); c++)
        {
            if (blocks.get(c) < plan.chunkBlocks(c))
            {
                n++;
            }
        }
        return n;
    }
}
