package dev.ferry.core.spi;

/**
 * Stages of a clone, carried in locators and state descriptors. Codes are wire values.
 */
public final class Stage
{
    /** Nothing has happened yet. */
    public static final int NONE = 0;
    /** The master task ships the manifest: one file descriptor per entry. */
    public static final int METADATA = 1;
    /** All tasks ship data blocks. */
    public static final int FILE_COPY = 2;
    /** The recipient restores metadata and forces files and directories to disk. */
    public static final int FILE_SYNC = 3;
    /** The clone is complete. */
    public static final int DONE = 4;
    /** A live clone's later passes: only what changed since the previous pass travels (protocol 3). */
    public static final int CHANGE_COPY = 5;
    /** A live clone's last pass, taken while the donor's freeze hook holds the dataset still (protocol 3). */
    public static final int FREEZE = 6;

    private Stage()
    {
    }

    public static boolean isValid(final int stage)
    {
        return stage >= NONE && stage <= FREEZE;
    }

    public static String name(final int stage)
    {
        switch (stage)
        {
            case NONE: return "NONE";
            case METADATA: return "METADATA";
            case FILE_COPY: return "FILE COPY";
            case FILE_SYNC: return "FILE SYNC";
            case DONE: return "DONE";
            case CHANGE_COPY: return "CHANGE COPY";
            case FREEZE: return "FREEZE";
            default: return "STAGE_" + stage;
        }
    }
}
