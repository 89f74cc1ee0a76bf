package dev.ferry.engine.donor;

import dev.ferry.engine.layout.ChunkPlan;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The chunks still to send, shared by all tasks of a clone: each task reserves the next one with one atomic
 * increment. Built largest-first from a {@link ChunkPlan}, or from the incomplete chunks of a restart, each with the
 * block to start at. Thread-safe.
 */
final class ChunkQueue
{
    private final int[] order;
    private final int[] startBlock;
    private final AtomicInteger next = new AtomicInteger();

    ChunkQueue(final int[] order, final int[] startBlock)
    {
        this.order = order;
        this.startBlock = startBlock;
    }

    /**
     * @return the next chunk, or -1 when none is left.
     */
    int reserve()
    {
        final int i = next.getAndIncrement();
        return i < order.length ? order[i] : -1;
    }

    /**
     * @return the first block of {@code chunk} still to send.
     */
    int startBlock(final int chunk)
    {
        return startBlock == null ? 0 : startBlock[chunk];
    }

}
