package dev.ferry.engine;

import java.util.Locale;

/**
 * An opt-in timeline of a run's steps on stderr ({@code -Dferry.trace=true}, e.g. through {@code FERRY_JAVA_OPTS}):
 * one line per step, milliseconds since the JVM started, so that an operator (or a benchmark) can see where a
 * clone's or an update's wall time goes (scans, hashing, the stream, FILE SYNC) without a profiler. Off by default;
 * when off each call is one static boolean read.
 */
public final class Trace
{
    /** Set once at class load from {@code ferry.trace}. */
    public static final boolean ON = Boolean.getBoolean("ferry.trace");
    private static final long START_NANOS = System.nanoTime() -
        java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() * 1_000_000L;

    private Trace()
    {
    }

    /**
     * @param step what just happened, in a few words.
     */
    public static void mark(final String step)
    {
        if (ON)
        {
            System.err.printf(Locale.ROOT, "ferry trace: %8.1f ms [%s] %s%n", (System.nanoTime() - START_NANOS) / 1e6,
                Thread.currentThread().getName(), step);
        }
    }
}
