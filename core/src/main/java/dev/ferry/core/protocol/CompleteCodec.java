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
    /** Files this task found changed after it had read them (size, mtime, gone): they need another pass. */
    public static final int CHANGED_OFFSET = 16;
    /** Nanoseconds the dataset was held still (freeze hook done to thaw hook started), 0 if it was not frozen. */
    public static final int FROZEN_NANOS_OFFSET = 24;
    public static final int LENGTH = 32;

    private CompleteCodec()
    {
    }

    public static int encode(final MutableDirectBuffer b, final int o, final int stage, final int task, final long bytes)
    {
        return encode(b, o, stage, task, bytes, 0, 0);
    }

    public static int encode(final MutableDirectBuffer b, final int o, final int stage, final int task, final long bytes,
        final long changed, final long frozenNanos)
    {
        b.putInt(o + STAGE_OFFSET, stage, BYTE_ORDER);
        b.putInt(o + TASK_OFFSET, task, BYTE_ORDER);
        b.putLong(o + BYTES_OFFSET, bytes, BYTE_ORDER);
        b.putLong(o + CHANGED_OFFSET, changed, BYTE_ORDER);
        b.putLong(o + FROZEN_NANOS_OFFSET, frozenNanos, BYTE_ORDER);
        return LENGTH;
    }

    public static long changed(final DirectBuffer b, final int o)
    {
        return b.getLong(o + CHANGED_OFFSET, BYTE_ORDER);
    }

    public static long frozenNanos(final DirectBuffer b, final int o)
    {
        return b.getLong(o + FROZEN_NANOS_OFFSET, BYTE_ORDER);
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        return length == LENGTH && Stage.isValid(stage(b, o)) && task(b, o) >= 0 && bytes(b, o) >= 0 &&
            changed(b, o) >= 0 && frozenNanos(b, o) >= 0 ?
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
