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
    /** Longest body: code and a message of {@link #MAX_MESSAGE_BYTES}. */
    public static final int MAX_LENGTH = MESSAGE_OFFSET + Wire.STRING_LENGTH_SIZE + MAX_MESSAGE_BYTES;
    /** Longest whole frame, header included: what a buffer for {@link #encodeFrame} needs at most. */
    public static final int MAX_FRAME_LENGTH = FrameHeader.HEADER_LENGTH + MAX_LENGTH;

    private ErrorCodec()
    {
    }

    /**
     * @return the body length {@link #encode} writes for {@code message} (cut to {@link #MAX_MESSAGE_BYTES}).
     */
    public static int encodedLength(final String message)
    {
        return MESSAGE_OFFSET + Wire.STRING_LENGTH_SIZE + messageBytes(message).length;
    }

    /**
     * @return bytes written: the body only.
     */
    public static int encode(final MutableDirectBuffer b, final int o, final int code, final String message)
    {
        b.putInt(o + CODE_OFFSET, code, BYTE_ORDER);
        return MESSAGE_OFFSET + Wire.putString(b, o + MESSAGE_OFFSET, messageBytes(message));
    }

    /**
     * Write a whole frame, header and body, of {@code type} ({@code COM_RES_ERROR} or {@code COM_EXIT}): for a peer
     * that is answered outside any connection, e.g. a refusal written straight to a just-accepted socket.
     *
     * @return bytes written, header included (at most {@link #MAX_FRAME_LENGTH}).
     */
    public static int encodeFrame(
        final MutableDirectBuffer b, final int o, final int type, final int code, final String message)
    {
        final int frameLength = FrameHeader.HEADER_LENGTH + encode(b, o + FrameHeader.HEADER_LENGTH, code, message);
        FrameHeader.write(b, o, frameLength, type);
        return frameLength;
    }

    private static byte[] messageBytes(final String message)
    {
        return Wire.utf8Truncated(message == null ? "" : message, MAX_MESSAGE_BYTES);
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
