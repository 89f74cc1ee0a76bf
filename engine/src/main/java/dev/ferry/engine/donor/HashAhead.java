package dev.ferry.engine.donor;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.collections.Int2IntHashMap;

import dev.ferry.engine.Trace;
import dev.ferry.engine.diff.PieceHasher;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.Manifest;

/**
 * The donor hashing, ahead of {@code COM_HAVE}, the pieces of the files an update will compare (protocol 4,
 * {@code ExecuteFlags.HASH_AHEAD}). An update's client merges the manifest and hashes what it keeps before it sends
 * its piece hashes; until they arrive the donor has nothing to do. The client names, with its manifest-only
 * {@code COM_EXECUTE}, the newest mtime of its copy's regular files: a donor file modified later cannot pass the
 * quick check (unless it is new to the copy, or {@code --coarse-mtimes} matches it at the copy's granularity), so it
 * is likely to be compared piece by piece, and then its pieces must all be read and hashed on the donor. This does
 * that reading in the idle time, on its own threads, and the cursors then take a piece's hash from here instead of
 * mapping and hashing it again ({@link #covering}). A hint only: the pieces sent are the same either way.
 *
 * <p>Which files: regular, not sparse (their holes are decided by extents, not by reading), at least
 * {@link #MIN_FILE_BYTES}, with an mtime after the client's, in manifest order. Work is cut into units of
 * {@link #UNIT_PIECES} pieces; threads take units in order. The reads happen after the scan waited out the racy
 * window and stat'ed the file, like a cursor's: a change after them moves the mtime, and the cursor's check after its
 * file's last block (size and mtime against the snapshot) reports it as for any read. A unit whose file no longer has
 * the snapshot's size and mtime when it starts is skipped, and so is the rest of a file that fails to read.
 *
 * <p>Resources are the JVM's, not a snapshot's ({@link #BUDGET}): at most a sixteenth of the heap of hashes (16
 * bytes a piece, taken a unit at a time as a thread begins it, given back when the snapshot ends or its data pass
 * turns out to need none) and at most {@code -Dferry.donor.hashAheadThreads} threads (default half the cores, 1 to
 * 16) for all snapshots together; a snapshot that finds none free hashes nothing ahead. Planning walks the manifest on
 * the first hashing thread, never on a loop thread.
 *
 * <p>Threads: {@link #start()} spawns them; {@link #stop()} (the data pass begins, or the snapshot ends) makes them
 * finish the piece at hand and exit. A unit's hashes are written before its flag is set (release) and read after the
 * flag is seen (acquire), so the cursors' loop threads read only finished units.
 */
final class HashAhead
{
    /** Smaller files are cheaper to hash as the cursor reads them than to plan here. */
    static final long MIN_FILE_BYTES = 1L << 20;
    static final int UNIT_PIECES = 1024;

    /** The JVM's hashing-ahead resources, shared by every snapshot of every donor in it. */
    static final Budget BUDGET = new Budget(Runtime.getRuntime().maxMemory() / 16 / 16,
        Math.max(1, Math.min(16, Integer.getInteger("ferry.donor.hashAheadThreads",
        Runtime.getRuntime().availableProcessors() / 2))));

    private static final int UNIT_NEW = 0;
    private static final int UNIT_TAKEN = 1;
    private static final int UNIT_DONE = 2;
    private static final int UNIT_SKIPPED = 3;

    /** Piece hashes and threads for hashing ahead, JVM-wide. */
    static final class Budget
    {
        private final AtomicLong pieces;
        private final Semaphore threads;
        private final int maxThreads;

        Budget(final long pieces, final int threads)
        {
            this.pieces = new AtomicLong(pieces);
            this.threads = new Semaphore(threads);
            this.maxThreads = threads;
        }

        boolean take(final long n)
        {
            for (long left = pieces.get(); left >= n; left = pieces.get())
            {
                if (pieces.compareAndSet(left, left - n))
                {
                    return true;
                }
            }
            return false;
        }

        void giveBack(final long n)
        {
            pieces.addAndGet(n);
        }

        long piecesLeft()
        {
            return pieces.get();
        }

        int threadsFree()
        {
            return threads.availablePermits();
        }
    }

    /** What is hashed: made by the first thread, published once. */
    private static final class Plan
    {
        final Int2IntHashMap slots = new Int2IntHashMap(-1);
        int[] slotFile;
        int[] slotFirstUnit;
        int[] unitSlot;
        AtomicIntegerArray units;
        /** Per unit: two longs per piece from the unit's first piece, once done. */
        AtomicReferenceArray<long[]> hashes;
    }

    private final Path root;
    private final Manifest manifest;
    private final int pieceSize;
    private final long newerThanNanos;
    private final Budget budget;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLong hashedPieces = new AtomicLong();
    private final AtomicLong usedPieces = new AtomicLong();
    /** Pieces taken from the budget and not given back. */
    private final AtomicLong reserved = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private final java.util.List<Thread> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile Plan plan;
    private volatile boolean stopped;

    /**
     * @param newerThanNanos plan regular files whose mtime is later than this (Long.MIN_VALUE: every one).
     */
    HashAhead(final Path root, final Manifest manifest, final int pieceSize, final long newerThanNanos,
        final Budget budget)
    {
        this.root = root;
        this.manifest = manifest;
        this.pieceSize = pieceSize;
        this.newerThanNanos = newerThanNanos;
        this.budget = budget;
    }

    private Plan makePlan()
    {
        final Plan p = new Plan();
        int count = 0;
        int[] picked = new int[16];
        long planned = 0;
        final long cap = budget.piecesLeft();
        for (int i = 0; i < manifest.size() && !stopped; i++)
        {
            if (!manifest.isRegular(i) || manifest.size(i) < MIN_FILE_BYTES ||
                manifest.mtimeNanos(i) <= newerThanNanos || manifest.entry(i).isSparse())
            {
                continue;
            }
            final long pieces = (manifest.size(i) + pieceSize - 1) / pieceSize;
            if (planned + pieces > cap)
            {
                break; // past what the budget holds now: the rest is hashed as the cursors read it
            }
            if (count == picked.length)
            {
                picked = java.util.Arrays.copyOf(picked, picked.length * 2);
            }
            picked[count++] = i;
            planned += pieces;
        }
        p.slotFile = java.util.Arrays.copyOf(picked, count);
        p.slotFirstUnit = new int[count + 1];
        int unitCount = 0;
        for (int s = 0; s < count; s++)
        {
            final long pieces = (manifest.size(p.slotFile[s]) + pieceSize - 1) / pieceSize;
            p.slots.put(p.slotFile[s], s);
            p.slotFirstUnit[s] = unitCount;
            unitCount += (int)((pieces + UNIT_PIECES - 1) / UNIT_PIECES);
        }
        p.slotFirstUnit[count] = unitCount;
        p.unitSlot = new int[unitCount];
        for (int s = 0; s < count; s++)
        {
            java.util.Arrays.fill(p.unitSlot, p.slotFirstUnit[s], p.slotFirstUnit[s + 1], s);
        }
        p.units = new AtomicIntegerArray(unitCount);
        p.hashes = new AtomicReferenceArray<>(unitCount);
        return p;
    }

    /**
     * @return files planned (0 until the first thread has planned).
     */
    int files()
    {
        final Plan p = plan;
        return p == null ? 0 : p.slotFile.length;
    }

    long hashedPieces()
    {
        return hashedPieces.get();
    }

    /**
     * @return pieces whose hash a cursor took from here.
     */
    long usedPieces()
    {
        return usedPieces.get();
    }

    /**
     * Take a thread from the budget and begin: it plans, takes more threads (up to the budget's share for one
     * snapshot), and hashes. Without a free thread nothing is hashed ahead.
     */
    HashAhead start()
    {
        if (!budget.threads.tryAcquire())
        {
            return this;
        }
        spawn(true);
        return this;
    }

    private void spawn(final boolean lead)
    {
        final Thread t = new Thread(() ->
        {
            try
            {
                if (lead)
                {
                    plan = makePlan();
                    final int want = Math.min(budget.maxThreads, plan.unitSlot.length) - 1;
                    for (int i = 0; i < want && !stopped && budget.threads.tryAcquire(); i++)
                    {
                        spawn(false);
                    }
                }
                run(plan);
            }
            finally
            {
                budget.threads.release();
            }
        }, "ferry-hash-ahead-" + threads.size());
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    /**
     * No new piece is hashed; threads exit. The hashes done so far stay for the cursors.
     */
    void stop()
    {
        if (!stopped)
        {
            stopped = true;
            Trace.mark("hash ahead stopped: " + hashedPieces.get() + " pieces of " + files() + " files hashed in " +
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos) + " ms");
        }
    }

    /**
     * Stop, and give the budget back what this holds: the caller drops it (its snapshot ended, or its data pass
     * compares nothing).
     */
    void release()
    {
        stop();
        budget.giveBack(reserved.getAndSet(0));
    }

    /**
     * Wait until the threads have exited (at most {@code millis}).
     */
    void join(final long millis) throws InterruptedException
    {
        final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (int i = 0; i < threads.size(); i++) // the lead adds the others while it runs
        {
            threads.get(i).join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
        }
    }

    /**
     * @return the hashes of the unit holding pieces {@code [first, first + count)} of file {@code file} (two longs per
     *     piece from the unit's first piece: piece {@code p} at {@code 2 * (p % UNIT_PIECES)}) if they are all hashed
     *     and in one unit, else null. Any thread.
     */
    long[] covering(final int file, final long first, final int count)
    {
        final Plan p = plan;
        if (p == null || count <= 0 || first < 0 || first / UNIT_PIECES != (first + count - 1) / UNIT_PIECES)
        {
            return null;
        }
        final int s = p.slots.get(file);
        if (s < 0)
        {
            return null;
        }
        final long u = p.slotFirstUnit[s] + first / UNIT_PIECES;
        if (u >= p.slotFirstUnit[s + 1] || p.units.get((int)u) != UNIT_DONE)
        {
            return null;
        }
        final long[] h = p.hashes.get((int)u);
        if (h == null || 2 * ((first + count - 1) % UNIT_PIECES + 1) > h.length)
        {
            return null;
        }
        usedPieces.addAndGet(count);
        return h;
    }

    private void run(final Plan p)
    {
        final PieceHasher hasher = new PieceHasher();
        FileChannel channel = null;
        int channelSlot = -1;
        try
        {
            for (int u = next.getAndIncrement(); u < p.unitSlot.length && !stopped; u = next.getAndIncrement())
            {
                final int s = p.unitSlot[u];
                if (!p.units.compareAndSet(u, UNIT_NEW, UNIT_TAKEN))
                {
                    continue; // skipped with its file
                }
                final int file = p.slotFile[s];
                final long size = manifest.size(file);
                final long from = (long)(u - p.slotFirstUnit[s]) * UNIT_PIECES * pieceSize;
                final long to = Math.min(size, from + (long)UNIT_PIECES * pieceSize);
                final int pieces = (int)((to - from + pieceSize - 1) / pieceSize);
                if (!budget.take(pieces))
                {
                    break; // the JVM's hashes are spoken for: the cursors hash the rest
                }
                reserved.addAndGet(pieces);
                if (stopped)
                {
                    budget.giveBack(reserved.getAndSet(0)); // released meanwhile: what was taken goes back too
                    break;
                }
                final Path path = PathBytes.resolve(root, manifest.entry(file).pathBytes);
                try
                {
                    if (!asAtTheSnapshot(path, file))
                    {
                        skipRest(p, s, u);
                        continue;
                    }
                    if (channelSlot != s)
                    {
                        CloseHelper.quietClose(channel);
                        channel = null;
                        channel = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
                        channelSlot = s;
                    }
                    final long[] h = hashUnit(channel, size, from, to, pieces, hasher);
                    p.hashes.set(u, h);
                    p.units.set(u, UNIT_DONE);
                }
                catch (final IOException | InternalError | RuntimeException ex)
                {
                    // the file went away, shrank under the map (SIGBUS) or cannot be read: its cursor meets the
                    // same and reports it; here the rest of it is left to the cursor
                    skipRest(p, s, u);
                    CloseHelper.quietClose(channel);
                    channel = null;
                    channelSlot = -1;
                }
            }
        }
        finally
        {
            CloseHelper.quietClose(channel);
        }
    }

    private long[] hashUnit(final FileChannel channel, final long size, final long from, final long to,
        final int pieces, final PieceHasher hasher) throws IOException
    {
        if (channel.size() < to)
        {
            throw new IOException("shorter than at the snapshot");
        }
        final long[] h = new long[2 * pieces];
        final MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, from, to - from);
        try
        {
            for (int i = 0; i < pieces && !stopped; i++)
            {
                final int len = (int)Math.min(pieceSize, to - from - (long)i * pieceSize);
                hasher.hash(map, i * pieceSize, len);
                h[2 * i] = hasher.low();
                h[2 * i + 1] = hasher.high();
            }
            if (stopped)
            {
                throw new IOException("stopped"); // a unit cut short is not published
            }
            hashedPieces.addAndGet(pieces);
            return h;
        }
        finally
        {
            IoUtil.unmap(map);
        }
    }

    private boolean asAtTheSnapshot(final Path path, final int file) throws IOException
    {
        final BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return a.isRegularFile() && a.size() == manifest.size(file) &&
            a.lastModifiedTime().to(TimeUnit.NANOSECONDS) == manifest.mtimeNanos(file);
    }

    private static void skipRest(final Plan p, final int s, final int from)
    {
        p.units.set(from, UNIT_SKIPPED);
        for (int u = from + 1; u < p.slotFirstUnit[s + 1]; u++)
        {
            p.units.compareAndSet(u, UNIT_NEW, UNIT_SKIPPED);
        }
    }
}
