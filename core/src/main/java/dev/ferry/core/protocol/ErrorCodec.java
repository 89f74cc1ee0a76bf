package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_RES_ERROR} (and of a client's error {@code COM_EXIT}): a code and a message.
 * <pre>
 *  0 int32 error code ({@link ErrorCode})   4 string message (at most 1024 bytes of UTF-8)
 * </pre>
 * Thread-safe: static methods only.
 */
public final class ErrorCodec
{
    public static final int CODE_OFFSET = 0;
    public static final int MESSAGE_OFFSET = 4;
    public static final int MAX_MESSAGE_BYTES = 1024;

    private ErrorCodec()
    {
    }

    public static int encode(final MutableDirectBuffer b, final int o, final int code, final String message)
    {
        b.putInt(o + CODE_OFFSET, code, BYTE_ORDER);
        final byte[] m = Wire.utf8Truncated(message == null ? "" : message, MAX_MESSAGE_BYTES);
        return MESSAGE_OFFSET + Wire.putString(b, o + MESSAGE_OFFSET, m);
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length < MESSAGE_OFFSET + Wire.STRING_LENGTH_SIZE)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int ml = Wire.checkedStringLength(b, o + MESSAGE_OFFSET, o + length, MAX_MESSAGE_BYTES);
        return ml >= 0 && MESSAGE_OFFSET + Wire.STRING_LENGTH_SIZE + ml == length ?
            ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
    }

    public static int code(final DirectBuffer b, final int o)
    {
        return b.getInt(o + CODE_OFFSET, BYTE_ORDER);
    }

    public static String message(final DirectBuffer b, final int o)
    {
        return Wire.getString(b, o + MESSAGE_OFFSET);
    }

    /**
     * @return the message as a peer sent it, escaped for a terminal or a log ({@link PeerText}): control characters,
     * line breaks and invalid UTF-8 shown as {@code \xNN}. What to put in an exception or a log line.
     */
    public static String printableMessage(final DirectBuffer b, final int o)
    {
        return PeerText.escape(Wire.getStringBytes(b, o + MESSAGE_OFFSET));
    }
}
