package dev.ferry.core.protocol;

/**
 * A failure with an {@link ErrorCode} and a message a person can act on. Thrown at the edges (configuration,
 * storage, sessions), never on the per-block hot path, where return codes are used instead.
 */
public class FerryException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final int code;

    /**
     * @param code    one of {@link ErrorCode}.
     * @param message what happened, naming the file, setting or peer involved.
     */
    public FerryException(final int code, final String message)
    {
        super(message);
        this.code = code;
    }

    /**
     * @param code    one of {@link ErrorCode}.
     * @param message what happened.
     * @param cause   the underlying failure.
     */
    public FerryException(final int code, final String message, final Throwable cause)
    {
        super(message, cause);
        this.code = code;
    }

    /**
     * @return the {@link ErrorCode} of this failure.
     */
    public int code()
    {
        return code;
    }

    /**
     * @return true if a clone that failed this way may be restarted over a new connection.
     */
    public boolean isRestartable()
    {
        return ErrorCode.isRestartable(code);
    }

    /**
     * @return the message followed by the code's hint: one line for a person.
     */
    public String describe()
    {
        final String hint = ErrorCode.hint(code);
        return ErrorCode.name(code) + ": " + getMessage() + (hint.isEmpty() ? "" : " (" + hint + ")");
    }
}
