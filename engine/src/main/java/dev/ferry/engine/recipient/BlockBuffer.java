package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.FerryException;

/**
 * A pooled off-heap buffer for one data block on its way from a connection to an apply worker and back: the block's
 * DATA descriptor, its bytes, and, after the apply, its outcome. Made once per pool slot; owned by one thread at a
 * time, handed over through lock-free queues.
 */
final class BlockBuffer
{
    final ClientTask owner;
    final ByteBuffer data;
    final UnsafeBuffer descriptor = new UnsafeBuffer(ByteBuffer.allocateDirect(DescriptorFlyweight.DATA_LENGTH));
    final DescriptorFlyweight flyweight = new DescriptorFlyweight();
    int length;
    FerryException error;

    BlockBuffer(final ClientTask owner, final int capacity)
    {
        this.owner = owner;
        this.data = DirectWrites.allocateAligned(capacity); // direct writes need aligned addresses
        flyweight.wrap(descriptor, 0, DescriptorFlyweight.DATA_LENGTH);
    }
}
