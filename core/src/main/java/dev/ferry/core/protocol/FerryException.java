package dev.ferry.core.protocol;

/**
 * A failure with an {@link ErrorCode} and a message a person can act on. Thrown at the edges (configuration,
 * storage, sessions), never on the per-block hot path, where return codes are used instead.
 * <p>
 * {@link #describe()} is one line: {@code NAME: message (hint)}, with exactly one hint, the one that applies to this
 * cause: the code's default hint, or the one given at construction (empty for none). Immutable.
 */
public class FerryException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String hint;

    /**
     * @param code    one of {@link ErrorCode}.
     * @param message what happened, naming the file, setting or peer involved.
     */
    public FerryException(final int code, final String message)
    {
        this(code, message, null, null);
    }

    /**
     * @param code    one of {@link ErrorCode}.
     * @param message what happened.
     * @param cause   the underlying failure.
     */
    public FerryException(final int code, final String message, final Throwable cause)
    {
        this(code, message, null, cause);
    }

    /**
     * @param code    one of {@link ErrorCode}.
     * @param message what happened.
     * @param hint    what to do about this cause, replacing the code's default hint; empty for no hint, null for the
     *                default.
     * @param cause   the underlying failure, or null.
     */
    public FerryException(final int code, final String message, final String hint, final Throwable cause)
    {
        super(message, cause);
        this.code = code;
        this.hint = hint;
    }

    /**
     * @return the {@link ErrorCode} of this failure (the number the wire carries).
     */
    public int code()
    {
        return code;
    }

    /**
     * @return the error as an enum; {@link FerryError#UNKNOWN} for a code this build does not know.
     */
    public FerryError error()
    {
        return FerryError.of(code);
    }

    /**
     * @return what a person can do about this failure, or an empty string.
     */
    public String hint()
    {
        return hint != null ? hint : ErrorCode.hint(code);
    }

    /**
     * @return true if a clone that failed this way may be restarted over a new connection.
     */
    public boolean isRestartable()
    {
        return ErrorCode.isRestartable(code);
    }

    /**
     * @return the message followed by the hint: one line for a person.
     */
    public String describe()
    {
        final String h = hint();
        return ErrorCode.name(code) + ": " + getMessage() + (h.isEmpty() ? "" : " (" + h + ")");
    }
}
