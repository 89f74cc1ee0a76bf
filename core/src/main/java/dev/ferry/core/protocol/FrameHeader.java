package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * The 8-byte header in front of every frame.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                  frame length (int32, LE)                     |  header + body, in bytes
 *  +-------------------------------+-------------------------------+
 *  |        type (uint16)          |        flags (uint16)         |
 *  +-------------------------------+-------------------------------+
 *  |                          body ...                             |
 * </pre>
 * Static accessors at absolute indexes; thread-safe as long as the buffer is not shared.
 */
public final class FrameHeader
{
    public static final int LENGTH_OFFSET = 0;
    public static final int TYPE_OFFSET = 4;
    public static final int FLAGS_OFFSET = 6;
    public static final int HEADER_LENGTH = 8;

    /** Default cap on a frame, header included: a 1 MiB data body plus room. */
    public static final int DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;

    private FrameHeader()
    {
    }

    /**
     * Write a header.
     *
     * @return {@link #HEADER_LENGTH}.
     */
    public static int write(final MutableDirectBuffer buffer, final int offset, final int frameLength, final int type)
    {
        buffer.putInt(offset + LENGTH_OFFSET, frameLength, BYTE_ORDER);
        buffer.putShort(offset + TYPE_OFFSET, (short)type, BYTE_ORDER);
        buffer.putShort(offset + FLAGS_OFFSET, (short)0, BYTE_ORDER);
        return HEADER_LENGTH;
    }

    public static int frameLength(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + LENGTH_OFFSET, BYTE_ORDER);
    }

    public static int type(final DirectBuffer buffer, final int offset)
    {
        return buffer.getShort(offset + TYPE_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    public static int flags(final DirectBuffer buffer, final int offset)
    {
        return buffer.getShort(offset + FLAGS_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    /**
     * Check a header before a single byte of its body is read or reserved.
     *
     * @return {@link ErrorCode#OK}, {@link ErrorCode#MALFORMED_FRAME}, {@link ErrorCode#FRAME_TOO_LARGE} or
     * {@link ErrorCode#UNKNOWN_COMMAND}.
     */
    public static int validate(final DirectBuffer buffer, final int offset, final int maxFrameLength)
    {
        final int length = frameLength(buffer, offset);
        if (length < HEADER_LENGTH)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        if (length > maxFrameLength)
        {
            return ErrorCode.FRAME_TOO_LARGE;
        }
        if (!FrameType.isKnown(type(buffer, offset)))
        {
            return ErrorCode.UNKNOWN_COMMAND;
        }
        return ErrorCode.OK;
    }
}
