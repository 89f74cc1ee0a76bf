package dev.ferry.core.protocol;

/**
 * Body of {@code COM_EXECUTE}: empty, or an int32 of flags.
 * <pre>
 *  0 int32 flags: 1 = metadata only (the donor sends the manifest, then COM_RES_COMPLETE for the METADATA stage;
 *                  used by resume to compare manifests before asking for data)
 * </pre>
 */
public final class ExecuteFlags
{
    public static final int METADATA_ONLY = 1;
    public static final int ALL = METADATA_ONLY;
    public static final int LENGTH = 4;

    private ExecuteFlags()
    {
    }
}
