package dev.ferry.engine;

import java.util.concurrent.atomic.AtomicLong;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.Stage;

/**
 * The live counters of one clone, the columns of the clone plugin's progress table: stage, estimate, data bytes,
 * network bytes, entries, threads, restarts. Engine-internal: written by the clone's threads (each counter by the
 * threads named on its method), never handed to callers; they get immutable {@link CloneProgress} snapshots from
 * {@link #snapshot()}. Thread-safe.
 */
public final class ProgressCounters
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
    private final AtomicLong holeBytes = new AtomicLong();
    private final AtomicLong unchangedBytes = new AtomicLong();
    private volatile long comparedFiles;
    private volatile long hashedBytes;
    private volatile long movedFiles;
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

    /**
     * The clone entered stage {@code s} ({@link Stage}). The clone's driver thread.
     */
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

    /**
     * @return the current stage ({@link Stage} value).
     */
    public int stage()
    {
        return stage;
    }

    /**
     * The manifest announced {@code bytes} in {@code files} entries.
     */
    public void estimate(final long bytes, final long files)
    {
        estimatedBytes = bytes;
        totalFiles = files;
    }

    private final AtomicLong entriesDone = new AtomicLong();

    /**
     * {@code n} more entries are complete (their last block applied, or they carry no data). Any thread.
     */
    public void onEntriesDone(final long n)
    {
        entriesDone.addAndGet(n);
    }

    /**
     * @return entries complete so far.
     */
    public long entriesDone()
    {
        return entriesDone.get();
    }

    private volatile int reconnectAttempt;
    private volatile String reconnectError;
    private volatile long reconnectDeadlineNanos;
    private volatile FerryException error;
    private volatile long snapshotId;
    private volatile String lastError;
    /** Position and length of the donor's queue while this clone waits in it (one volatile: read together). */
    private volatile long queue;

    /**
     * The donor queued this clone at {@code position} (1 = next) of {@code length}; (0, 0) once admitted. The master
     * task's loop thread.
     */
    public void queued(final int position, final int length)
    {
        queue = ((long)position << 32) | (length & 0xFFFF_FFFFL);
    }

    /**
     * The clone lost its donor and reconnects: attempt {@code attempt} (1 = the first), because of {@code cause}, until
     * {@code deadlineNanos} ({@link System#nanoTime()}). The driver thread.
     */
    public void onReconnecting(final int attempt, final FerryException cause, final long deadlineNanos)
    {
        reconnectError = cause.describe();
        lastError = reconnectError;
        reconnectDeadlineNanos = deadlineNanos;
        reconnectAttempt = attempt;
    }

    /**
     * The donor accepted the restart. The driver thread.
     */
    public void onReconnected()
    {
        reconnectAttempt = 0;
    }

    /**
     * The clone failed with {@code ex} (the last error kept in the status). The driver thread.
     */
    public void onFailure(final FerryException ex)
    {
        error = ex;
        lastError = ex.describe();
    }

    /**
     * The donor's snapshot this clone copies.
     */
    public void snapshotId(final long id)
    {
        snapshotId = id;
    }

    /**
     * @return an immutable copy of the counters as they are now.
     */
    public CloneProgress snapshot()
    {
        final double[] until = new double[Stage.DONE + 1];
        final double[] in = new double[Stage.DONE + 1];
        for (int s = 0; s <= Stage.DONE; s++)
        {
            until[s] = secondsUntil(s);
            in[s] = stageSeconds(s);
        }
        final int attempt = reconnectAttempt;
        final long left = attempt == 0 ? 0 : Math.max(0, reconnectDeadlineNanos - System.nanoTime());
        final FerryException e = error;
        return new CloneProgress(CloneStage.of(Stage.isValid(stage) ? stage : Stage.NONE), estimatedBytes,
            dataBytes.get(), networkBytes.get(), entriesDone.get(), totalFiles, threads, restarts.get(),
            resentBytes.get(), corruptBlocks.get(), keptFiles, keptBytes, elapsedSeconds(), until, in, snapshotId,
            attempt, attempt == 0 ? null : reconnectError, left / 1e9, e == null ? null : e.error(),
            e == null ? null : e.describe(), lastError, (int)(queue >>> 32), (int)queue, holeBytes.get(), warnings,
            compressedData.get(), compressedWire.get());
    }

    /**
     * @return bytes the manifest announced.
     */
    public long estimatedBytes()
    {
        return estimatedBytes;
    }

    public long totalFiles()
    {
        return totalFiles;
    }

    /**
     * The clone runs {@code n} tasks.
     */
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

    private final AtomicLong compressedData = new AtomicLong();
    private final AtomicLong compressedWire = new AtomicLong();

    /**
     * An applied block travelled compressed: {@code data} bytes of pieces in a body of {@code wire} bytes. Any thread.
     */
    public void onCompressed(final long data, final long wire)
    {
        compressedData.addAndGet(data);
        compressedWire.addAndGet(wire);
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

    private final AtomicLong tornBlocks = new AtomicLong();

    /**
     * A block of a live change pass failed its CRC32C because the donor read it while it was written: not written,
     * and its file compared by the next pass (not a restart).
     */
    public void onTornBlock()
    {
        tornBlocks.incrementAndGet();
    }

    public long tornBlocks()
    {
        return tornBlocks.get();
    }

    public void onRestart()
    {
        restarts.incrementAndGet();
    }

    public void onResent(final long bytes)
    {
        resentBytes.addAndGet(bytes);
    }

    /**
     * Bytes of blocks that were holes on the donor: they did not travel and were not written. Any thread.
     */
    public void onUnchanged(final long bytes)
    {
        if (bytes > 0)
        {
            unchangedBytes.addAndGet(bytes);
        }
    }

    /**
     * Bytes of blocks the copy already had (their pieces' hashes matched the donor's): they did not travel.
     */
    public long unchangedBytes()
    {
        return unchangedBytes.get();
    }

    /**
     * An update, a resume against a new snapshot or a live clone's change pass compared {@code files} files piece
     * by piece, hashing {@code bytes} bytes of the copy, and moved {@code moved} renamed files into place. Driver
     * thread (the fields are volatile for readers; only the driver writes them).
     */
    public void onHashed(final long files, final long bytes, final long moved)
    {
        comparedFiles += files; // summed over the passes of a live clone
        hashedBytes += bytes;
        movedFiles += moved;
    }

    public long comparedFiles()
    {
        return comparedFiles;
    }

    public long hashedBytes()
    {
        return hashedBytes;
    }

    public long movedFiles()
    {
        return movedFiles;
    }

    public void onHole(final long bytes)
    {
        if (bytes > 0)
        {
            holeBytes.addAndGet(bytes);
        }
    }

    public long holeBytes()
    {
        return holeBytes.get();
    }

    private volatile java.util.List<String> warnings = java.util.List.of();

    /**
     * What FILE SYNC could not keep ({@code CloneResult.warnings()}), shown by the final progress snapshot. The
     * driver thread, once FILE SYNC ended.
     */
    public void warnings(final java.util.List<String> lines)
    {
        warnings = java.util.List.copyOf(lines);
    }

    public java.util.List<String> warnings()
    {
        return warnings;
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
