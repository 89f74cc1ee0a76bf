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
            ", seconds=" + seconds + ", restarts=" + restarts + "}";
    }
}
