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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

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
 * quick check, so it will be compared piece by piece, and its pieces must all be read and hashed on the donor. This
 * does that reading in the idle time, on its own threads, and the cursors then take a piece's hash from here instead
 * of mapping and hashing it again ({@link #covering}). A hint only: the pieces sent are the same either way.
 *
 * <p>Which files: regular, not sparse (their holes are decided by extents, not by reading), at least
 * {@link #MIN_FILE_BYTES}, with an mtime after the client's, in manifest order (the order the chunk queue hands them
 * out), until {@code maxPieces} hashes (16 bytes each) are planned. Work is cut into units of {@link #UNIT_PIECES}
 * pieces; threads take units in order. The reads happen after the scan waited out the racy window and stat'ed the
 * file, like a cursor's: a change after them moves the mtime, and the cursor's check after its file's last block
 * (size and mtime against the snapshot) reports it as for any read. A unit whose file no longer has the snapshot's
 * size and mtime when it starts is skipped, and so is the rest of a file that fails to read.
 *
 * <p>Threads: {@link #start()} spawns them; {@link #stop()} (the data pass begins, or the snapshot ends) makes them
 * finish their current unit and exit. A unit's hashes are written before its flag is set (release) and read after
 * the flag is seen (acquire), so the cursors' loop threads read only finished units.
 */
final class HashAhead
{
    /** Smaller files are cheaper to hash as the cursor reads them than to plan here. */
    static final long MIN_FILE_BYTES = 1L << 20;
    static final int UNIT_PIECES = 1024;

    private static final int UNIT_NEW = 0;
    private static final int UNIT_TAKEN = 1;
    private static final int UNIT_DONE = 2;
    private static final int UNIT_SKIPPED = 3;

    private final Path root;
    private final Manifest manifest;
    private final int pieceSize;
    /** Manifest index -> slot of the planned file. */
    private final Int2IntHashMap slots = new Int2IntHashMap(-1);
    private final int[] slotFile;
    /** Per slot: two longs per piece. */
    private final long[][] hashes;
    /** Per slot: its first unit. */
    private final int[] slotFirstUnit;
    private final int[] unitSlot;
    private final AtomicIntegerArray units;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLong hashedPieces = new AtomicLong();
    private final AtomicLong usedPieces = new AtomicLong();
    private final int threadCount;
    private final long startNanos = System.nanoTime();
    private volatile boolean stopped;
    private Thread[] threads;

    /**
     * @param newerThanNanos plan regular files whose mtime is later than this (Long.MIN_VALUE: every one).
     * @param maxPieces at most this many piece hashes in all.
     */
    HashAhead(final Path root, final Manifest manifest, final int pieceSize, final long newerThanNanos,
        final long maxPieces, final int threads)
    {
        this.root = root;
        this.manifest = manifest;
        this.pieceSize = pieceSize;
        this.threadCount = threads;
        int count = 0;
        long planned = 0;
        final int[] files = new int[Math.max(1, Math.min(manifest.size(), 1 << 16))];
        int[] picked = files;
        for (int i = 0; i < manifest.size(); i++)
        {
            if (!manifest.isRegular(i) || manifest.size(i) < MIN_FILE_BYTES ||
                manifest.mtimeNanos(i) <= newerThanNanos || manifest.entry(i).isSparse())
            {
                continue;
            }
            final long pieces = (manifest.size(i) + pieceSize - 1) / pieceSize;
            if (pieces > Integer.MAX_VALUE / 2 - 8 || planned + pieces > maxPieces)
            {
                break; // the cap: the rest is hashed as the cursors read it
            }
            if (count == picked.length)
            {
                picked = java.util.Arrays.copyOf(picked, picked.length * 2);
            }
            picked[count++] = i;
            planned += pieces;
        }
        slotFile = java.util.Arrays.copyOf(picked, count);
        hashes = new long[count][];
        slotFirstUnit = new int[count + 1];
        int unitCount = 0;
        for (int s = 0; s < count; s++)
        {
            final int pieces = (int)((manifest.size(slotFile[s]) + pieceSize - 1) / pieceSize);
            hashes[s] = new long[2 * pieces];
            slots.put(slotFile[s], s);
            slotFirstUnit[s] = unitCount;
            unitCount += (pieces + UNIT_PIECES - 1) / UNIT_PIECES;
        }
        slotFirstUnit[count] = unitCount;
        unitSlot = new int[unitCount];
        for (int s = 0; s < count; s++)
        {
            java.util.Arrays.fill(unitSlot, slotFirstUnit[s], slotFirstUnit[s + 1], s);
        }
        units = new AtomicIntegerArray(unitCount);
    }

    /**
     * @return files planned.
     */
    int files()
    {
        return slotFile.length;
    }

    /**
     * @return pieces hashed so far.
     */
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

    HashAhead start()
    {
        if (unitSlot.length == 0)
        {
            return this;
        }
        threads = new Thread[Math.max(1, Math.min(threadCount, unitSlot.length))];
        for (int t = 0; t < threads.length; t++)
        {
            threads[t] = new Thread(this::run, "ferry-hash-ahead-" + t);
            threads[t].setDaemon(true);
            threads[t].start();
        }
        return this;
    }

    /**
     * Hash every planned unit on the calling thread (tests), then return.
     */
    void runHere()
    {
        run();
    }

    /**
     * No new unit is begun; a thread finishing one exits after it.
     */
    void stop()
    {
        if (!stopped)
        {
            stopped = true;
            Trace.mark("hash ahead stopped: " + hashedPieces.get() + " pieces of " + slotFile.length + " files hashed in " +
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos) + " ms");
        }
    }

    /**
     * Wait until the threads have exited (at most {@code millis}).
     */
    void join(final long millis) throws InterruptedException
    {
        final Thread[] t = threads;
        if (t != null)
        {
            final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            for (final Thread thread : t)
            {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
            }
        }
    }

    /**
     * @return the hashes of file {@code file} (two longs per piece from piece 0) if pieces {@code [first, first +
     *     count)} are all hashed, else null. Any thread.
     */
    long[] covering(final int file, final long first, final int count)
    {
        final int s = slots.get(file);
        if (s < 0 || count <= 0 || first < 0)
        {
            return null;
        }
        final long last = first + count - 1;
        if (2 * (last + 1) > hashes[s].length)
        {
            return null;
        }
        for (long u = first / UNIT_PIECES; u <= last / UNIT_PIECES; u++)
        {
            if (units.get(slotFirstUnit[s] + (int)u) != UNIT_DONE)
            {
                return null;
            }
        }
        usedPieces.addAndGet(count);
        return hashes[s];
    }

    private void run()
    {
        final PieceHasher hasher = new PieceHasher();
        FileChannel channel = null;
        int channelSlot = -1;
        try
        {
            for (int u = next.getAndIncrement(); u < unitSlot.length && !stopped; u = next.getAndIncrement())
            {
                final int s = unitSlot[u];
                if (!units.compareAndSet(u, UNIT_NEW, UNIT_TAKEN))
                {
                    continue; // skipped with its file
                }
                final int file = slotFile[s];
                final Path path = PathBytes.resolve(root, manifest.entry(file).pathBytes);
                try
                {
                    if (!asAtTheSnapshot(path, file))
                    {
                        skipRest(s, u);
                        continue;
                    }
                    if (channelSlot != s)
                    {
                        closeQuietly(channel);
                        channel = null;
                        channel = FileChannel.open(path, StandardOpenOption.READ);
                        channelSlot = s;
                    }
                    hashUnit(channel, s, u - slotFirstUnit[s], hasher);
                    units.set(u, UNIT_DONE);
                }
                catch (final IOException | InternalError | RuntimeException ex)
                {
                    // the file went away, shrank under the map (SIGBUS) or cannot be read: its cursor meets the
                    // same and reports it; here the rest of it is left to the cursor
                    skipRest(s, u);
                    closeQuietly(channel);
                    channel = null;
                    channelSlot = -1;
                }
            }
        }
        finally
        {
            closeQuietly(channel);
        }
    }

    private void hashUnit(final FileChannel channel, final int s, final int unitInFile, final PieceHasher hasher)
        throws IOException
    {
        final long size = manifest.size(slotFile[s]);
        final long from = (long)unitInFile * UNIT_PIECES * pieceSize;
        final long to = Math.min(size, from + (long)UNIT_PIECES * pieceSize);
        if (channel.size() < to)
        {
            throw new IOException("shorter than at the snapshot");
        }
        final MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, from, to - from);
        try
        {
            final long[] h = hashes[s];
            int piece = (int)(from / pieceSize);
            for (long at = 0; at < to - from && !stopped; at += pieceSize, piece++)
            {
                final int len = (int)Math.min(pieceSize, to - from - at);
                hasher.hash(map, (int)at, len);
                h[2 * piece] = hasher.low();
                h[2 * piece + 1] = hasher.high();
            }
            if (stopped)
            {
                throw new IOException("stopped"); // a unit cut short is not published
            }
            hashedPieces.addAndGet((to - from + pieceSize - 1) / pieceSize);
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

    private void skipRest(final int s, final int from)
    {
        units.set(from, UNIT_SKIPPED);
        for (int u = from + 1; u < slotFirstUnit[s + 1]; u++)
        {
            units.compareAndSet(u, UNIT_NEW, UNIT_SKIPPED);
        }
    }

    private static void closeQuietly(final FileChannel channel)
    {
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // read-only
            }
        }
    }
}
