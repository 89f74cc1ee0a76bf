package dev.ferry.engine;

import java.util.concurrent.atomic.AtomicLong;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import dev.ferry.core.spi.Stage;

/**
 * Live counters of one clone, the columns of the clone plugin's progress table: stage, estimate, data bytes,
 * network bytes, threads, restarts. Written by the clone's threads, read by anyone (a progress display, an
 * embedding program). Thread-safe.
 */
public final class CloneProgress
{
    private final long startNanos = System.nanoTime();
    private volatile int stage = Stage.NONE;
    private volatile long estimatedBytes;
    private volatile long totalFiles;
    private volatile int threads;
    private final AtomicLong dataBytes = new AtomicLong();
    private final AtomicLong networkBytes = new AtomicLong();
    private final AtomicLong blocks = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong();
    private final AtomicLong resentBytes = new AtomicLong();
    private volatile long endNanos;
    private final Recorder chunkLatency = new Recorder(3);
    private final Histogram chunkLatencyTotal = new Histogram(3);
    private Histogram chunkLatencyInterval;

    /**
     * Record how long a chunk took from its first byte received to its last block applied. Any thread, wait-free.
     */
    public void onChunkLatency(final long nanos)
    {
        chunkLatency.recordValue(Math.max(1, nanos));
    }

    /**
     * @return all chunk latencies recorded so far, in nanoseconds. Call from one reader thread.
     */
    public synchronized Histogram chunkLatency()
    {
        chunkLatencyInterval = chunkLatency.getIntervalHistogram(chunkLatencyInterval);
        chunkLatencyTotal.add(chunkLatencyInterval);
        return chunkLatencyTotal.copy();
    }

    private final long[] stageStartNanos = new long[Stage.DONE + 1];

    public void stage(final int s)
    {
        if (s >= 0 && s < stageStartNanos.length && stageStartNanos[s] == 0)
        {
            stageStartNanos[s] = System.nanoTime();
        }
        stage = s;
    }

    /**
     * @return seconds spent in {@code s} so far (until the next stage began), 0 if it never began.
     */
    public double stageSeconds(final int s)
    {
        final long start = stageStartNanos[s];
        if (start == 0)
        {
            return 0;
        }
        long end = 0;
        for (int n = s + 1; n < stageStartNanos.length && end == 0; n++)
        {
            end = stageStartNanos[n];
        }
        if (end == 0)
        {
            end = endNanos != 0 ? endNanos : System.nanoTime();
        }
        return (end - start) / 1e9;
    }

    /**
     * @return seconds from the start until {@code s} began, 0 if it never began.
     */
    public double secondsUntil(final int s)
    {
        return stageStartNanos[s] == 0 ? 0 : (stageStartNanos[s] - startNanos) / 1e9;
    }

    public int stage()
    {
        return stage;
    }

    public void estimate(final long bytes, final long files)
    {
        estimatedBytes = bytes;
        totalFiles = files;
    }

    public long estimatedBytes()
    {
        return estimatedBytes;
    }

    public long totalFiles()
    {
        return totalFiles;
    }

    public void threads(final int n)
    {
        threads = n;
    }

    public int threads()
    {
        return threads;
    }

    /**
     * Count an applied block of {@code bytes}.
     */
    public void onBlock(final long bytes)
    {
        dataBytes.addAndGet(bytes);
        blocks.incrementAndGet();
    }

    private volatile long keptFiles;
    private volatile long keptBytes;

    /**
     * A resume kept {@code files} files ({@code bytes}) from the interrupted clone without sending them again.
     */
    public void onKept(final long files, final long bytes)
    {
        keptFiles = files;
        keptBytes = bytes;
    }

    public long keptFiles()
    {
        return keptFiles;
    }

    public long keptBytes()
    {
        return keptBytes;
    }

    public void onNetwork(final long bytes)
    {
        networkBytes.addAndGet(bytes);
    }

    private final AtomicLong corruptBlocks = new AtomicLong();

    /**
     * A block arrived whose CRC32C did not match: it was not written and will be sent again.
     */
    public void onCorruptBlock()
    {
        corruptBlocks.incrementAndGet();
    }

    public long corruptBlocks()
    {
        return corruptBlocks.get();
    }

    public void onRestart()
    {
        restarts.incrementAndGet();
    }

    public void onResent(final long bytes)
    {
        resentBytes.addAndGet(bytes);
    }

    public long dataBytes()
    {
        return dataBytes.get();
    }

    public long networkBytes()
    {
        return networkBytes.get();
    }

    public long blocks()
    {
        return blocks.get();
    }

    public long restarts()
    {
        return restarts.get();
    }

    public long resentBytes()
    {
        return resentBytes.get();
    }

    public void finish()
    {
        endNanos = System.nanoTime();
    }

    /**
     * @return seconds since the clone started, up to its end if it ended.
     */
    public double elapsedSeconds()
    {
        final long end = endNanos != 0 ? endNanos : System.nanoTime();
        return (end - startNanos) / 1e9;
    }
}
