package dev.ferry.core.protocol;

/**
 * Body of {@code COM_EXECUTE}: empty, or an int32 of flags.
 * <pre>
 *  0 int32 flags: 1 = metadata only (the donor sends the manifest, then COM_RES_COMPLETE for the METADATA stage;
 *                  used by resume to compare manifests before asking for data),
 *                  2 = checksums only (DATA descriptors carry the CRC32C of each block and flag 4, no COM_RES_DATA
 *                  follows; used by verify),
 *                  4 = live (a file that changes under the donor's reads is counted, not fatal),
 *                  8 = compress: the donor may send a block's body as one zstd frame (DATA flag 16),
 *                  bits 16-23 = the zstd level with flag 8 ({@link #MIN_LEVEL}..{@link #MAX_LEVEL}), else 0
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
    /** Every flag bit; the level's bits are apart ({@link #LEVEL_MASK}). */
    public static final int ALL = METADATA_ONLY | CHECKSUMS_ONLY | LIVE | COMPRESS;
    public static final int LEVEL_SHIFT = 16;
    public static final int LEVEL_MASK = 0xFF << LEVEL_SHIFT;
    /** Lowest zstd level the protocol carries (zstd's negative "fast" levels are not offered). */
    public static final int MIN_LEVEL = 1;
    /** Highest zstd level (zstd's ultra levels end at 22). */
    public static final int MAX_LEVEL = 22;
    public static final int LENGTH = 4;

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
