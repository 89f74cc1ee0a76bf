package dev.ferry.core.protocol;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Facts shared by every layout of the protocol: the byte order (little-endian for every field of every frame)
 * and length-prefixed UTF-8 strings. See {@code docs/PROTOCOL.md}. Thread-safe: stateless.
 */
public final class Wire
{
    /** The one byte order of the whole protocol. */
    public static final ByteOrder BYTE_ORDER = ByteOrder.LITTLE_ENDIAN;
    /** Oldest protocol version this build speaks. */
    public static final int PROTOCOL_MIN = 3;
    /** Newest protocol version this build speaks. */
    public static final int PROTOCOL_MAX = 5;
    /**
     * The first version with streamed manifests: a {@code COM_INIT} whose version locator has stage METADATA asks the
     * donor to announce entries and send the data of closed chunks while it still scans (PROTOCOL.md 6.5).
     */
    public static final int STREAM_PROTOCOL = 5;
    /** Bytes of the {@code uint16} length that precedes every string. */
    public static final int STRING_LENGTH_SIZE = 2;
    /** Longest string the protocol carries (a path or a symlink target), in UTF-8 bytes. */
    public static final int MAX_STRING_BYTES = 4096;

    private Wire()
    {
    }

    /**
     * Write a length-prefixed UTF-8 string.
     *
     * @return bytes written, prefix included.
     * @throws FerryException if the string is longer than {@link #MAX_STRING_BYTES}.
     */
    public static int putString(final MutableDirectBuffer buffer, final int offset, final byte[] utf8)
    {
        if (utf8.length > MAX_STRING_BYTES)
        {
            throw new FerryException(ErrorCode.INTERNAL, "string of " + utf8.length + " bytes exceeds " +
                MAX_STRING_BYTES);
        }
        buffer.putShort(offset, (short)utf8.length, BYTE_ORDER);
        buffer.putBytes(offset + STRING_LENGTH_SIZE, utf8);
        return STRING_LENGTH_SIZE + utf8.length;
    }

    /**
     * @return bytes a string takes on the wire, prefix included.
     */
    public static int stringSize(final byte[] utf8)
    {
        return STRING_LENGTH_SIZE + utf8.length;
    }

    /**
     * Length of the string at {@code offset}, checked against {@code limit}.
     *
     * @return the length in bytes, or -1 if the prefix or the bytes do not fit before {@code limit} or exceed
     * {@code maxBytes}.
     */
    public static int checkedStringLength(final DirectBuffer buffer, final int offset, final int limit, final int maxBytes)
    {
        if (offset < 0 || offset + STRING_LENGTH_SIZE > limit)
        {
            return -1;
        }
        final int length = buffer.getShort(offset, BYTE_ORDER) & 0xFFFF;
        if (length > maxBytes || offset + STRING_LENGTH_SIZE + length > limit)
        {
            return -1;
        }
        return length;
    }

    /**
     * Decode a string that {@link #checkedStringLength} has already validated.
     */
    public static String getString(final DirectBuffer buffer, final int offset)
    {
        final int length = buffer.getShort(offset, BYTE_ORDER) & 0xFFFF;
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset + STRING_LENGTH_SIZE, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * Raw bytes of a string that {@link #checkedStringLength} has already validated.
     */
    public static byte[] getStringBytes(final DirectBuffer buffer, final int offset)
    {
        final int length = buffer.getShort(offset, BYTE_ORDER) & 0xFFFF;
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset + STRING_LENGTH_SIZE, bytes);
        return bytes;
    }

    /**
     * @return the UTF-8 bytes of {@code s}, cut to at most {@code maxBytes} on a character boundary.
     */
    public static byte[] utf8Truncated(final String s, final int maxBytes)
    {
        final byte[] all = utf8(s);
        if (all.length <= maxBytes)
        {
            return all;
        }
        int cut = maxBytes;
        while (cut > 0 && (all[cut] & 0xC0) == 0x80)
        {
            cut--;
        }
        return java.util.Arrays.copyOf(all, cut);
    }

    /**
     * @return the UTF-8 bytes of a string.
     */
    public static byte[] utf8(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
