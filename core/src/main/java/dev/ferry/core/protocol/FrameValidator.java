package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;

/**
 * Checks a whole frame, header and body, before anybody reads a field of it. Used by both sides on every frame
 * they receive. Stateless and allocation-free apart from the flyweight it holds; not thread-safe.
 */
public final class FrameValidator
{
    private final DescriptorFlyweight descriptor = new DescriptorFlyweight();
    private final int maxFrameLength;

    public FrameValidator(final int maxFrameLength)
    {
        this.maxFrameLength = maxFrameLength;
    }

    /**
     * @param buffer holding a complete frame at {@code offset}, {@code available} bytes long at least.
     * @return {@link ErrorCode#OK} or the first error found.
     */
    public int validate(final DirectBuffer buffer, final int offset, final int available)
    {
        if (available < FrameHeader.HEADER_LENGTH)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int headerResult = FrameHeader.validate(buffer, offset, maxFrameLength);
        if (headerResult != ErrorCode.OK)
        {
            return headerResult;
        }
        final int length = FrameHeader.frameLength(buffer, offset);
        if (length > available)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        return validateBody(FrameHeader.type(buffer, offset), buffer, offset + FrameHeader.HEADER_LENGTH,
            length - FrameHeader.HEADER_LENGTH);
    }

    /**
     * Check a body of a known type.
     */
    public int validateBody(final int type, final DirectBuffer buffer, final int body, final int bodyLength)
    {
        switch (type)
        {
            case FrameType.COM_INIT:
            case FrameType.COM_ATTACH:
            case FrameType.COM_REINIT:
            case FrameType.COM_RES_LOCS:
                return LocatorCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_EXECUTE:
                return ExecuteFlags.isValidBody(buffer, body, bodyLength) ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
            case FrameType.COM_CLONE:
            case FrameType.PING:
                return bodyLength == 0 ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
            case FrameType.COM_ACK:
                return AckCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_HAVE:
                return HaveCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_EXIT:
            case FrameType.COM_RES_ERROR:
                return ErrorCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_RES_DATA_DESC:
                return descriptor.wrap(buffer, body, bodyLength).validate();
            case FrameType.COM_RES_DATA:
                return ErrorCode.OK;
            case FrameType.COM_RES_CONFIG:
                return ConfigCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_RES_COMPLETE:
                return CompleteCodec.validate(buffer, body, bodyLength);
            case FrameType.COM_RES_QUEUED:
                return QueuedCodec.validate(buffer, body, bodyLength);
            case FrameType.HELLO:
                return HelloCodec.validate(buffer, body, bodyLength);
            case FrameType.AUTH_CHALLENGE:
            case FrameType.AUTH_RESPONSE:
            case FrameType.AUTH_OK:
                return AuthCodec.validate(buffer, body, bodyLength);
            default:
                return ErrorCode.UNKNOWN_COMMAND;
        }
    }
}
