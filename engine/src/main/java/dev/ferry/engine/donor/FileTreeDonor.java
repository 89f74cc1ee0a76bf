package dev.ferry.engine.donor;

import dev.ferry.engine.Trace;
import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.CopyCallback;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

/**
 * The donor side of the file-tree storage engine: one instance per clone. {@code begin(START)} negotiates the
 * protocol and takes the snapshot (a {@link Manifest} and its {@link ChunkPlan}); each task copies through its own
 * {@link DonorCursor}; tasks share one {@link ChunkQueue}. See {@link DonorStorage} for the thread model.
 */
public final class FileTreeDonor implements DonorStorage
{
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path root;
    private final CloneSettings settings;
    private final int protocolMin;
    private final int protocolMax;
    private final AtomicReferenceArray<DonorCursor> cursors = new AtomicReferenceArray<>(LocatorCodec.MAX_TASKS);

    private volatile Manifest manifest;
    private volatile ChunkPlan plan;
    private volatile ChunkQueue queue;
    private volatile AtomicIntegerArray applied;
    private volatile long snapshotId;
    private volatile int protocol;
    private volatile dev.ferry.engine.diff.HaveSet have;
    private volatile HashAhead ahead;
    /** A streamed snapshot's scan (protocol 5, the client asked in COM_INIT), or null. */
    private volatile StreamedScan stream;
    /** A streamed snapshot's acknowledgements while its manifest streams (the master's loop thread only). */
    private int[] streamAcks = new int[0];
    private long streamAckedBlocks;
    private volatile boolean closed;
    private static final boolean HASH_AHEAD = !"false".equals(System.getProperty("ferry.donor.hashAhead"));
    private volatile java.util.function.Consumer<String> scanWarnings =
        w -> System.err.println("ferry donor: warning: " + w);
    private long presetId;
    private SharedScans sharedScans;
    private volatile boolean scanShared;

    /**
     * A file written within the racy window before the scan (FILE flag RECENT) could be written again within the same
     * timestamp tick, leaving its mtime as the scan saw it; a read that such a write tears could then pass the check
     * after the read. Reading only once the window has passed since the scan ended makes any write during a read
     * move the mtime, so the check after the read catches it (at most {@link ManifestScanner#RACY_WINDOW_NANOS} once
     * per snapshot, on the thread that takes it, never a loop thread).
     */
    private static void waitOutTheRacyWindow(final Manifest m)
    {
        boolean recent = false;
        for (int i = 0; i < m.size() && !recent; i++)
        {
            recent = (m.flags(i) & dev.ferry.core.protocol.DescriptorFlyweight.FILE_FLAG_RECENT) != 0;
        }
        if (!recent)
        {
            return;
        }
        final long until = System.nanoTime() + ManifestScanner.RACY_WINDOW_NANOS;
        for (long left = until - System.nanoTime(); left > 0; left = until - System.nanoTime())
        {
            java.util.concurrent.locks.LockSupport.parkNanos(left);
        }
    }

    /**
     * Use {@code id} as the next snapshot's id (a freeze hook learns the id before the scan); 0 for a random one.
     */
    void presetSnapshotId(final long id)
    {
        presetId = id;
    }

    /**
     * @return a new random snapshot id (never 0).
     */
    static long newSnapshotId()
    {
        long id;
        do
        {
            id = RANDOM.nextLong();
        }
        while (id == 0);
        return id;
    }

    /**
     * @param root     the directory to serve.
     * @param settings concluded settings.
     */
    public FileTreeDonor(final Path root, final CloneSettings settings)
    {
        this(root, settings, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX);
    }

    /**
     * A donor that speaks only {@code protocolMin..protocolMax}; tests use it to play an older or newer build.
     */
    public FileTreeDonor(final Path root, final CloneSettings settings, final int protocolMin, final int protocolMax)
    {
        this.root = root;
        this.settings = settings;
        this.protocolMin = protocolMin;
        this.protocolMax = protocolMax;
    }

    /**
     * Where the scan's warnings go (a socket skipped, ...), one line each; stderr by default. A local clone collects
     * them for its result instead. Call before {@link #begin}.
     */
    public FileTreeDonor onScanWarning(final java.util.function.Consumer<String> sink)
    {
        scanWarnings = sink;
        return this;
    }

    /**
     * Share this donor's scan with other clones of the same tree whose scans overlap it (see {@link SharedScans});
     * a frozen pass never shares. Call before {@link #begin}.
     */
    FileTreeDonor shareScans(final SharedScans scans)
    {
        sharedScans = scans;
        return this;
    }

    /**
     * @return whether this clone took the scan of another clone that began with it instead of scanning.
     */
    boolean scanShared()
    {
        return scanShared;
    }

    Path root()
    {
        return root;
    }

    public Manifest manifest()
    {
        return manifest;
    }

    public ChunkPlan plan()
    {
        return plan;
    }

    CloneSettings settings()
    {
        return settings;
    }

    /**
     * What the recipient already has of the snapshot's files ({@code COM_HAVE}): installed by the session that
     * received it, before the restart whose cursors use it begins; cursors made after it compare piece hashes.
     */
    public synchronized void have(final dev.ferry.engine.diff.HaveSet h)
    {
        if (stream != null)
        {
            throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "COM_HAVE for a streamed snapshot, which serves " +
                "a whole clone only");
        }
        have = h;
        final HashAhead a = ahead;
        if (a != null)
        {
            a.stop(); // the data pass begins: its cursors take what is hashed and hash the rest as they read
        }
    }

    /**
     * The recipient will compare, piece by piece, the regular files whose mtime is after {@code newerThanNanos}
     * (protocol 4, {@code COM_EXECUTE} with {@code HASH_AHEAD}): hash them now, on threads of their own, until the
     * data pass begins ({@link #have}) or the snapshot ends. Once per snapshot; off with
     * {@code -Dferry.donor.hashAhead=false}.
     */
    @Override
    public synchronized void hashAhead(final Locator locator, final long newerThanNanos)
    {
        final Manifest m = manifest;
        if (!HASH_AHEAD || m == null || ahead != null || have != null || closed || locator == null ||
            locator.snapshotId() != snapshotId || stream != null) // a streamed snapshot's execute refuses the flag
        {
            return;
        }
        // threads and memory come from the JVM's budget (HashAhead.BUDGET), shared by every snapshot: half the cores
        // by default, so that the loops and the rest of the machine keep theirs (measured on this 2-core machine
        // shared with the client, five alternating updates each: one thread 1.66 s, two 1.87 s, none 1.75 s)
        ahead = new HashAhead(root, m, dev.ferry.core.protocol.DescriptorFlyweight.pieceSize(plan.blockSize()),
            newerThanNanos, HashAhead.BUDGET).start();
    }

    /**
     * A restart without {@code COM_HAVE} (the update found nothing to compare, or a plain restart): whatever was
     * hashed ahead will not be used, so stop and free it now rather than when the snapshot ends.
     */
    private synchronized void dropUnusedAhead()
    {
        final HashAhead a = ahead;
        if (a != null)
        {
            a.stop();
            if (have == null)
            {
                a.release();
                ahead = null;
            }
        }
    }

    /**
     * @return the hashes computed ahead of {@code COM_HAVE}, or null.
     */
    HashAhead ahead()
    {
        return ahead;
    }

    /**
     * @return pieces whose hash the data pass took from those computed ahead (0 without).
     */
    public long hashedAheadUsed()
    {
        final HashAhead a = ahead;
        return a == null ? 0 : a.usedPieces();
    }

    dev.ferry.engine.diff.HaveSet have()
    {
        return have;
    }

    /**
     * @return the number of pieces of regular file {@code file} of the snapshot, or -1 if there is no such file.
     */
    public long piecesOf(final int file)
    {
        final Manifest m = manifest;
        if (m == null || file < 0 || file >= m.size() ||
            m.entry(file).type != dev.ferry.core.protocol.DescriptorFlyweight.FILE_REGULAR)
        {
            return -1;
        }
        final long piece = dev.ferry.core.protocol.DescriptorFlyweight.pieceSize(plan.blockSize());
        return (m.entry(file).size + piece - 1) / piece;
    }

    /**
     * @return files task {@code task} found changed under its reads (a live clone), for its COM_RES_COMPLETE.
     */
    public long changedFiles(final Locator locator, final int task)
    {
        final DonorCursor c = cursor(locator, task);
        return c == null ? 0 : c.changedFiles();
    }

    /**
     * @return data bytes of the blocks offered so far that the recipient already had (matched piece hashes).
     */
    public long sameBytes()
    {
        long sum = 0;
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.get(i);
            if (c != null)
            {
                sum += c.sameBytes();
            }
        }
        return sum;
    }

    public long snapshotId()
    {
        return snapshotId;
    }

    /**
     * Pick the highest protocol both sides speak.
     *
     * @throws FerryException with {@link ErrorCode#VERSION_MISMATCH} and both ranges in the message.
     */
    public static int negotiate(final int donorMin, final int donorMax, final int clientMin, final int clientMax)
    {
        final int best = Math.min(donorMax, clientMax);
        if (best < Math.max(donorMin, clientMin))
        {
            throw new FerryException(ErrorCode.VERSION_MISMATCH, "donor speaks protocol " + donorMin + ".." + donorMax +
                ", client speaks " + clientMin + ".." + clientMax + ": no version in common");
        }
        return best;
    }

    @Override
    public Locator begin(final CloneMode mode, final Locator locator)
    {
        switch (mode)
        {
            case START:
            {
                if (locator == null || locator.kind() != Locator.KIND_VERSION)
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "begin(START) needs a version locator");
                }
                checkEngine(locator);
                protocol = negotiate(protocolMin, protocolMax, locator.protocolMin(), locator.protocolMax());
                if (locator.stage() == Stage.METADATA && protocol >= dev.ferry.core.protocol.Wire.STREAM_PROTOCOL)
                {
                    return beginStreamed();
                }
                final boolean frozen = locator.stage() == dev.ferry.core.spi.Stage.FREEZE;
                final boolean[] scanned = { sharedScans == null || frozen };
                final SharedScans.Scan scan = scanned[0] ? scan(frozen) : sharedScans.scan(() ->
                {
                    scanned[0] = true;
                    return scan(false);
                });
                scanShared = !scanned[0];
                final Manifest m = scan.manifest;
                for (final String w : m.warnings())
                {
                    scanWarnings.accept(w);
                }
                final ChunkPlan p = scan.plan;
                manifest = m;
                plan = p;
                applied = new AtomicIntegerArray(p.chunkCount());
                queue = new ChunkQueue(p.order(), null);
                long id = presetId;
                while (id == 0)
                {
                    id = RANDOM.nextLong();
                }
                snapshotId = id;
                return install(0, new DonorCursor(this, true, queue),
                    Locator.real(Locator.ENGINE_FILE_TREE, protocol, snapshotId, 0, Stage.METADATA));
            }
            case ATTACH:
            {
                checkSnapshot(locator);
                if (queue == null)
                {
                    throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "COM_ATTACH while the manifest of snapshot " +
                        Long.toHexString(snapshotId) + " is still streaming: workers attach after the STATE that " +
                        "starts the file copy");
                }
                final int task = locator.taskIndex();
                if (task < 1 || task >= LocatorCodec.MAX_TASKS)
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "task index " + task + " out of range 1.." +
                        (LocatorCodec.MAX_TASKS - 1));
                }
                return install(task, new DonorCursor(this, false, queue),
                    Locator.real(Locator.ENGINE_FILE_TREE, protocol, snapshotId, task, Stage.FILE_COPY));
            }
            case RESTART:
            {
                checkSnapshot(locator);
                final boolean metadataDone = locator.stage() >= Stage.FILE_COPY;
                if (stream != null && !metadataDone)
                {
                    return restartStreamed();
                }
                if (metadataDone && queue == null)
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "a restart in the file copy of snapshot " +
                        Long.toHexString(snapshotId) + ", whose manifest has not been sent whole");
                }
                final AppliedState state = metadataDone ? locator.applied() : new AppliedState(plan.chunkCount());
                if (state == null || state.chunkCount() != plan.chunkCount())
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "restart locator describes " +
                        (state == null ? "no" : String.valueOf(state.chunkCount())) + " chunks, snapshot has " +
                        plan.chunkCount());
                }
                restartFrom(state);
                dropUnusedAhead();
                return install(0, new DonorCursor(this, !metadataDone, queue),
                    Locator.real(Locator.ENGINE_FILE_TREE, protocol, snapshotId, 0,
                    metadataDone ? Stage.FILE_COPY : Stage.METADATA));
            }
            default:
                throw new FerryException(ErrorCode.BAD_LOCATOR, "a donor cannot begin in mode " + mode);
        }
    }

    /**
     * A streamed snapshot (PROTOCOL.md 6.5): the scan goes on on a thread of its own, the master's cursor announces
     * entries and sends closed chunks as they come, and the chunk queue the workers share is made when the manifest
     * is whole ({@link #streamEnded}).
     */
    private Locator beginStreamed()
    {
        final StreamedScan s;
        if (sharedScans != null)
        {
            // clones that begin while another's streamed scan runs share it, as whole scans are shared
            final boolean[] made = { false };
            s = sharedScans.streamed(() ->
            {
                made[0] = true;
                return new StreamedScan(root, settings, w -> scanWarnings.accept(w));
            });
            scanShared = !made[0];
        }
        else
        {
            s = new StreamedScan(root, settings, w -> scanWarnings.accept(w));
            s.retain();
            s.start();
        }
        manifest = s.manifest;
        plan = s.plan;
        queue = null;
        applied = null;
        long id = presetId;
        while (id == 0)
        {
            id = RANDOM.nextLong();
        }
        snapshotId = id;
        stream = s;
        return install(0, new DonorCursor(this, true, null),
            Locator.real(Locator.ENGINE_FILE_TREE, protocol, snapshotId, 0, Stage.METADATA));
    }

    /**
     * A streamed snapshot restarted before its client had the whole manifest: everything is sent again, from the
     * first entry (the scan, done or not, stays).
     */
    private Locator restartStreamed()
    {
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.getAndSet(i, null);
            if (c != null)
            {
                c.close();
            }
        }
        queue = null;
        applied = null;
        streamAcks = new int[0];
        streamAckedBlocks = 0;
        return install(0, new DonorCursor(this, true, null),
            Locator.real(Locator.ENGINE_FILE_TREE, protocol, snapshotId, 0, Stage.METADATA));
    }

    StreamedScan stream()
    {
        return stream;
    }

    /**
     * @return blocks acknowledged while the manifest streams (the master's loop thread, which acknowledges them).
     */
    long streamAckedBlocks()
    {
        return streamAckedBlocks;
    }

    /**
     * @return whether this snapshot's manifest streams (protocol 5, the client asked).
     */
    public boolean streamed()
    {
        return stream != null;
    }

    private volatile int streamedChunks;
    private volatile long streamedScanNanos;

    /**
     * @return chunks a streamed snapshot's master took before the manifest was whole (the last time it ended).
     */
    public int streamedChunks()
    {
        return streamedChunks;
    }

    /**
     * @return for the donor's log: how a streamed manifest went, or "" for one scanned whole.
     */
    public String streamedSummary()
    {
        final StreamedScan s = stream;
        if (s == null)
        {
            return "";
        }
        return String.format(java.util.Locale.ROOT, ", manifest streamed (%d entries scanned in %.1f s; %d of %d " +
            "chunks taken before it was whole)", manifest.size(), streamedScanNanos / 1e9, streamedChunks,
            plan.chunkCount());
    }

    /**
     * The streamed manifest is whole (the scan is done and the master has announced every entry): chunks from
     * {@code fromChunk} on, which the master has not taken, become the queue every task reserves from, and the
     * acknowledgements so far move to the table of the complete plan. Master's loop thread, before it sends the STATE
     * that starts the file copy (so a worker that attaches after it finds the queue).
     *
     * @return the queue.
     */
    ChunkQueue streamEnded(final int fromChunk)
    {
        streamedChunks = fromChunk;
        final StreamedScan scan = stream;
        streamedScanNanos = scan == null ? 0 : scan.nanos();
        final ChunkPlan p = plan;
        final AtomicIntegerArray a = new AtomicIntegerArray(p.chunkCount());
        final int[] acks = streamAcks;
        for (int c = 0; c < Math.min(acks.length, p.chunkCount()); c++)
        {
            a.set(c, acks[c]);
        }
        final int[] all = p.order();
        final int[] rest = new int[Math.max(0, p.chunkCount() - fromChunk)];
        int n = 0;
        for (final int c : all)
        {
            if (c >= fromChunk)
            {
                rest[n++] = c;
            }
        }
        applied = a;
        final ChunkQueue q = new ChunkQueue(rest, null);
        queue = q;
        return q;
    }

    /**
     * Rebuild the chunk queue from the recipient's applied state. The caller holds every task of the snapshot (see
     * {@link DonorSnapshot}): the sessions that served them have ended their cursors on their own threads, so what is
     * left here is orphaned and safe to close.
     */
    private void restartFrom(final AppliedState state)
    {
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.getAndSet(i, null);
            if (c != null)
            {
                c.close();
            }
        }
        final int chunks = plan.chunkCount();
        final int[] start = new int[chunks];
        int incomplete = 0;
        for (int c = 0; c < chunks; c++)
        {
            if (!state.isComplete(c))
            {
                start[c] = Math.min(state.appliedBlocks(c), plan.chunkBlocks(c));
                applied.set(c, start[c]);
                incomplete++;
            }
            else
            {
                applied.set(c, plan.chunkBlocks(c));
            }
        }
        final int[] all = plan.order();
        final int[] order = new int[incomplete];
        int n = 0;
        for (final int c : all)
        {
            if (!state.isComplete(c))
            {
                order[n++] = c;
            }
        }
        queue = new ChunkQueue(order, start);
    }

    /**
     * Make {@code cursor} the task's. A cursor still installed for the task is an orphan (its session released the
     * task before the caller could claim it), so closing it here touches nothing another thread uses.
     */
    private Locator install(final int task, final DonorCursor cursor, final Locator locator)
    {
        cursor.locator(locator);
        final DonorCursor old = cursors.getAndSet(task, cursor);
        if (old != null)
        {
            old.close();
        }
        return locator;
    }

    /**
     * @return the task's cursor if {@code locator} is the very locator {@link #begin} returned for it; a session
     * superseded by a restart or a re-attach holds an older locator and gets null.
     */
    private DonorCursor cursor(final Locator locator, final int task)
    {
        final DonorCursor c = task >= 0 && task < LocatorCodec.MAX_TASKS ? cursors.get(task) : null;
        return c != null && c.locator() == locator ? c : null;
    }

    private void checkEngine(final Locator locator)
    {
        if (locator.engineId() != Locator.ENGINE_FILE_TREE)
        {
            throw new FerryException(ErrorCode.BAD_LOCATOR, "unknown storage engine " + locator.engineId() +
                " (this donor serves engine " + Locator.ENGINE_FILE_TREE + ", file tree)");
        }
    }

    private void checkSnapshot(final Locator locator)
    {
        checkEngine(locator);
        if (plan == null || locator.snapshotId() != snapshotId)
        {
            throw new FerryException(ErrorCode.UNKNOWN_SNAPSHOT, "snapshot " + Long.toHexString(locator.snapshotId()) +
                " is not held by this donor");
        }
    }

    @Override
    public int copy(final Locator locator, final int task, final CopyCallback callback)
    {
        final DonorCursor cursor = cursor(locator, task);
        if (cursor == null)
        {
            throw new FerryException(ErrorCode.BAD_LOCATOR, "task " + task + " has not begun or was superseded by a " +
                "restart");
        }
        return cursor.copy(callback);
    }

    /**
     * Limit the task of {@code locator} to the manifest (COM_EXECUTE with {@code METADATA_ONLY}).
     */
    void metadataOnly(final Locator locator, final int task)
    {
        final DonorCursor c = cursor(locator, task);
        if (c != null)
        {
            c.metadataOnly();
        }
    }

    /**
     * Make the task of {@code locator} send block checksums only (COM_EXECUTE with {@code CHECKSUMS_ONLY}).
     */
    void checksumsOnly(final Locator locator, final int task)
    {
        final DonorCursor c = cursor(locator, task);
        if (c != null)
        {
            c.checksumsOnly();
        }
    }

    @Override
    public void ack(final Locator locator, final int task, final int chunk, final int appliedBlocks, final boolean complete)
    {
        final AtomicIntegerArray a = applied;
        if (a == null && stream != null)
        {
            // the manifest still streams: only the master's loop thread acknowledges, and only chunks it was sent
            final DonorCursor master = cursors.get(0);
            if (chunk < 0 || master == null || chunk >= master.streamedChunksTaken())
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "acknowledged chunk " + chunk + " has not been sent");
            }
            if (chunk >= streamAcks.length)
            {
                streamAcks = java.util.Arrays.copyOf(streamAcks, Math.max(chunk + 1, 2 * streamAcks.length));
            }
            final int b = complete ? plan.chunkBlocks(chunk) : Math.min(appliedBlocks, plan.chunkBlocks(chunk));
            if (b > streamAcks[chunk])
            {
                streamAckedBlocks += b - streamAcks[chunk];
                streamAcks[chunk] = b;
            }
            return;
        }
        if (a == null || chunk < 0 || chunk >= a.length())
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "acknowledged chunk " + chunk + " does not exist");
        }
        final int blocks = complete ? plan.chunkBlocks(chunk) : Math.min(appliedBlocks, plan.chunkBlocks(chunk));
        a.accumulateAndGet(chunk, blocks, Math::max);
    }

    @Override
    public void execute(final Locator locator, final int task, final int flags)
    {
        if (stream != null && (flags & ~(dev.ferry.core.protocol.ExecuteFlags.COMPRESS |
            dev.ferry.core.protocol.ExecuteFlags.LIVE | dev.ferry.core.protocol.ExecuteFlags.LEVEL_MASK)) != 0)
        {
            throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "a streamed snapshot serves a whole clone: " +
                "COM_EXECUTE flags " + Integer.toHexString(flags) + " are not for it");
        }
        if ((flags & dev.ferry.core.protocol.ExecuteFlags.METADATA_ONLY) != 0)
        {
            metadataOnly(locator, task);
        }
        if ((flags & dev.ferry.core.protocol.ExecuteFlags.CHECKSUMS_ONLY) != 0)
        {
            checksumsOnly(locator, task);
        }
        if ((flags & dev.ferry.core.protocol.ExecuteFlags.LIVE) != 0)
        {
            final DonorCursor c = cursor(locator, task);
            if (c != null)
            {
                c.live();
            }
        }
        if ((flags & dev.ferry.core.protocol.ExecuteFlags.COMPRESS) != 0)
        {
            final DonorCursor c = cursor(locator, task);
            if (c != null)
            {
                c.compress(dev.ferry.core.protocol.ExecuteFlags.level(flags));
            }
        }
    }

    /**
     * Bytes of the acknowledged blocks: whole chunks count their bytes, partial ones their full blocks (the last
     * block of a chunk may be short, so a partial chunk is counted at most to the chunk's size).
     */
    @Override
    public long acknowledgedBytes()
    {
        final AtomicIntegerArray a = applied;
        final ChunkPlan p = plan;
        if (a == null || p == null)
        {
            return 0;
        }
        long sum = 0;
        for (int c = 0; c < a.length(); c++)
        {
            final int b = a.get(c);
            sum += b >= p.chunkBlocks(c) ? p.chunkBytes(c) : Math.min(p.chunkBytes(c), (long)b * p.blockSize());
        }
        return sum;
    }
    /**
     * @return what compression did for all current tasks: blocks tried, blocks sent compressed, bytes in, bytes
     *     out, nanoseconds spent compressing (a restarted task starts again from 0). Any thread; approximate while
     *     tasks run.
     */
    public long[] compressionStats()
    {
        final long[] sum = new long[5];
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.get(i);
            if (c != null)
            {
                final long[] s = c.compressionStats();
                for (int k = 0; k < sum.length; k++)
                {
                    sum[k] += s[k];
                }
            }
        }
        return sum;
    }

    /**
     * @return data bytes offered by all current tasks.
     */
    public long bytesOffered()
    {
        long sum = 0;
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.get(i);
            if (c != null)
            {
                sum += c.bytesOffered();
            }
        }
        return sum;
    }

    private SharedScans.Scan scan(final boolean frozen)
    {
        Trace.mark("donor: COM_INIT, scanning the tree");
        final Manifest m = ManifestScanner.scan(root);
        Trace.mark("donor: tree scanned, " + m.size() + " entries");
        if (!frozen)
        {
            waitOutTheRacyWindow(m); // inside a freeze nothing writes: no read can be torn
        }
        return new SharedScans.Scan(m, ChunkPlan.build(m, settings.chunkSize(), settings.blockSize(),
            settings.filesPerChunk()));
    }

    @Override
    public void end(final Locator locator, final int task, final int error)
    {
        final DonorCursor c = cursor(locator, task);
        if (c != null && cursors.compareAndSet(task, c, null))
        {
            c.close();
        }
    }

    @Override
    public void close()
    {
        final HashAhead a;
        synchronized (this)
        {
            closed = true; // under the lock that hashAhead checks it with: no thread starts after this
            a = ahead;
        }
        if (a != null)
        {
            a.release();
        }
        final StreamedScan s = stream;
        if (s != null)
        {
            s.release();
        }
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final DonorCursor c = cursors.getAndSet(i, null);
            if (c != null)
            {
                c.close();
            }
        }
    }
}
