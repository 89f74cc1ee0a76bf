package dev.ferry.core.protocol;

import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_RES_CONFIG}: donor settings the recipient validates before any data moves.
 * <pre>
 *  0 int32 pair count N (at most 64)
 *  4 N pairs of { string key (at most 128 bytes), string value (at most 1024 bytes) }
 * </pre>
 * Thread-safe: static methods only.
 */
public final class ConfigCodec
{
    public static final int MAX_PAIRS = 64;
    public static final int MAX_KEY_BYTES = 128;
    public static final int MAX_VALUE_BYTES = 1024;

    private ConfigCodec()
    {
    }

    public static int encode(final MutableDirectBuffer b, final int o, final Map<String, String> config)
    {
        if (config.size() > MAX_PAIRS)
        {
            throw new FerryException(ErrorCode.INTERNAL, "too many config pairs: " + config.size());
        }
        b.putInt(o, config.size(), BYTE_ORDER);
        int p = o + 4;
        for (final Map.Entry<String, String> e : config.entrySet())
        {
            final byte[] k = Wire.utf8(e.getKey());
            final byte[] v = Wire.utf8(e.getValue());
            if (k.length > MAX_KEY_BYTES || v.length > MAX_VALUE_BYTES)
            {
                throw new FerryException(ErrorCode.INTERNAL, "config pair '" + e.getKey() + "' exceeds " +
                    MAX_KEY_BYTES + " key bytes or " + MAX_VALUE_BYTES + " value bytes");
            }
            p += Wire.putString(b, p, k);
            p += Wire.putString(b, p, v);
        }
        return p - o;
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length < 4)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int count = b.getInt(o, BYTE_ORDER);
        if (count < 0 || count > MAX_PAIRS)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int limit = o + length;
        int p = o + 4;
        for (int i = 0; i < count; i++)
        {
            final int k = Wire.checkedStringLength(b, p, limit, MAX_KEY_BYTES);
            if (k < 0)
            {
                return ErrorCode.MALFORMED_FRAME;
            }
            p += Wire.STRING_LENGTH_SIZE + k;
            final int v = Wire.checkedStringLength(b, p, limit, MAX_VALUE_BYTES);
            if (v < 0)
            {
                return ErrorCode.MALFORMED_FRAME;
            }
            p += Wire.STRING_LENGTH_SIZE + v;
        }
        return p == limit ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
    }

    /**
     * Decode a body that {@link #validate} accepted.
     */
    public static Map<String, String> decode(final DirectBuffer b, final int o)
    {
        final int count = b.getInt(o, BYTE_ORDER);
        final Map<String, String> map = new LinkedHashMap<>();
        int p = o + 4;
        for (int i = 0; i < count; i++)
        {
            final String k = Wire.getString(b, p);
            p += Wire.STRING_LENGTH_SIZE + (b.getShort(p, BYTE_ORDER) & 0xFFFF);
            final String v = Wire.getString(b, p);
            p += Wire.STRING_LENGTH_SIZE + (b.getShort(p, BYTE_ORDER) & 0xFFFF);
            map.put(k, v);
        }
        return map;
    }
}
