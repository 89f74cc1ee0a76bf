package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_HAVE}: what the recipient already holds of one file of the snapshot, as 128-bit hashes
 * (XXH3-128) of consecutive pieces of its copy, so that the donor sends only the pieces whose hash differs.
 * <pre>
 *  0 int32 file index (in the donor's manifest)
 *  4 int32 first piece (index of the first hash's piece in the file: offset / piece size)
 *  8 int32 count N
 * 12 int32 flags: 1 = WHOLE, the recipient holds this file exactly as the snapshot announced it (its size and mtime
 *                   matched): the donor sends none of it, without reading it; then first piece and N are 0
 * 16 N x { int64 low, int64 high }   the hash of each piece, in order
 * </pre>
 * Thread-safe: static methods only.
 */
public final class HaveCodec
{
    public static final int FILE_OFFSET = 0;
    public static final int FIRST_PIECE_OFFSET = 4;
    public static final int COUNT_OFFSET = 8;
    public static final int FLAGS_OFFSET = 12;
    public static final int HASHES_OFFSET = 16;
    public static final int FLAG_WHOLE = 1;
    public static final int HASH_LENGTH = 16;

    private HaveCodec()
    {
    }

    public static int lengthFor(final int hashes)
    {
        return HASHES_OFFSET + hashes * HASH_LENGTH;
    }

    /**
     * @return the most hashes a frame of at most {@code maxBody} body bytes carries.
     */
    public static int hashesFitting(final int maxBody)
    {
        return Math.max(0, (maxBody - HASHES_OFFSET) / HASH_LENGTH);
    }

    public static void encodeHeader(final MutableDirectBuffer b, final int o, final int file, final int firstPiece,
        final int count)
    {
        encodeHeader(b, o, file, firstPiece, count, 0);
    }

    public static void encodeHeader(final MutableDirectBuffer b, final int o, final int file, final int firstPiece,
        final int count, final int flags)
    {
        b.putInt(o + FILE_OFFSET, file, BYTE_ORDER);
        b.putInt(o + FIRST_PIECE_OFFSET, firstPiece, BYTE_ORDER);
        b.putInt(o + COUNT_OFFSET, count, BYTE_ORDER);
        b.putInt(o + FLAGS_OFFSET, flags, BYTE_ORDER);
    }

    public static int flags(final DirectBuffer b, final int o)
    {
        return b.getInt(o + FLAGS_OFFSET, BYTE_ORDER);
    }

    public static void putHash(final MutableDirectBuffer b, final int o, final int i, final long low, final long high)
    {
        final int p = o + HASHES_OFFSET + i * HASH_LENGTH;
        b.putLong(p, low, BYTE_ORDER);
        b.putLong(p + 8, high, BYTE_ORDER);
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        if (length < HASHES_OFFSET)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        final int count = count(b, o);
        final int flags = flags(b, o);
        return file(b, o) >= 0 && firstPiece(b, o) >= 0 && count >= 0 && (flags & ~FLAG_WHOLE) == 0 &&
            (flags == 0 || (count == 0 && firstPiece(b, o) == 0)) &&
            (long)HASHES_OFFSET + (long)count * HASH_LENGTH == length ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
    }

    public static int file(final DirectBuffer b, final int o)
    {
        return b.getInt(o + FILE_OFFSET, BYTE_ORDER);
    }

    public static int firstPiece(final DirectBuffer b, final int o)
    {
        return b.getInt(o + FIRST_PIECE_OFFSET, BYTE_ORDER);
    }

    public static int count(final DirectBuffer b, final int o)
    {
        return b.getInt(o + COUNT_OFFSET, BYTE_ORDER);
    }

    public static long low(final DirectBuffer b, final int o, final int i)
    {
        return b.getLong(o + HASHES_OFFSET + i * HASH_LENGTH, BYTE_ORDER);
    }

    public static long high(final DirectBuffer b, final int o, final int i)
    {
        return b.getLong(o + HASHES_OFFSET + i * HASH_LENGTH + 8, BYTE_ORDER);
    }
}
