package dev.ferry.engine.recipient;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.agrona.MutableDirectBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.HaveCodec;
import dev.ferry.engine.diff.FileHashes;

/**
 * What the recipient tells the donor it already has: for every file the merge kept in place for a block diff
 * ({@link TargetEntry#have()}), the XXH3-128 hash of each piece of the copy's version, up to the donor's size. Built
 * by the clone's driver (hashing on a few threads) before the restart that sends it; then read, in order, by the
 * master task that sends it as {@code COM_HAVE} frames before its {@code COM_REINIT}. Immutable once built.
 */
public final class HaveList
{
    /** Most hashes in one frame (64 KiB of hashes). */
    static final int HASHES_PER_FRAME = 4096;

    private final int[] whole;
    private final int[] files;
    private final long[][] hashes;
    private final long bytesHashed;
    private final long bytesKnown;

    private HaveList(final int[] whole, final int[] files, final long[][] hashes, final long bytesHashed,
        final long bytesKnown)
    {
        this.whole = whole;
        this.files = files;
        this.hashes = hashes;
        this.bytesHashed = bytesHashed;
        this.bytesKnown = bytesKnown;
    }

    /**
     * Hash every {@code have} entry's copy. A file that cannot be read is sent whole (no hashes); past the heap's
     * budget for hashes (an eighth of it, 16 bytes a piece) the remaining files are sent whole too.
     */
    static HaveList compute(final TargetEntries entries, final int[] whole, final int pieceSize, final int threads)
    {
        return compute(entries, whole, pieceSize, threads, null);
    }

    /**
     * As {@link #compute(TargetEntries, int[], int, int)}, taking a file's hashes from {@code cache} (null for none)
     * when it holds them for the copy's file as it is now.
     */
    static HaveList compute(final TargetEntries entries, final int[] whole, final int pieceSize, final int threads,
        final KnownHashes cache)
    {
        final List<Integer> wanted = new ArrayList<>();
        if (entries != null)
        {
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.is(i, TargetEntries.HAVE))
                {
                    wanted.add(i);
                }
            }
        }
        final long[][] out = new long[wanted.size()][];
        if (wanted.isEmpty())
        {
            return new HaveList(whole, new int[0], out, 0, 0);
        }
        final AtomicLong budget = new AtomicLong(Runtime.getRuntime().maxMemory() / 8 / HaveCodec.HASH_LENGTH);
        final boolean[] cached = new boolean[out.length];
        long known = 0;
        if (cache != null)
        {
            // on the driver thread, before the hashing threads start: the cache is not thread-safe
            for (int k = 0; k < out.length; k++)
            {
                final TargetEntry e = entries.get(wanted.get(k));
                final long[] h = cache.lookup(e, (e.size + pieceSize - 1) / pieceSize, pieceSize);
                if (h != null && budget.addAndGet(-h.length / 2) >= 0)
                {
                    out[k] = h;
                    cached[k] = true;
                    known += Math.min(e.size, (long)(h.length / 2) * pieceSize);
                }
            }
        }
        final AtomicLong hashed = new AtomicLong();
        final AtomicInteger next = new AtomicInteger();
        final int n = Math.max(1, Math.min(threads, wanted.size()));
        final ExecutorService pool = Executors.newFixedThreadPool(n, r ->
        {
            final Thread t = new Thread(r, "ferry-hash");
            t.setDaemon(true);
            return t;
        });
        try
        {
            final List<Future<?>> running = new ArrayList<>();
            for (int t = 0; t < n; t++)
            {
                running.add(pool.submit(() ->
                {
                    final FileHashes h = new FileHashes(pieceSize);
                    for (int k = next.getAndIncrement(); k < out.length; k = next.getAndIncrement())
                    {
                        if (cached[k])
                        {
                            continue;
                        }
                        final TargetEntry e = entries.get(wanted.get(k));
                        final long pieces = (e.size + pieceSize - 1) / pieceSize;
                        if (budget.addAndGet(-pieces) >= 0)
                        {
                            try
                            {
                                out[k] = h.of(e.resolved(), pieces);
                                hashed.addAndGet(Math.min(e.size, (long)(out[k].length / 2) * pieceSize));
                                continue;
                            }
                            catch (final IOException ex)
                            {
                                // unreadable: emptied below and sent whole
                            }
                        }
                        // over budget or unreadable: no hashes, so the donor leaves holes out as for a new file;
                        // the copy must then hold nothing there, or old bytes would show through them
                        emptied(e);
                    }
                    return null;
                }));
            }
            for (final Future<?> f : running)
            {
                f.get();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new FerryException(ErrorCode.CANCELLED, "interrupted while hashing the copy");
        }
        catch (final java.util.concurrent.ExecutionException ex)
        {
            throw new FerryException(ErrorCode.INTERNAL, "hashing the copy failed: " + ex.getCause(), ex.getCause());
        }
        finally
        {
            pool.shutdownNow();
        }
        final int[] files = new int[out.length];
        for (int k = 0; k < files.length; k++)
        {
            files[k] = wanted.get(k);
        }
        return new HaveList(whole, files, out, hashed.get(), known);
    }

    private static void emptied(final TargetEntry e)
    {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(e.resolved(),
            java.nio.file.StandardOpenOption.WRITE, java.nio.file.LinkOption.NOFOLLOW_LINKS))
        {
            ch.truncate(0);
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot rewrite '" + PathGuard.printable(e.path()) + "': " +
                ex.getMessage(), ex);
        }
        e.have(false);
    }

    /**
     * @return the number of compared files, with or without hashes ({@link #hashesAt} null: sent whole).
     */
    int fileSlots()
    {
        return files.length;
    }

    /**
     * @return the manifest index of compared file {@code k}.
     */
    int fileIndex(final int k)
    {
        return files[k];
    }

    /**
     * @return the hashes of compared file {@code k} (two longs a piece), or null when it is sent whole.
     */
    long[] hashesAt(final int k)
    {
        return hashes[k];
    }

    /**
     * @return whether there is anything to send.
     */
    public boolean isEmpty()
    {
        return whole.length == 0 && fileCount() == 0;
    }

    /**
     * @return files with hashes.
     */
    public int fileCount()
    {
        int c = 0;
        for (final long[] h : hashes)
        {
            if (h != null && h.length > 0)
            {
                c++;
            }
        }
        return c;
    }

    /**
     * @return bytes of the copy whose hashes were known without reading it (the live cache, the hash store).
     */
    public long bytesKnown()
    {
        return bytesKnown;
    }

    /**
     * @return bytes of the copy that were hashed.
     */
    public long bytesHashed()
    {
        return bytesHashed;
    }

    /**
     * A reader of the list as frames, in order. One per sending task.
     */
    Frames frames()
    {
        return new Frames();
    }

    final class Frames
    {
        private int wholeSent;
        private int file;
        private int piece;

        boolean done()
        {
            skipEmpty();
            return wholeSent >= whole.length && file >= files.length;
        }

        private void skipEmpty()
        {
            while (file < files.length && (hashes[file] == null || piece * 2 >= hashes[file].length))
            {
                file++;
                piece = 0;
            }
        }

        /**
         * @return the body length of the next frame (call only when not {@link #done}).
         */
        int nextLength()
        {
            if (wholeSent < whole.length)
            {
                return HaveCodec.lengthFor(0);
            }
            skipEmpty();
            return HaveCodec.lengthFor(Math.min(HASHES_PER_FRAME, hashes[file].length / 2 - piece));
        }

        /**
         * Encode the next frame's body at {@code at}.
         *
         * @return its length.
         */
        int encodeNext(final MutableDirectBuffer b, final int at)
        {
            if (wholeSent < whole.length)
            {
                HaveCodec.encodeHeader(b, at, whole[wholeSent++], 0, 0, HaveCodec.FLAG_WHOLE);
                return HaveCodec.lengthFor(0);
            }
            skipEmpty();
            final long[] h = hashes[file];
            final int n = Math.min(HASHES_PER_FRAME, h.length / 2 - piece);
            HaveCodec.encodeHeader(b, at, files[file], piece, n);
            for (int i = 0; i < n; i++)
            {
                HaveCodec.putHash(b, at, i, h[(piece + i) * 2], h[(piece + i) * 2 + 1]);
            }
            piece += n;
            return HaveCodec.lengthFor(n);
        }
    }
}
