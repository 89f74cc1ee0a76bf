package dev.ferry.core.protocol;

/**
 * Error codes carried by {@code COM_RES_ERROR}, returned by decoders and held by {@link FerryException}.
 * <p>
 * Codes are part of the wire format: never renumber one. Each code has a short name and a default hint that
 * tells a person what to do about it; the message that travels with a code says what happened.
 * Thread-safe: constants only. The public API offers the same codes as an enum, {@link FerryError}.
 */
public final class ErrorCode
{
    /** No error: {@code COM_EXIT} after a complete clone. */
    public static final int OK = 0;
    /** A frame's length or a field inside it is out of range or truncated. */
    public static final int MALFORMED_FRAME = 1;
    /** A frame announced a length above the negotiated cap. */
    public static final int FRAME_TOO_LARGE = 2;
    /** A frame type this side does not know. */
    public static final int UNKNOWN_COMMAND = 3;
    /** A known frame type arrived in a state where it is not allowed. */
    public static final int UNEXPECTED_COMMAND = 4;
    /** The two sides share no protocol version. */
    public static final int VERSION_MISMATCH = 5;
    /** A locator names an unknown engine or snapshot, or is otherwise unusable. */
    public static final int BAD_LOCATOR = 6;
    /** The donor no longer holds the snapshot a restart asked for. */
    public static final int UNKNOWN_SNAPSHOT = 7;
    /** The donor is already serving its configured maximum of clones. */
    public static final int TOO_MANY_CLONES = 8;
    /** A donor configuration value the recipient cannot work with. */
    public static final int CONFIG_MISMATCH = 9;
    /** A donor file changed size or modification time while it was being copied. */
    public static final int FILE_CHANGED = 10;
    /** An I/O error on either side's storage. */
    public static final int IO_ERROR = 11;
    /** A path that would leave the target directory, or pass through a symlink. */
    public static final int PATH_REFUSED = 12;
    /** A data block whose CRC32C does not match its bytes. */
    public static final int CHECKSUM_MISMATCH = 13;
    /** Authentication failed or is required. */
    public static final int AUTH_FAILED = 14;
    /** The peer does not speak the Ferry protocol. */
    public static final int NOT_FERRY = 15;
    /** No bytes arrived within the read timeout. */
    public static final int TIMEOUT = 16;
    /** The connection to the peer was lost. */
    public static final int NETWORK = 17;
    /** The target directory is not empty. */
    public static final int TARGET_NOT_EMPTY = 18;
    /** The recipient's file system is full. */
    public static final int DISK_FULL = 19;
    /** A descriptor disagrees with what was announced before (unknown file, offset past size, duplicate). */
    public static final int BAD_DESCRIPTOR = 20;
    /** A bug: an invariant did not hold. */
    public static final int INTERNAL = 21;
    /** The operation was cancelled by the caller. */
    public static final int CANCELLED = 22;
    /** The target directory is being written by another clone (its {@code .ferry/lock} is held). */
    public static final int TARGET_IN_USE = 23;
    /** The donor is shutting down (SIGTERM, {@code DonorService.close}); it may come back within the restart window. */
    public static final int DONOR_SHUTDOWN = 24;
    /** The donor's freeze hook failed or ran past its timeout (a live clone's FREEZE stage). */
    public static final int HOOK_FAILED = 25;

    private static final String[] NAMES = {
        "OK", "MALFORMED_FRAME", "FRAME_TOO_LARGE", "UNKNOWN_COMMAND", "UNEXPECTED_COMMAND", "VERSION_MISMATCH",
        "BAD_LOCATOR", "UNKNOWN_SNAPSHOT", "TOO_MANY_CLONES", "CONFIG_MISMATCH", "FILE_CHANGED", "IO_ERROR",
        "PATH_REFUSED", "CHECKSUM_MISMATCH", "AUTH_FAILED", "NOT_FERRY", "TIMEOUT", "NETWORK", "TARGET_NOT_EMPTY",
        "DISK_FULL", "BAD_DESCRIPTOR", "INTERNAL", "CANCELLED", "TARGET_IN_USE",
        "DONOR_SHUTDOWN", "HOOK_FAILED" };

    private static final String[] HINTS = {
        "",
        "the peer sent bytes that are not a valid Ferry frame; check that both sides run compatible Ferry builds",
        "the peer sent a frame above the size cap; check both sides' max-frame settings",
        "the peer sent a command this build does not know; upgrade the older side",
        "the peer sent a command out of order; this is a bug in the peer or a hostile peer",
        "upgrade the older side so that both share a protocol version",
        "restart the clone from the beginning",
        "the donor dropped the snapshot; run the clone again with --resume",
        "wait for a running clone to finish or raise the donor's --max-clones",
        "align the donor and recipient settings named in the message",
        "the source is being modified; clone from a quiescent source or a file-system snapshot",
        "check the disk and permissions named in the message",
        "the donor sent a path outside the target; the donor may be hostile",
        "data was corrupted in transit or on the donor's disk",
        "check the shared secret, or the TLS certificates and CA, on both sides",
        "check the host and port: they do not belong to a Ferry donor",
        "the peer stopped answering; check the network, then retry with --resume",
        "the connection was lost; retry with --resume",
        "choose an empty directory, or pass --resume to continue an interrupted clone",
        "free space on the recipient, then continue with --resume",
        "the donor sent inconsistent descriptors; the donor may be hostile or buggy",
        "this is a bug in Ferry; please report it with the message",
        "",
        "wait for the other clone to finish, or stop it first; a lock left by a dead process is taken over",
        "start the donor again; the client waits for it within the restart window (or continue later with --resume)",
        "the donor's --freeze-cmd failed or timed out (its stderr is in the message); fix the hook or raise --freeze-timeout"
    };

    private ErrorCode()
    {
    }

    /**
     * @param code an error code.
     * @return its short name, or {@code "ERROR_<code>"} for codes this build does not know.
     */
    public static String name(final int code)
    {
        return code >= 0 && code < NAMES.length ? NAMES[code] : "ERROR_" + code;
    }

    /**
     * @param code an error code.
     * @return what a person can do about it, or an empty string.
     */
    public static String hint(final int code)
    {
        return code >= 0 && code < HINTS.length ? HINTS[code] : "";
    }

    /**
     * @param code an error code.
     * @return true if a clone that failed with this code may be restarted over a new connection.
     */
    public static boolean isRestartable(final int code)
    {
        return code == TIMEOUT || code == NETWORK || code == DONOR_SHUTDOWN;
    }
}
