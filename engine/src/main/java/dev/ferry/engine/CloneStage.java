package dev.ferry.engine;

import dev.ferry.core.spi.Stage;

/**
 * The stages of a clone as the public API shows them (the wire carries {@link #code()}, see {@link Stage}), in the
 * order a clone passes them. Thread-safe: immutable.
 */
public enum CloneStage
{
    /** Nothing has happened yet (connecting, handshake). */
    NONE(Stage.NONE),
    /** The master task receives the manifest and creates the tree. */
    METADATA(Stage.METADATA),
    /** All tasks receive data blocks. */
    FILE_COPY(Stage.FILE_COPY),
    /** Metadata restored and everything forced to disk. */
    FILE_SYNC(Stage.FILE_SYNC),
    /** The clone is complete. */
    DONE(Stage.DONE),
    /** A live clone's later passes: only what changed since the previous pass travels. */
    CHANGE_COPY(Stage.CHANGE_COPY),
    /** A live clone's last pass, while the donor's freeze hook holds the dataset still. */
    FREEZE(Stage.FREEZE);

    private static final CloneStage[] BY_CODE = values();

    private final int code;

    CloneStage(final int code)
    {
        this.code = code;
    }

    /**
     * @return the wire value of this stage.
     */
    public int code()
    {
        return code;
    }

    /**
     * @return the name a person reads, as the clone plugin's progress table shows it ({@code FILE COPY}).
     */
    public String label()
    {
        return Stage.name(code);
    }

    /**
     * @param code a wire stage value.
     * @return its enum.
     * @throws IllegalArgumentException if no stage has this value.
     */
    public static CloneStage of(final int code)
    {
        if (code < 0 || code >= BY_CODE.length)
        {
            throw new IllegalArgumentException("no clone stage " + code);
        }
        return BY_CODE[code];
    }
}
