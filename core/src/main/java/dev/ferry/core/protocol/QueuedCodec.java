package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_RES_QUEUED} (donor to client, in answer to {@code COM_INIT} while the donor serves its maximum of
 * clones): the clone waits in the donor's queue. Sent when the client joins the queue, when its position changes and
 * at least once a second while it waits; {@code COM_RES_LOCS} follows once the clone is admitted. Only sent to a
 * client whose HELLO announced {@link HelloCodec#FEATURE_QUEUE}.
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |            position (int32, LE): 1 = admitted next            |
 * +---------------------------------------------------------------+
 * |            waiting (int32, LE): clones in the queue           |
 * +---------------------------------------------------------------+
 * |       running (int32, LE): clones the donor serves now        |
 * +---------------------------------------------------------------+
 * </pre>
 * Rules: {@code 1 <= position <= waiting}, {@code running >= 0}; exactly {@link #LENGTH} bytes. Thread-safe: static
 * methods only.
 */
public final class QueuedCodec
{
    public static final int POSITION_OFFSET = 0;
    public static final int WAITING_OFFSET = 4;
    public static final int RUNNING_OFFSET = 8;
    public static final int LENGTH = 12;

    private QueuedCodec()
    {
    }

    /**
     * @return the body length ({@link #LENGTH}).
     */
    public static int encode(final MutableDirectBuffer b, final int o, final int position, final int waiting,
        final int running)
    {
        b.putInt(o + POSITION_OFFSET, position, BYTE_ORDER);
        b.putInt(o + WAITING_OFFSET, waiting, BYTE_ORDER);
        b.putInt(o + RUNNING_OFFSET, running, BYTE_ORDER);
        return LENGTH;
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length != LENGTH)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int position = position(b, o);
        return position >= 1 && position <= waiting(b, o) && running(b, o) >= 0 ? ErrorCode.OK :
            ErrorCode.MALFORMED_FRAME;
    }

    public static int position(final DirectBuffer b, final int o)
    {
        return b.getInt(o + POSITION_OFFSET, BYTE_ORDER);
    }

    public static int waiting(final DirectBuffer b, final int o)
    {
        return b.getInt(o + WAITING_OFFSET, BYTE_ORDER);
    }

    public static int running(final DirectBuffer b, final int o)
    {
        return b.getInt(o + RUNNING_OFFSET, BYTE_ORDER);
    }
}
