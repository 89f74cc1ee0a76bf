package dev.ferry.engine;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * What Ferry does with an {@link Error} (an {@link OutOfMemoryError}, a {@link StackOverflowError}, any unexpected
 * Error) in one of its threads: it becomes a {@link FerryException} that fails the clone like any other error, built
 * without needing memory the heap may no longer have ({@link #failure}). A program embedding Ferry gets that failure
 * from {@code CloneClient.run} and keeps running.
 * <p>
 * The {@code ferry} command line also {@link #armHalt arms a halt}: a thread started up front (starting one after the
 * heap ran out may itself fail, which is also why a JVM out of heap can ignore SIGTERM) waits for the first Error, gives
 * the normal path {@link #GRACE_PROP_NAME} milliseconds to report it and exit, and otherwise writes a prepared line
 * to stderr and halts the JVM with exit code 1, so an exhausted process never hangs. Any thread.
 */
public final class FatalErrors
{
    /** How long the command line waits, after an Error, for the normal path to report and exit before halting. */
    public static final String GRACE_PROP_NAME = "ferry.fatal.grace.ms";
    public static final long GRACE_DEFAULT_MS = 3000;

    private static final String HINT = "give the JVM more heap (FERRY_JAVA_OPTS=-Xmx...); a clone keeps .ferry/ for " +
        "--resume";
    /** Built while memory is plentiful: the failure when there is not even room for a message. */
    private static final FerryException OUT_OF_MEMORY = new FerryException(ErrorCode.INTERNAL,
        "out of memory: the Java heap (at most " + mib(Runtime.getRuntime().maxMemory()) + " MiB) is too small for " +
        "this clone", HINT, null);

    private static final CountDownLatch FATAL = new CountDownLatch(1);
    private static volatile boolean reported;
    private static volatile boolean armed;

    private FatalErrors()
    {
    }

    /**
     * The failure of a clone for {@code t}, caught in one of the clone's threads (a client loop, an apply worker, the
     * driver). Never throws, and does not need the heap for an OutOfMemoryError. An Error also triggers the armed
     * halt: the clone is over.
     *
     * @param t     what was caught.
     * @param where what failed, for the message of an unexpected exception ("client loop failed").
     */
    public static FerryException fatal(final Throwable t, final String where)
    {
        if (t instanceof Error)
        {
            FATAL.countDown();
        }
        return failure(t, where);
    }

    /**
     * The failure for {@code t} without the halt: what a donor session reports when it ends on an Error, since the
     * donor goes on serving its other clients (the session's memory is released with it).
     */
    public static FerryException failure(final Throwable t, final String where)
    {
        if (t instanceof FerryException)
        {
            return (FerryException)t;
        }
        try
        {
            if (t instanceof OutOfMemoryError &&
                String.valueOf(t.getMessage()).toLowerCase(java.util.Locale.ROOT).contains("direct buffer memory"))
            {
                return new FerryException(ErrorCode.INTERNAL, "out of memory in thread '" +
                    Thread.currentThread().getName() + "' (" + t.getMessage() + "): the JVM's direct memory (the " +
                    "connections' block buffers; by default as large as the heap) is too small for this " +
                    "clone", "give the JVM more (FERRY_JAVA_OPTS=-Xmx... or -XX:MaxDirectMemorySize=...); a clone " +
                    "keeps .ferry/ for --resume", t);
            }
            if (t instanceof OutOfMemoryError)
            {
                return new FerryException(ErrorCode.INTERNAL, "out of memory in thread '" +
                    Thread.currentThread().getName() + "' (" + t.getMessage() + "): the Java heap (at most " +
                    mib(Runtime.getRuntime().maxMemory()) + " MiB) is too small for this clone", HINT, t);
            }
            return new FerryException(ErrorCode.INTERNAL, where + ": " + t, t);
        }
        catch (final Throwable again)
        {
            return OUT_OF_MEMORY;
        }
    }

    /**
     * The command line has printed its error line: the halt, if it comes, adds none.
     */
    public static void reported()
    {
        reported = true;
    }

    /**
     * Arm the halt for this JVM (the command line only: a program embedding Ferry decides for itself). Also makes an
     * Error that kills any thread trigger it. Idempotent.
     */
    public static synchronized void armHalt(final int exitCode)
    {
        if (armed)
        {
            return;
        }
        armed = true;
        final long grace = Long.getLong(GRACE_PROP_NAME, GRACE_DEFAULT_MS);
        final byte[] line = ("ferry: error: " + ErrorCode.name(ErrorCode.INTERNAL) + ": " + OUT_OF_MEMORY.getMessage()
            .replace("out of memory", "out of memory or another fatal error") + " (halted after " + grace + " ms; " +
            HINT + ")\n").getBytes(StandardCharsets.UTF_8);
        final FileOutputStream err = new FileOutputStream(FileDescriptor.err);
        final Thread watchdog = new Thread(() ->
        {
            try
            {
                FATAL.await();
                Thread.sleep(grace);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            if (!reported)
            {
                try
                {
                    err.write(line);
                }
                catch (final IOException ignore)
                {
                    // halt anyway
                }
            }
            Runtime.getRuntime().halt(exitCode);
        }, "ferry-fatal-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        Thread.setDefaultUncaughtExceptionHandler((thread, ex) ->
        {
            if (ex instanceof Error)
            {
                FATAL.countDown();
            }
            try
            {
                System.err.println("ferry: thread '" + thread.getName() + "' died: " + ex);
            }
            catch (final Throwable ignore)
            {
                // the watchdog reports
            }
        });
    }

    /**
     * @return whether an Error has been seen since the JVM started.
     */
    public static boolean seen()
    {
        return FATAL.getCount() == 0;
    }

    private static long mib(final long bytes)
    {
        return bytes / (1024 * 1024);
    }
}
