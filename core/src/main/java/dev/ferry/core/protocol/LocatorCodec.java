package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_INIT}, {@code COM_ATTACH}, {@code COM_REINIT} and {@code COM_RES_LOCS}: a {@link Locator}.
 * <pre>
 *  0  uint16 engine id        2  uint8 kind (1 version, 2 real, 3 restart)     3  uint8 stage
 *  4  uint16 protocol min     6  uint16 protocol max (the negotiated one for real/restart)
 *  8  int64  snapshot id     16  int32 task index     20  int32 applied-state length A (0 unless restart)
 * 24  applied state (A bytes):
 *       0 int32 chunk count C   4 int32 partial count P
 *       8 complete-chunk bitmap, ceil(C/8) bytes, bit (i mod 8) of byte (i / 8) set = chunk i complete
 *         then P entries of { int32 chunk, int32 applied blocks } for incomplete chunks with applied blocks
 * </pre>
 * Locators are exchanged a few times per connection, so decoding allocates a {@link Locator}.
 * Not thread-safe.
 */
public final class LocatorCodec
{
    public static final int ENGINE_OFFSET = 0;
    public static final int KIND_OFFSET = 2;
    public static final int STAGE_OFFSET = 3;
    public static final int PROTOCOL_MIN_OFFSET = 4;
    public static final int PROTOCOL_MAX_OFFSET = 6;
    public static final int SNAPSHOT_OFFSET = 8;
    public static final int TASK_OFFSET = 16;
    public static final int APPLIED_LENGTH_OFFSET = 20;
    public static final int FIXED_LENGTH = 24;

    /** Most tasks a clone may have. */
    public static final int MAX_TASKS = 256;
    /** Most chunks a restart locator may describe (512 TiB at the default 32 MiB chunks, 1 PiB at 64 MiB). */
    public static final int MAX_CHUNKS = 1 << 24;

    private LocatorCodec()
    {
    }

    public static int encodedLength(final Locator locator)
    {
        if (locator.kind() != Locator.KIND_RESTART)
        {
            return FIXED_LENGTH;
        }
        final AppliedState a = locator.applied();
        return FIXED_LENGTH + 8 + ((a.chunkCount() + 7) >>> 3) + 8 * a.partialCount();
    }

    /**
     * @return bytes written.
     */
    public static int encode(final MutableDirectBuffer buffer, final int offset, final Locator locator)
    {
        buffer.putShort(offset + ENGINE_OFFSET, (short)locator.engineId(), BYTE_ORDER);
        buffer.putByte(offset + KIND_OFFSET, (byte)locator.kind());
        buffer.putByte(offset + STAGE_OFFSET, (byte)locator.stage());
        buffer.putShort(offset + PROTOCOL_MIN_OFFSET, (short)locator.protocolMin(), BYTE_ORDER);
        buffer.putShort(offset + PROTOCOL_MAX_OFFSET, (short)locator.protocolMax(), BYTE_ORDER);
        buffer.putLong(offset + SNAPSHOT_OFFSET, locator.snapshotId(), BYTE_ORDER);
        buffer.putInt(offset + TASK_OFFSET, locator.taskIndex(), BYTE_ORDER);
        final int total = encodedLength(locator);
        buffer.putInt(offset + APPLIED_LENGTH_OFFSET, total - FIXED_LENGTH, BYTE_ORDER);
        if (total > FIXED_LENGTH)
        {
            final AppliedState a = locator.applied();
            final int chunks = a.chunkCount();
            int p = offset + FIXED_LENGTH;
            buffer.putInt(p, chunks, BYTE_ORDER);
            buffer.putInt(p + 4, a.partialCount(), BYTE_ORDER);
            p += 8;
            final int bitmapBytes = (chunks + 7) >>> 3;
            buffer.setMemory(p, bitmapBytes, (byte)0);
            for (int i = 0; i < chunks; i++)
            {
                if (a.isComplete(i))
                {
                    buffer.putByte(p + (i >>> 3), (byte)(buffer.getByte(p + (i >>> 3)) | (1 << (i & 7))));
                }
            }
            p += bitmapBytes;
            for (int i = 0; i < chunks; i++)
            {
                if (!a.isComplete(i) && a.appliedBlocks(i) > 0)
                {
                    buffer.putInt(p, i, BYTE_ORDER);
                    buffer.putInt(p + 4, a.appliedBlocks(i), BYTE_ORDER);
                    p += 8;
                }
            }
        }
        return total;
    }

    /**
     * Check every field of a locator body.
     *
     * @return {@link ErrorCode#OK} or {@link ErrorCode#MALFORMED_FRAME} / {@link ErrorCode#BAD_LOCATOR}.
     */
    public static int validate(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < FIXED_LENGTH)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int kind = buffer.getByte(offset + KIND_OFFSET) & 0xFF;
        final int stage = buffer.getByte(offset + STAGE_OFFSET) & 0xFF;
        final int min = buffer.getShort(offset + PROTOCOL_MIN_OFFSET, BYTE_ORDER) & 0xFFFF;
        final int max = buffer.getShort(offset + PROTOCOL_MAX_OFFSET, BYTE_ORDER) & 0xFFFF;
        final int task = buffer.getInt(offset + TASK_OFFSET, BYTE_ORDER);
        final int appliedLength = buffer.getInt(offset + APPLIED_LENGTH_OFFSET, BYTE_ORDER);
        if (kind < Locator.KIND_VERSION || kind > Locator.KIND_RESTART || !Stage.isValid(stage) ||
            min < 1 || max < min || task < 0 || task >= MAX_TASKS)
        {
            return ErrorCode.BAD_LOCATOR;
        }
        if (appliedLength != length - FIXED_LENGTH)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        if (kind != Locator.KIND_RESTART)
        {
            return appliedLength == 0 ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
        }
        if (appliedLength < 8)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int p = offset + FIXED_LENGTH;
        final int chunks = buffer.getInt(p, BYTE_ORDER);
        final int partial = buffer.getInt(p + 4, BYTE_ORDER);
        if (chunks < 0 || chunks > MAX_CHUNKS || partial < 0 || partial > chunks)
        {
            return ErrorCode.BAD_LOCATOR;
        }
        final int bitmapBytes = (chunks + 7) >>> 3;
        if ((long)appliedLength != 8L + bitmapBytes + 8L * partial)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int entries = p + 8 + bitmapBytes;
        for (int i = 0; i < partial; i++)
        {
            final int chunk = buffer.getInt(entries + 8 * i, BYTE_ORDER);
            final int blocks = buffer.getInt(entries + 8 * i + 4, BYTE_ORDER);
            if (chunk < 0 || chunk >= chunks || blocks <= 0)
            {
                return ErrorCode.BAD_LOCATOR;
            }
        }
        return ErrorCode.OK;
    }

    /**
     * Decode a body that {@link #validate} accepted.
     */
    public static Locator decode(final DirectBuffer buffer, final int offset)
    {
        final int kind = buffer.getByte(offset + KIND_OFFSET) & 0xFF;
        AppliedState applied = null;
        if (kind == Locator.KIND_RESTART)
        {
            final int p = offset + FIXED_LENGTH;
            final int chunks = buffer.getInt(p, BYTE_ORDER);
            final int partial = buffer.getInt(p + 4, BYTE_ORDER);
            applied = new AppliedState(chunks);
            for (int i = 0; i < chunks; i++)
            {
                if ((buffer.getByte(p + 8 + (i >>> 3)) & (1 << (i & 7))) != 0)
                {
                    applied.onApplied(i, 0, true);
                }
            }
            final int entries = p + 8 + ((chunks + 7) >>> 3);
            for (int i = 0; i < partial; i++)
            {
                applied.onApplied(
                    buffer.getInt(entries + 8 * i, BYTE_ORDER), buffer.getInt(entries + 8 * i + 4, BYTE_ORDER), false);
            }
        }
        return new Locator(
            buffer.getShort(offset + ENGINE_OFFSET, BYTE_ORDER) & 0xFFFF,
            kind,
            buffer.getShort(offset + PROTOCOL_MIN_OFFSET, BYTE_ORDER) & 0xFFFF,
            buffer.getShort(offset + PROTOCOL_MAX_OFFSET, BYTE_ORDER) & 0xFFFF,
            buffer.getLong(offset + SNAPSHOT_OFFSET, BYTE_ORDER),
            buffer.getInt(offset + TASK_OFFSET, BYTE_ORDER),
            buffer.getByte(offset + STAGE_OFFSET) & 0xFF,
            applied);
    }
}
