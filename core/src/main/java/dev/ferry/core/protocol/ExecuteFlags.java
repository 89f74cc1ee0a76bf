package dev.ferry.core.protocol;

/**
 * Body of {@code COM_EXECUTE}: empty, or an int32 of flags, or (protocol 4, flag 16) the flags and an int64.
 * <pre>
 *  0 int32 flags: 1 = metadata only (the donor sends the manifest, then COM_RES_COMPLETE for the METADATA stage;
 *                  used by resume to compare manifests before asking for data),
 *                  2 = checksums only (DATA descriptors carry the CRC32C of each block and flag 4, no COM_RES_DATA
 *                  follows; used by verify),
 *                  4 = live (a file that changes under the donor's reads is counted, not fatal),
 *                  8 = compress: the donor may send a block's body as one zstd frame (DATA flag 16),
 *                  16 = hash ahead (protocol 4, with flag 1 only): an int64 follows, the newest mtime (ns) of the
 *                  copy's regular files; the donor may hash the files modified later while the client merges,
 *                  bits 16-23 = the zstd level with flag 8 ({@link #MIN_LEVEL}..{@link #MAX_LEVEL}), else 0
 *  4 int64 newer-than, only with flag 16
 * </pre>
 * Stateless helpers; any thread.
 */
public final class ExecuteFlags
{
    public static final int METADATA_ONLY = 1;
    /** Send DATA descriptors with their CRC32C but no bytes (flag NO_BODY), for {@code ferry verify}. */
    public static final int CHECKSUMS_ONLY = 2;
    /**
     * A live clone (protocol 3): a file that changes while the donor reads it does not fail the clone
     * ({@code FILE_CHANGED}); the donor counts it in {@code COM_RES_COMPLETE} and the client copies it again in a
     * change pass. Without it (the client's {@code --strict}) a change fails the clone as before.
     */
    public static final int LIVE = 4;
    /** The client takes zstd-compressed block bodies ({@code DescriptorFlyweight.DATA_FLAG_ZSTD}). */
    public static final int COMPRESS = 8;
    /**
     * Protocol 4: with {@link #METADATA_ONLY} only, and then the body is {@link #LENGTH_HASH_AHEAD} bytes: an int64 at
     * {@link #NEWER_THAN_OFFSET} follows the flags, the newest mtime (ns since the epoch) of the copy's regular files
     * ({@code Long.MIN_VALUE}: the client compares every file). The donor may read and hash the files modified after
     * it while the client merges the manifest; what it sends does not depend on it.
     */
    public static final int HASH_AHEAD = 16;
    /** Every flag bit; the level's bits are apart ({@link #LEVEL_MASK}). */
    public static final int ALL = METADATA_ONLY | CHECKSUMS_ONLY | LIVE | COMPRESS | HASH_AHEAD;
    public static final int LEVEL_SHIFT = 16;
    public static final int LEVEL_MASK = 0xFF << LEVEL_SHIFT;
    /** Lowest zstd level the protocol carries (zstd's negative "fast" levels are not offered). */
    public static final int MIN_LEVEL = 1;
    /** Highest zstd level (zstd's ultra levels end at 22). */
    public static final int MAX_LEVEL = 22;
    public static final int LENGTH = 4;
    public static final int NEWER_THAN_OFFSET = 4;
    public static final int LENGTH_HASH_AHEAD = 12;
    /** First protocol version whose donors take {@link #HASH_AHEAD}. */
    public static final int HASH_AHEAD_PROTOCOL = 4;

    private ExecuteFlags()
    {
    }

    /**
     * @return the flags asking for compression at {@code level}.
     */
    public static int compress(final int level)
    {
        if (level < MIN_LEVEL || level > MAX_LEVEL)
        {
            throw new IllegalArgumentException("compression level " + level + " is outside " + MIN_LEVEL + ".." +
                MAX_LEVEL);
        }
        return COMPRESS | level << LEVEL_SHIFT;
    }

    /**
     * @return the zstd level of {@code flags}, 0 without {@link #COMPRESS}.
     */
    public static int level(final int flags)
    {
        return (flags & LEVEL_MASK) >>> LEVEL_SHIFT;
    }

    /**
     * @return whether a COM_EXECUTE body of {@code length} bytes at {@code offset} is well formed: empty, four bytes
     *     of valid flags without {@link #HASH_AHEAD}, or twelve with it (and {@link #METADATA_ONLY}, nothing else).
     */
    public static boolean isValidBody(final org.agrona.DirectBuffer buffer, final int offset, final int length)
    {
        if (length == 0)
        {
            return true;
        }
        if (length != LENGTH && length != LENGTH_HASH_AHEAD)
        {
            return false;
        }
        final int flags = buffer.getInt(offset, Wire.BYTE_ORDER);
        final boolean ahead = (flags & HASH_AHEAD) != 0;
        return isValid(flags) && ahead == (length == LENGTH_HASH_AHEAD) &&
            (!ahead || (flags & ~(HASH_AHEAD | LIVE | COMPRESS | LEVEL_MASK)) == METADATA_ONLY);
    }

    /**
     * @return true if {@code flags} has only known bits, and a level in range exactly when it asks for compression.
     */
    public static boolean isValid(final int flags)
    {
        if ((flags & ~(ALL | LEVEL_MASK)) != 0)
        {
            return false;
        }
        final int level = level(flags);
        return (flags & COMPRESS) != 0 ? level >= MIN_LEVEL && level <= MAX_LEVEL : level == 0;
    }
}
