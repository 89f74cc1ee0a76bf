package dev.ferry.engine.recipient;

/**
 * The outcome of a successful clone: what was copied, how long it took, what crossed the network.
 */
public final class CloneResult
{
    private final long snapshotId;
    private final long entries;
    private final long dataBytes;
    private final long networkBytes;
    private final double seconds;
    private final long restarts;
    private Diff diff = Diff.NONE;

    /**
     * What an update (or a resume against a new snapshot) found in the copy: files kept whole by the quick check
     * (size and mtime), files compared piece by piece and the bytes hashed for it, bytes of those files that did not
     * travel because the copy had them, and files moved into place from another path (renames).
     */
    public record Diff(long keptFiles, long keptBytes, long comparedFiles, long hashedBytes, long unchangedBytes,
        long movedFiles)
    {
        static final Diff NONE = new Diff(0, 0, 0, 0, 0, 0);
    }

    CloneResult withDiff(final Diff d)
    {
        diff = d;
        return this;
    }

    /**
     * @return what the copy already had (all zero for a clone into an empty directory).
     */
    public Diff diff()
    {
        return diff;
    }

    CloneResult(final long snapshotId, final long entries, final long dataBytes, final long networkBytes,
        final double seconds, final long restarts)
    {
        this.snapshotId = snapshotId;
        this.entries = entries;
        this.dataBytes = dataBytes;
        this.networkBytes = networkBytes;
        this.seconds = seconds;
        this.restarts = restarts;
    }

    public long snapshotId()
    {
        return snapshotId;
    }

    public long entries()
    {
        return entries;
    }

    public long dataBytes()
    {
        return dataBytes;
    }

    public long networkBytes()
    {
        return networkBytes;
    }

    public double seconds()
    {
        return seconds;
    }

    public long restarts()
    {
        return restarts;
    }

    @Override
    public String toString()
    {
        return "CloneResult{entries=" + entries + ", dataBytes=" + dataBytes + ", networkBytes=" + networkBytes +
            ", seconds=" + seconds + ", restarts=" + restarts + ", " + diff + "}";
    }
}
