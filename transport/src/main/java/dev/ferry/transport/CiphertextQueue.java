package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * TLS records on their way to the socket: an off-heap buffer the {@code SSLEngine} wraps into ({@link #buffer()},
 * in write mode) and the socket drains from the front, keeping what the socket did not take.
 * <pre>
 *  [ written | index .. position: encrypted, not yet written | position .. capacity: room for records ]
 * </pre>
 * Loop thread only.
 */
final class CiphertextQueue
{
    private final SocketChannel channel;
    private final ByteBuffer buffer;
    private int index;
    private long written;

    CiphertextQueue(final SocketChannel channel, final int capacity)
    {
        this.channel = channel;
        this.buffer = ByteBuffer.allocateDirect(capacity);
    }

    /**
     * @return the buffer to wrap records into, positioned after the pending ones.
     */
    ByteBuffer buffer()
    {
        return buffer;
    }

    int capacity()
    {
        return buffer.capacity();
    }

    boolean hasPending()
    {
        return index < buffer.position();
    }

    /**
     * @return socket bytes written since the last call.
     */
    long takeWritten()
    {
        final long n = written;
        written = 0;
        return n;
    }

    /**
     * Write pending records as far as the socket takes them.
     */
    void write() throws IOException
    {
        final int end = buffer.position();
        if (index == end)
        {
            return;
        }
        buffer.limit(end).position(index);
        final int n;
        try
        {
            n = channel.write(buffer);
        }
        finally
        {
            buffer.limit(buffer.capacity()).position(end);
        }
        index += n;
        written += n;
        if (index == end)
        {
            index = 0;
            buffer.position(0);
        }
    }

    /**
     * Make room for one more record of up to {@code packetSize} bytes: write to the socket, or compact.
     *
     * @return false if there is no room (the socket is full).
     */
    boolean makeRoom(final int packetSize) throws IOException
    {
        if (buffer.remaining() >= packetSize)
        {
            return true;
        }
        write();
        if (buffer.remaining() >= packetSize)
        {
            return true;
        }
        if (index > 0)
        {
            final int pending = buffer.position() - index;
            buffer.limit(buffer.position()).position(index);
            buffer.compact();
            buffer.limit(buffer.capacity()).position(pending);
            index = 0;
        }
        return buffer.remaining() >= packetSize;
    }
}
