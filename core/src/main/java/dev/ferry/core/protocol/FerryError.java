package dev.ferry.core.protocol;

/**
 * The error codes of {@link ErrorCode} as an enum, for programs that embed Ferry: {@code switch} on
 * {@link FerryException#error()} instead of comparing ints. The wire carries {@link #code()}; a code this build does
 * not know maps to {@link #UNKNOWN}. Thread-safe: immutable.
 */
public enum FerryError
{
    /** No error. */
    OK(ErrorCode.OK),
    /** See {@link ErrorCode#MALFORMED_FRAME}. */
    MALFORMED_FRAME(ErrorCode.MALFORMED_FRAME),
    /** See {@link ErrorCode#FRAME_TOO_LARGE}. */
    FRAME_TOO_LARGE(ErrorCode.FRAME_TOO_LARGE),
    /** See {@link ErrorCode#UNKNOWN_COMMAND}. */
    UNKNOWN_COMMAND(ErrorCode.UNKNOWN_COMMAND),
    /** See {@link ErrorCode#UNEXPECTED_COMMAND}. */
    UNEXPECTED_COMMAND(ErrorCode.UNEXPECTED_COMMAND),
    /** See {@link ErrorCode#VERSION_MISMATCH}. */
    VERSION_MISMATCH(ErrorCode.VERSION_MISMATCH),
    /** See {@link ErrorCode#BAD_LOCATOR}. */
    BAD_LOCATOR(ErrorCode.BAD_LOCATOR),
    /** See {@link ErrorCode#UNKNOWN_SNAPSHOT}. */
    UNKNOWN_SNAPSHOT(ErrorCode.UNKNOWN_SNAPSHOT),
    /** See {@link ErrorCode#TOO_MANY_CLONES}. */
    TOO_MANY_CLONES(ErrorCode.TOO_MANY_CLONES),
    /** See {@link ErrorCode#CONFIG_MISMATCH}. */
    CONFIG_MISMATCH(ErrorCode.CONFIG_MISMATCH),
    /** See {@link ErrorCode#FILE_CHANGED}. */
    FILE_CHANGED(ErrorCode.FILE_CHANGED),
    /** See {@link ErrorCode#IO_ERROR}. */
    IO_ERROR(ErrorCode.IO_ERROR),
    /** See {@link ErrorCode#PATH_REFUSED}. */
    PATH_REFUSED(ErrorCode.PATH_REFUSED),
    /** See {@link ErrorCode#CHECKSUM_MISMATCH}. */
    CHECKSUM_MISMATCH(ErrorCode.CHECKSUM_MISMATCH),
    /** See {@link ErrorCode#AUTH_FAILED}. */
    AUTH_FAILED(ErrorCode.AUTH_FAILED),
    /** See {@link ErrorCode#NOT_FERRY}. */
    NOT_FERRY(ErrorCode.NOT_FERRY),
    /** See {@link ErrorCode#TIMEOUT}. */
    TIMEOUT(ErrorCode.TIMEOUT),
    /** See {@link ErrorCode#NETWORK}. */
    NETWORK(ErrorCode.NETWORK),
    /** See {@link ErrorCode#TARGET_NOT_EMPTY}. */
    TARGET_NOT_EMPTY(ErrorCode.TARGET_NOT_EMPTY),
    /** See {@link ErrorCode#DISK_FULL}. */
    DISK_FULL(ErrorCode.DISK_FULL),
    /** See {@link ErrorCode#BAD_DESCRIPTOR}. */
    BAD_DESCRIPTOR(ErrorCode.BAD_DESCRIPTOR),
    /** See {@link ErrorCode#INTERNAL}. */
    INTERNAL(ErrorCode.INTERNAL),
    /** See {@link ErrorCode#CANCELLED}. */
    CANCELLED(ErrorCode.CANCELLED),
    /** See {@link ErrorCode#TARGET_IN_USE}. */
    TARGET_IN_USE(ErrorCode.TARGET_IN_USE),
    /** See {@link ErrorCode#DONOR_SHUTDOWN}. */
    DONOR_SHUTDOWN(ErrorCode.DONOR_SHUTDOWN),
    /** See {@link ErrorCode#HOOK_FAILED}. */
    HOOK_FAILED(ErrorCode.HOOK_FAILED),
    /** A code this build does not know (a newer peer's). */
    UNKNOWN(-1);

    private static final FerryError[] BY_CODE = new FerryError[ErrorCode.HOOK_FAILED + 1];

    static
    {
        for (final FerryError e : values())
        {
            if (e.code >= 0)
            {
                BY_CODE[e.code] = e;
            }
        }
    }

    private final int code;

    FerryError(final int code)
    {
        this.code = code;
    }

    /**
     * @return the wire number of this error, -1 for {@link #UNKNOWN}.
     */
    public int code()
    {
        return code;
    }

    /**
     * @return what a person can do about this error, or an empty string.
     */
    public String hint()
    {
        return ErrorCode.hint(code);
    }

    /**
     * @return true if a clone that failed this way may continue over a new connection.
     */
    public boolean isRestartable()
    {
        return ErrorCode.isRestartable(code);
    }

    /**
     * @param code a wire error code.
     * @return its enum, {@link #UNKNOWN} if this build does not know it.
     */
    public static FerryError of(final int code)
    {
        return code >= 0 && code < BY_CODE.length && BY_CODE[code] != null ? BY_CODE[code] : UNKNOWN;
    }
}
