package dev.ferry.core.protocol;

import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * The kinds of memory a codec must work on: a plain {@code byte[]}, a heap {@link ByteBuffer} and a direct
 * {@link ByteBuffer}. Each buffer is filled with {@link #SENTINEL} so a test can see bytes a codec wrote outside
 * its body.
 */
enum BufferKind
{
    BYTE_ARRAY
    {
        @Override
        UnsafeBuffer allocate(final int capacity)
        {
            return fill(new UnsafeBuffer(new byte[capacity]));
        }
    },

    HEAP_BYTE_BUFFER
    {
        @Override
        UnsafeBuffer allocate(final int capacity)
        {
            return fill(new UnsafeBuffer(ByteBuffer.allocate(capacity)));
        }
    },

    DIRECT_BYTE_BUFFER
    {
        @Override
        UnsafeBuffer allocate(final int capacity)
        {
            return fill(new UnsafeBuffer(ByteBuffer.allocateDirect(capacity)));
        }
    };

    /** What every byte of a fresh buffer holds. */
    static final byte SENTINEL = (byte)0xA5;

    /**
     * @return a buffer of exactly {@code capacity} bytes (Agrona bounds checks stay on), all {@link #SENTINEL}.
     */
    abstract UnsafeBuffer allocate(int capacity);

    private static UnsafeBuffer fill(final UnsafeBuffer buffer)
    {
        buffer.setMemory(0, buffer.capacity(), SENTINEL);
        return buffer;
    }
}
