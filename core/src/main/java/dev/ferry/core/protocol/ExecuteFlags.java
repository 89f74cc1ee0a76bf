package dev.ferry.core.protocol;

/**
 * Body of {@code COM_EXECUTE}: empty, or an int32 of flags.
 * <pre>
 *  0 int32 flags: 1 = metadata only (the donor sends the manifest, then COM_RES_COMPLETE for the METADATA stage;
 *                  used by resume to compare manifests before asking for data),
 *                  2 = checksums only (DATA descriptors carry the CRC32C of each block and flag 4, no COM_RES_DATA
 *                  follows; used by verify)
 * </pre>
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
    public static final int ALL = METADATA_ONLY | CHECKSUMS_ONLY | LIVE;
    public static final int LENGTH = 4;

    private ExecuteFlags()
    {
    }
}
