package dev.ferry.engine;

import dev.ferry.core.protocol.FerryError;

/**
 * What a clone has done, as of one moment: the columns of the clone plugin's {@code clone_progress} and
 * {@code clone_status} tables (stage, estimate, data and network bytes, entries, threads, restarts), whether the clone
 * is reconnecting to a lost donor, and the error it failed with. Immutable: a copy handed to callers
 * ({@code CloneClient.progress()}, the progress listener); safe to keep and to read from any thread.
 */
public final class CloneProgress
{
    private final CloneStage stage;
    private final long estimatedBytes;
    private final long dataBytes;
    private final long networkBytes;
    private final long entriesDone;
    private final long entriesTotal;
    private final int threads;
    private final long restarts;
    private final long resentBytes;
    private final long corruptBlocks;
    private final long keptFiles;
    private final long keptBytes;
    private final double seconds;
    private final double[] secondsUntil;
    private final double[] stageSeconds;
    private final long snapshotId;
    private final int reconnectAttempt;
    private final String reconnectError;
    private final double reconnectSecondsLeft;
    private final FerryError error;
    private final String errorMessage;
    private final String lastError;
    private final int queuePosition;
    private final int queueLength;
    private final long holeBytes;
    private final java.util.List<String> warnings;
    private final long compressedDataBytes;
    private final long compressedWireBytes;

    CloneProgress(
        final CloneStage stage, final long estimatedBytes, final long dataBytes, final long networkBytes,
        final long entriesDone, final long entriesTotal, final int threads, final long restarts, final long resentBytes,
        final long corruptBlocks, final long keptFiles, final long keptBytes, final double seconds,
        final double[] secondsUntil, final double[] stageSeconds, final long snapshotId, final int reconnectAttempt,
        final String reconnectError, final double reconnectSecondsLeft, final FerryError error, final String errorMessage,
        final String lastError, final int queuePosition, final int queueLength, final long holeBytes,
        final java.util.List<String> warnings, final long compressedDataBytes, final long compressedWireBytes)
    {
        this.compressedDataBytes = compressedDataBytes;
        this.compressedWireBytes = compressedWireBytes;
        this.queuePosition = queuePosition;
        this.queueLength = queueLength;
        this.holeBytes = holeBytes;
        this.warnings = warnings;
        this.stage = stage;
        this.estimatedBytes = estimatedBytes;
        this.dataBytes = dataBytes;
        this.networkBytes = networkBytes;
        this.entriesDone = Math.min(entriesDone, Math.max(entriesTotal, 0));
        this.entriesTotal = entriesTotal;
        this.threads = threads;
        this.restarts = restarts;
        this.resentBytes = resentBytes;
        this.corruptBlocks = corruptBlocks;
        this.keptFiles = keptFiles;
        this.keptBytes = keptBytes;
        this.seconds = seconds;
        this.secondsUntil = secondsUntil;
        this.stageSeconds = stageSeconds;
        this.snapshotId = snapshotId;
        this.reconnectAttempt = reconnectAttempt;
        this.reconnectError = reconnectError;
        this.reconnectSecondsLeft = reconnectSecondsLeft;
        this.error = error;
        this.errorMessage = errorMessage;
        this.lastError = lastError;
    }

    /**
     * @return the last error the clone met (the failure, or what made it reconnect last), null if none.
     */
    public String lastError()
    {
        return lastError;
    }

    /** @return the stage the clone is in. */
    public CloneStage stage()
    {
        return stage;
    }

    /** @return bytes the donor's manifest announced (0 before the manifest). */
    public long estimatedBytes()
    {
        return estimatedBytes;
    }

    /**
     * @return data bytes applied that travelled compressed ({@code --compress}): part of {@link #dataBytes}.
     */
    public long compressedDataBytes()
    {
        return compressedDataBytes;
    }

    /**
     * @return the compressed bodies of those bytes ({@link #compressedDataBytes}), as they crossed the wire.
     */
    public long compressedWireBytes()
    {
        return compressedWireBytes;
    }

    /** @return file bytes applied on the recipient. */
    public long dataBytes()
    {
        return dataBytes;
    }

    /**
     * @return logical bytes of blocks that were holes on the donor, so far: they did not travel and were not written
     * (not part of {@link #dataBytes()}).
     */
    public long holeBytes()
    {
        return holeBytes;
    }

    /**
     * @return what the copy could not keep (see {@code CloneResult.warnings()}); empty until FILE SYNC ended.
     */
    public java.util.List<String> warnings()
    {
        return warnings;
    }

    /** @return bytes received over the network (framing and resent blocks included). */
    public long networkBytes()
    {
        return networkBytes;
    }

    /**
     * @return entries complete: those without data (directories, symlinks, empty files) once created, files once their
     * last block is applied, and files a resume kept.
     */
    public long entriesDone()
    {
        return entriesDone;
    }

    /** @return entries the manifest announced (0 before the manifest). */
    public long entriesTotal()
    {
        return entriesTotal;
    }

    /** @return tasks (connections) of the clone. */
    public int threads()
    {
        return threads;
    }

    /** @return reconnections after network failures (and donor restarts) so far. */
    public long restarts()
    {
        return restarts;
    }

    /** @return bytes sent again after restarts. */
    public long resentBytes()
    {
        return resentBytes;
    }

    /** @return blocks whose CRC32C did not match (not written, sent again). */
    public long corruptBlocks()
    {
        return corruptBlocks;
    }

    /** @return files a resume kept from the interrupted clone. */
    public long keptFiles()
    {
        return keptFiles;
    }

    /** @return bytes of the files a resume kept. */
    public long keptBytes()
    {
        return keptBytes;
    }

    /** @return seconds since the clone started, up to its end if it ended. */
    public double seconds()
    {
        return seconds;
    }

    /** @return seconds from the start until {@code s} began, 0 if it never began. */
    public double secondsUntil(final CloneStage s)
    {
        return secondsUntil[s.ordinal()];
    }

    /** @return seconds spent in {@code s} (until the next stage began, or until now), 0 if it never began. */
    public double stageSeconds(final CloneStage s)
    {
        return stageSeconds[s.ordinal()];
    }

    /** @return the donor's snapshot id, 0 before the donor named it. */
    public long snapshotId()
    {
        return snapshotId;
    }

    /**
     * @return true while the donor serves its maximum of clones and this one waits in its queue (before any byte of
     * the snapshot was sent).
     */
    public boolean queued()
    {
        return queuePosition > 0;
    }

    /** @return the place in the donor's queue while {@link #queued()} (1 = admitted next), else 0. */
    public int queuePosition()
    {
        return queuePosition;
    }

    /** @return clones waiting in the donor's queue, this one included, while {@link #queued()}; else 0. */
    public int queueLength()
    {
        return queueLength;
    }

    /** @return true while the clone has lost its donor and tries to reconnect. */
    public boolean reconnecting()
    {
        return reconnectAttempt > 0;
    }

    /** @return the reconnection attempt in progress (1 = the first after a failure), 0 when not reconnecting. */
    public int reconnectAttempt()
    {
        return reconnectAttempt;
    }

    /** @return what made the clone reconnect (one line), null when not reconnecting. */
    public String reconnectError()
    {
        return reconnectError;
    }

    /** @return seconds left in the restart window while reconnecting, else 0. */
    public double reconnectSecondsLeft()
    {
        return reconnectSecondsLeft;
    }

    /** @return the error the clone failed with, null unless it failed. */
    public FerryError error()
    {
        return error;
    }

    /** @return the failure as one line ({@code NAME: message (hint)}), null unless the clone failed. */
    public String errorMessage()
    {
        return errorMessage;
    }
}
