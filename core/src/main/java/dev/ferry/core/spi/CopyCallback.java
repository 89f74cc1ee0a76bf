package dev.ferry.core.spi;

import java.nio.channels.FileChannel;

import org.agrona.DirectBuffer;

/**
 * Where a donor's {@link DonorStorage#copy} delivers what it reads, like the clone handlerton's file and buffer
 * callbacks. Each method receives an encoded descriptor ({@code COM_RES_DATA_DESC} body) and, for data, the bytes.
 * <p>
 * Each method returns {@code true} if it took the item, {@code false} if it cannot take it now (the socket is
 * full); the storage then stops and offers the same item again on its next {@code copy} call. An accepted file
 * region may be sent later (the transport keeps the channel, position and length), so the storage must keep the
 * channel open until the chunk is finished or the task ends.
 * <p>
 * Called on the thread that called {@code copy}.
 */
public interface CopyCallback
{
    /**
     * A STATE or FILE descriptor, no data.
     */
    boolean onDescriptor(DirectBuffer descriptor, int offset, int length);

    /**
     * A DATA descriptor whose bytes are a region of a file: the transport may send it with zero copies.
     */
    boolean onFileRegion(DirectBuffer descriptor, int offset, int length, FileChannel channel, long position, int count);

    /**
     * A DATA descriptor whose bytes are in a buffer, valid only during this call.
     */
    boolean onBuffer(DirectBuffer descriptor, int offset, int length, DirectBuffer data, int dataOffset, int dataLength);
}
