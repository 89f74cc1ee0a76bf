package dev.ferry.engine;

import java.util.concurrent.atomic.AtomicLong;

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

    public void stage(final int s)
    {
        stage = s;
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

    public void onNetwork(final long bytes)
    {
        networkBytes.addAndGet(bytes);
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
