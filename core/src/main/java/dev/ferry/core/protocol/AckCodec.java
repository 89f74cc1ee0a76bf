package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_ACK}: a batch of applied-state updates, so acknowledging costs no round trip per block.
 * <pre>
 *  0 int32 entry count N
 *  4 N entries of 12 bytes: { int32 chunk, int32 applied blocks (leading blocks of the chunk now applied),
 *                             int32 flags (1 = the chunk is complete) }
 * </pre>
 * Thread-safe: static methods only.
 */
public final class AckCodec
{
    public static final int COUNT_OFFSET = 0;
    public static final int ENTRIES_OFFSET = 4;
    public static final int ENTRY_LENGTH = 12;
    public static final int FLAG_CHUNK_COMPLETE = 1;

    private AckCodec()
    {
    }

    public static int lengthFor(final int entries)
    {
        return ENTRIES_OFFSET + entries * ENTRY_LENGTH;
    }

    public static void putCount(final MutableDirectBuffer b, final int o, final int count)
    {
        b.putInt(o + COUNT_OFFSET, count, BYTE_ORDER);
    }

    public static void putEntry(
        final MutableDirectBuffer b, final int o, final int i, final int chunk, final int blocks, final int flags)
    {
        final int p = o + ENTRIES_OFFSET + i * ENTRY_LENGTH;
        b.putInt(p, chunk, BYTE_ORDER);
        b.putInt(p + 4, blocks, BYTE_ORDER);
        b.putInt(p + 8, flags, BYTE_ORDER);
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length < ENTRIES_OFFSET)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int count = count(b, o);
        if (count < 0 || (long)ENTRIES_OFFSET + (long)count * ENTRY_LENGTH != length)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        for (int i = 0; i < count; i++)
        {
            if (chunk(b, o, i) < 0 || blocks(b, o, i) < 0 || (flags(b, o, i) & ~FLAG_CHUNK_COMPLETE) != 0)
            {
                return ErrorCode.MALFORMED_FRAME;
            }
        }
        return ErrorCode.OK;
    }

    public static int count(final DirectBuffer b, final int o)
    {
        return b.getInt(o + COUNT_OFFSET, BYTE_ORDER);
    }

    public static int chunk(final DirectBuffer b, final int o, final int i)
    {
        return b.getInt(o + ENTRIES_OFFSET + i * ENTRY_LENGTH, BYTE_ORDER);
    }

    public static int blocks(final DirectBuffer b, final int o, final int i)
    {
        return b.getInt(o + ENTRIES_OFFSET + i * ENTRY_LENGTH + 4, BYTE_ORDER);
    }

    public static int flags(final DirectBuffer b, final int o, final int i)
    {
        return b.getInt(o + ENTRIES_OFFSET + i * ENTRY_LENGTH + 8, BYTE_ORDER);
    }
}
