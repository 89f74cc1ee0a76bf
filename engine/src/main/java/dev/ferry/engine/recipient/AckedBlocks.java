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
    private AtomicIntegerArray blocks;
    /**
     * The plan still grows (a streamed manifest, PROTOCOL.md 6.5): only the master's loop thread uses this table then,
     * and it grows it; {@link #complete} sizes it to the whole plan before any other thread sees it.
     */
    private boolean growing;

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

    /**
     * @return the acknowledgements of a streamed manifest's plan, which grows as its entries arrive (master's thread).
     */
    static AckedBlocks growing(final ChunkPlan plan)
    {
        final AckedBlocks a = new AckedBlocks(plan, null);
        a.growing = true;
        return a;
    }

    /**
     * The streamed manifest is whole: size the table to the plan (master's thread, before it is published).
     */
    void complete()
    {
        final AtomicIntegerArray exact = new AtomicIntegerArray(plan.chunkCount());
        for (int c = 0; c < Math.min(blocks.length(), exact.length()); c++)
        {
            exact.set(c, blocks.get(c));
        }
        blocks = exact;
        growing = false;
    }

    private void room(final int chunks)
    {
        if (chunks > blocks.length())
        {
            final AtomicIntegerArray grown = new AtomicIntegerArray(Math.max(chunks, 2 * blocks.length()));
            for (int c = 0; c < blocks.length(); c++)
            {
                grown.set(c, blocks.get(c));
            }
            blocks = grown;
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
        if (growing && chunk >= 0 && chunk < plan.closedChunks())
        {
            room(chunk + 1);
        }
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
        if (chunk >= blocks.length())
        {
            return 0; // a streamed plan's chunk not acknowledged yet
        }
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
