package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code HELLO}, the first frame each side sends on a new connection.
 * <pre>
 *  0 int64 magic 0x0A0D_5952_5245_46 ("FERRY\r\n\0" read little-endian: lets a client spot a port that is not Ferry)
 *  8 uint16 protocol min   10 uint16 protocol max   12 int32 role (1 client, 2 donor)
 * 16 int64 feature bits    24 string software version (at most 128 bytes)
 * </pre>
 * Thread-safe: static methods only.
 */
public final class HelloCodec
{
    public static final long MAGIC = 0x000A_0D59_5252_4546L;
    public static final int MAGIC_OFFSET = 0;
    public static final int PROTOCOL_MIN_OFFSET = 8;
    public static final int PROTOCOL_MAX_OFFSET = 10;
    public static final int ROLE_OFFSET = 12;
    public static final int FEATURES_OFFSET = 16;
    public static final int VERSION_OFFSET = 24;
    public static final int MAX_VERSION_BYTES = 128;
    /** Longest body {@link #encode} writes: what to claim before encoding. */
    public static final int MAX_LENGTH = VERSION_OFFSET + Wire.STRING_LENGTH_SIZE + MAX_VERSION_BYTES;

    public static final int ROLE_CLIENT = 1;
    public static final int ROLE_DONOR = 2;

    /** Data blocks carry CRC32C. */
    public static final long FEATURE_CRC32C = 1;
    /** Restart after a network failure with COM_REINIT. */
    public static final long FEATURE_RESTART = 2;
    /** The donor requires a challenge-response authentication before COM_CLONE. */
    public static final long FEATURE_AUTH_REQUIRED = 4;
    /** The connection is protected by TLS. */
    public static final long FEATURE_TLS = 8;
    /**
     * Client: it understands {@code COM_RES_QUEUED}, so a donor at its maximum of clones may queue its COM_INIT
     * instead of refusing it with {@code TOO_MANY_CLONES}.
     */
    public static final long FEATURE_QUEUE = 16;

    private HelloCodec()
    {
    }

    public static int encode(
        final MutableDirectBuffer b, final int o, final int protocolMin, final int protocolMax, final int role,
        final long features, final String softwareVersion)
    {
        b.putLong(o + MAGIC_OFFSET, MAGIC, BYTE_ORDER);
        b.putShort(o + PROTOCOL_MIN_OFFSET, (short)protocolMin, BYTE_ORDER);
        b.putShort(o + PROTOCOL_MAX_OFFSET, (short)protocolMax, BYTE_ORDER);
        b.putInt(o + ROLE_OFFSET, role, BYTE_ORDER);
        b.putLong(o + FEATURES_OFFSET, features, BYTE_ORDER);
        final byte[] v = Wire.utf8Truncated(softwareVersion, MAX_VERSION_BYTES);
        return VERSION_OFFSET + Wire.putString(b, o + VERSION_OFFSET, v);
    }

    /**
     * @return {@link ErrorCode#OK}, {@link ErrorCode#NOT_FERRY} if the magic is wrong, or
     * {@link ErrorCode#MALFORMED_FRAME}.
     */
    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length < 8 || b.getLong(o + MAGIC_OFFSET, BYTE_ORDER) != MAGIC)
        {
            return ErrorCode.NOT_FERRY;
        }
        if (length < VERSION_OFFSET + Wire.STRING_LENGTH_SIZE)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int vl = Wire.checkedStringLength(b, o + VERSION_OFFSET, o + length, MAX_VERSION_BYTES);
        if (vl < 0 || VERSION_OFFSET + Wire.STRING_LENGTH_SIZE + vl != length)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int min = protocolMin(b, o);
        final int role = role(b, o);
        if (min < 1 || protocolMax(b, o) < min || (role != ROLE_CLIENT && role != ROLE_DONOR))
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        return ErrorCode.OK;
    }

    public static int protocolMin(final DirectBuffer b, final int o)
    {
        return b.getShort(o + PROTOCOL_MIN_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    public static int protocolMax(final DirectBuffer b, final int o)
    {
        return b.getShort(o + PROTOCOL_MAX_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    public static int role(final DirectBuffer b, final int o)
    {
        return b.getInt(o + ROLE_OFFSET, BYTE_ORDER);
    }

    public static long features(final DirectBuffer b, final int o)
    {
        return b.getLong(o + FEATURES_OFFSET, BYTE_ORDER);
    }

    public static String softwareVersion(final DirectBuffer b, final int o)
    {
        return Wire.getString(b, o + VERSION_OFFSET);
    }
}
