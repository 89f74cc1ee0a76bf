package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import dev.ferry.core.spi.Stage;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_RES_COMPLETE}: the task has sent everything of its stage.
 * <pre>
 *  0 int32 stage   4 int32 task index   8 int64 data bytes this task sent in this session
 * </pre>
 * Thread-safe: static methods only.
 */
public final class CompleteCodec
{
    public static final int STAGE_OFFSET = 0;
    public static final int TASK_OFFSET = 4;
    public static final int BYTES_OFFSET = 8;
    public static final int LENGTH = 16;

    private CompleteCodec()
    {
    }

    public static int encode(final MutableDirectBuffer b, final int o, final int stage, final int task, final long bytes)
    {
        b.putInt(o + STAGE_OFFSET, stage, BYTE_ORDER);
        b.putInt(o + TASK_OFFSET, task, BYTE_ORDER);
        b.putLong(o + BYTES_OFFSET, bytes, BYTE_ORDER);
        return LENGTH;
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        return length == LENGTH && Stage.isValid(stage(b, o)) && task(b, o) >= 0 && bytes(b, o) >= 0 ?
            ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
    }

    public static int stage(final DirectBuffer b, final int o)
    {
        return b.getInt(o + STAGE_OFFSET, BYTE_ORDER);
    }

    public static int task(final DirectBuffer b, final int o)
    {
        return b.getInt(o + TASK_OFFSET, BYTE_ORDER);
    }

    public static long bytes(final DirectBuffer b, final int o)
    {
        return b.getLong(o + BYTES_OFFSET, BYTE_ORDER);
    }
}
