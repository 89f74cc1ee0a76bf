package dev.ferry.engine.recipient;

import org.agrona.concurrent.Agent;
import org.jctools.queues.MpscArrayQueue;

import dev.ferry.core.spi.RecipientStorage;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * Applies data blocks: takes {@link BlockBuffer}s from its lock-free queue (fed by the connections), checks the
 * CRC32C and writes the bytes at their offset through the recipient storage, then hands the buffer back to its
 * connection through that connection's queue. All blocks of one connection go to the same worker, so chunks are applied
 * in order. One thread; allocation-free per block.
 */
final class ApplyWorker implements Agent
{
    private static final int BLOCKS_PER_CYCLE = 64;

    private final int index;
    private final RecipientStorage storage;
    private final CloneRun run;
    private final MpscArrayQueue<BlockBuffer> queue;
    private final BufferApplyData data = new BufferApplyData();

    ApplyWorker(final int index, final RecipientStorage storage, final CloneRun run, final int capacity)
    {
        this.index = index;
        this.storage = storage;
        this.run = run;
        this.queue = new MpscArrayQueue<>(capacity);
    }

    /**
     * Hand a block to this worker. Any thread.
     *
     * @return false if the queue is full (cannot happen when its capacity covers every pooled buffer).
     */
    boolean offer(final BlockBuffer block)
    {
        return queue.offer(block);
    }

    @Override
    public int doWork()
    {
        int work = 0;
        for (; work < BLOCKS_PER_CYCLE; work++)
        {
            final BlockBuffer block = queue.poll();
            if (block == null)
            {
                break;
            }
            try
            {
                // the SPI's apply: calls with one task number (this worker's) are never concurrent
                storage.apply(run.locator(), index, block.descriptor, 0, DescriptorFlyweight.DATA_LENGTH,
                    data.set(block.data, 0, block.length));
            }
            catch (final FerryException ex)
            {
                block.error = ex;
            }
            catch (final RuntimeException ex)
            {
                block.error = new FerryException(ErrorCode.INTERNAL, "apply failed: " + ex, ex);
            }
            // more of the same connection's blocks already queued: they will wake its loop, this one need not
            final BlockBuffer next = queue.peek();
            block.owner.onApplied(block, next != null && next.owner == block.owner);
        }
        return work;
    }

    @Override
    public String roleName()
    {
        return "ferry-apply-" + index;
    }
}
