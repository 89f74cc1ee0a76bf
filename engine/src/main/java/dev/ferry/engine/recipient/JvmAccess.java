package dev.ferry.engine.recipient;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * Checks once that the JVM exports {@code jdk.internal.misc} to Ferry (Agrona's off-heap buffers and CRC32C use it):
 * without {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} a clone or donor would fail later with a raw
 * {@code IllegalAccessError}; {@link #check()} says so at construction, naming the flag. Thread-safe.
 */
public final class JvmAccess
{
    /** The JVM option Ferry needs (the {@code ferry} script and the jar's manifest give it). */
    public static final String FLAG = "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED";

    private static final boolean EXPORTED =
        Object.class.getModule().isExported("jdk.internal.misc", JvmAccess.class.getModule());

    private JvmAccess()
    {
    }

    /**
     * @throws FerryException with {@code CONFIG_MISMATCH} naming {@link #FLAG} if the JVM was started without it.
     */
    public static void check()
    {
        if (!EXPORTED)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "this JVM does not export jdk.internal.misc to Ferry",
                "start java with " + FLAG + " (the ferry script and the jar's manifest do)", null);
        }
    }
}
