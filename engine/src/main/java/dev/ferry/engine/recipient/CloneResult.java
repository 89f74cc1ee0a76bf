package dev.ferry.engine.recipient;

import java.util.List;

/**
 * The outcome of a successful clone: what was copied, how long it took, what crossed the network, and what the copy
 * could not keep. Immutable; any thread.
 */
public final class CloneResult
{
    private final long snapshotId;
    private final long entries;
    private final long dataBytes;
    private final long networkBytes;
    private final double seconds;
    private final long restarts;
    private final long holeBytes;
    private final List<String> warnings;
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

    /**
     * How a live clone ended: its passes (1 when nothing changed under it), how long the donor's dataset was frozen
     * for the last pass (-1: no freeze) and the data bytes sent inside the freeze, and how many files changed under
     * the donor's reads in the last pass without a freeze (0: every file is a version that existed; more: those files
     * are as read and may be torn), and how many blocks over all passes arrived torn (read by the donor while they
     * were written: their CRC32C failed in a change pass; never written, and their files compared by a later pass).
     */
    public record Live(int passes, long frozenNanos, long frozenBytes, long unstableFiles, long tornBlocks)
    {
        static final Live SINGLE = new Live(1, -1, 0, 0, 0);

        public boolean frozen()
        {
            return frozenNanos >= 0;
        }
    }

    private Live live = Live.SINGLE;

    CloneResult withLive(final Live l)
    {
        live = l;
        return this;
    }

    public Live live()
    {
        return live;
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
        final double seconds, final long restarts, final long holeBytes, final List<String> warnings)
    {
        this.holeBytes = holeBytes;
        this.warnings = List.copyOf(warnings);
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

    /**
     * @return logical bytes of the donor's files that were holes: they did not cross the network and were not
     * written (the copy has holes there too).
     */
    public long holeBytes()
    {
        return holeBytes;
    }

    /**
     * @return what the copy could not keep, one line per kind with a count and the first entries it concerns, e.g.
     * {@code owners not kept (not running as root): ...: 12 entries (a, b, ...)}; empty when everything was kept.
     * The CLI prints each as {@code ferry: warning: LINE}.
     */
    public List<String> warnings()
    {
        return warnings;
    }

    @Override
    public String toString()
    {
        return "CloneResult{entries=" + entries + ", dataBytes=" + dataBytes + ", holeBytes=" + holeBytes +
            ", networkBytes=" + networkBytes + ", seconds=" + seconds + ", restarts=" + restarts +
            ", warnings=" + warnings.size() + ", " + diff + ", " + live + "}";
    }
}
