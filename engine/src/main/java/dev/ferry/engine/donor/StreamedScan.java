package dev.ferry.engine.donor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.FatalErrors;
import dev.ferry.engine.Trace;
import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;

/**
 * The scan of a streamed snapshot (protocol 5, PROTOCOL.md 6.5): the walk runs on a thread of its own after
 * COM_RES_LOCS, and lays out each entry in a growing {@link ChunkPlan} as it is added, so the master's cursor can
 * announce entries and send the data of closed chunks while later directories are still being read.
 * <p>
 * Threads: the scan thread is the one writer of the manifest, the plan and the per-chunk read times; the master's
 * loop thread reads them below {@link #published()} and the plan's {@link ChunkPlan#closedChunks()}, both volatile
 * and read first. {@link #cancel} may come from any thread.
 */
final class StreamedScan implements Runnable
{
    private final Path root;
    private final Consumer<String> warnings;
    private final Manifest.Builder builder = new Manifest.Builder();
    final Manifest manifest = builder.live();
    final ChunkPlan plan;
    /**
     * Per chunk, the {@code System.nanoTime()} before which it must not be read: a chunk with a file the scan found
     * written within the racy window ({@link DescriptorFlyweight#FILE_FLAG_RECENT}) waits that window out after it was
     * scanned, as a whole scan does before any read ({@link FileTreeDonor}); 0 for the others.
     */
    private volatile long[] readableAt = new long[16];
    /** The latest of {@link #readableAt} (scan thread). */
    private long lastReadableAt;
    private volatile int published;
    private volatile boolean done;
    private volatile FerryException failure;
    private volatile boolean cancelled;
    private final long startNanos = System.nanoTime();
    private volatile long endNanos;

    StreamedScan(final Path root, final CloneSettings settings, final Consumer<String> warnings)
    {
        this.root = root;
        this.warnings = warnings;
        this.plan = ChunkPlan.growing(manifest, settings.chunkSize(), settings.blockSize(), settings.filesPerChunk());
    }

    void start()
    {
        final Thread t = new Thread(this, "ferry-donor-stream-scan");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run()
    {
        Trace.mark("donor: streamed scan starts");
        try
        {
            final Manifest built = ManifestScanner.scanInto(root, ManifestScanner.THREADS, builder, this::laidOut);
            // the chunks left when the manifest ends go to every task's queue, read without asking readable(): the
            // racy window of the last files written before the scan is waited out here, as a whole scan does
            for (long left = lastReadableAt - System.nanoTime(); lastReadableAt != 0 && left > 0 && !cancelled;
                left = lastReadableAt - System.nanoTime())
            {
                java.util.concurrent.locks.LockSupport.parkNanos(left);
            }
            plan.finish();
            manifest.finish(built);
            for (final String w : built.warnings())
            {
                warnings.accept(w);
            }
            endNanos = System.nanoTime();
            done = true;
            Trace.mark("donor: streamed scan done, " + built.size() + " entries, " + plan.chunkCount() + " chunks");
        }
        catch (final FerryException ex)
        {
            failure = ex;
        }
        catch (final RuntimeException | Error ex)
        {
            failure = FatalErrors.failure(ex, "the scan failed");
        }
    }

    /**
     * Entry {@code i} was added: lay it out, note when its chunks may be read, publish it (scan thread).
     */
    private void laidOut(final int i)
    {
        if (cancelled)
        {
            throw new FerryException(ErrorCode.CANCELLED, "the snapshot ended while its tree was being scanned");
        }
        plan.append(i);
        final int span = manifest.chunkSpan(i);
        if (span > 0 && (manifest.flags(i) & DescriptorFlyweight.FILE_FLAG_RECENT) != 0)
        {
            final int first = manifest.firstChunk(i);
            long[] r = readableAt;
            if (first + span > r.length)
            {
                r = Arrays.copyOf(r, Math.max(first + span, 2 * r.length));
                readableAt = r;
            }
            final long at = System.nanoTime() + ManifestScanner.RACY_WINDOW_NANOS;
            for (int c = first; c < first + span; c++)
            {
                r[c] = at;
            }
            lastReadableAt = at;
        }
        published = i + 1;
    }

    /**
     * @return entries added and laid out (read it before reading any of them).
     */
    int published()
    {
        return published;
    }

    /**
     * @return true once every entry is added and the plan is complete.
     */
    boolean done()
    {
        return done;
    }

    /**
     * @return why the scan stopped early, or null.
     */
    FerryException failure()
    {
        return failure;
    }

    /**
     * @return whether {@code chunk} (closed, below {@link ChunkPlan#closedChunks()}) may be read now.
     */
    boolean readable(final int chunk, final long nowNanos)
    {
        final long[] r = readableAt;
        return chunk >= r.length || r[chunk] == 0 || nowNanos - r[chunk] >= 0;
    }

    /**
     * @return how long the scan took, in ns (so far, if it is still running).
     */
    long nanos()
    {
        final long end = endNanos;
        return (end == 0 ? System.nanoTime() : end) - startNanos;
    }

    /**
     * Stop the scan at its next entry (every snapshot it served ended). Any thread.
     */
    void cancel()
    {
        cancelled = true;
    }

    private int users;

    /**
     * One more snapshot streams this scan ({@link SharedScans#streamed}).
     *
     * @return false if it was stopped already (every snapshot it served has ended).
     */
    synchronized boolean retain()
    {
        if (cancelled)
        {
            return false;
        }
        users++;
        return true;
    }

    /**
     * A snapshot that streamed this scan ended: the last one stops a scan still running.
     */
    synchronized void release()
    {
        if (--users <= 0)
        {
            cancel();
        }
    }
}
