package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;

import dev.ferry.core.protocol.HaveCodec;
import dev.ferry.engine.diff.PieceHasher;

/**
 * The piece hashes of the copy's files as one pass of a live clone left them, so that the next pass (the frozen one
 * above all, where every millisecond holds the donor still) need not read a file again to say what it has. A live
 * clone compares the same hot files in pass after pass (a database's tables): after a pass, a file it compared has
 * the hashes it sent in {@code COM_HAVE}, except for the pieces that pass wrote, which are hashed again from the copy
 * (a few, and just written, so in the page cache).
 * <p>
 * An entry is used only while the copy's file is the version it describes: same inode, size, mtime and ctime (any
 * write moves the ctime; this process holds the target's lock, so it is the only writer between two passes). Held in
 * memory by one {@link CloneClient} across its passes, within a sixteenth of the heap; not journaled (a resumed
 * clone hashes again). Clone driver thread only.
 */
final class CopyHashCache implements KnownHashes
{
    private record Version(Object key, long size, long mtimeNanos, long ctimeNanos)
    {
    }

    private record Cached(Version version, long[] hashes)
    {
    }

    private final Map<String, Cached> byPath = new HashMap<>();
    private final long budgetPieces = Runtime.getRuntime().maxMemory() / 16 / HaveCodec.HASH_LENGTH;
    private long hits;
    private long hitBytes;

    /**
     * @return the copy's hashes of {@code e}'s first pieces (as many as the copy has, up to {@code maxPieces}), or
     *     null when nothing is cached for the file as it is now.
     */
    @Override
    public long[] lookup(final TargetEntry e, final long maxPieces, final int pieceSize)
    {
        final Cached c = byPath.get(e.path());
        if (c == null)
        {
            return null;
        }
        final Version now = version(e.resolved());
        if (now == null || !now.equals(c.version))
        {
            return null;
        }
        final long copyPieces = (now.size + pieceSize - 1) / pieceSize;
        final long pieces = Math.min(maxPieces, copyPieces);
        if (c.hashes.length / 2 < copyPieces || pieces > Integer.MAX_VALUE / 2)
        {
            return null;
        }
        hits++;
        hitBytes += Math.min(now.size, pieces * pieceSize);
        return (int)pieces * 2 == c.hashes.length ? c.hashes : Arrays.copyOf(c.hashes, (int)pieces * 2);
    }

    /**
     * A pass that was not the last has applied everything: remember the hashes of the files it compared, updated for
     * the pieces it wrote. Entries of earlier passes are dropped (a file not compared in this pass was either kept,
     * so it will be kept or compared against the same version next time and hashed then, or rewritten).
     *
     * @param writes what the pass wrote into compared files: {file index, position, piece mask, length} each.
     */
    void afterPass(final HaveList have, final TargetEntries entries, final Queue<long[]> writes, final int pieceSize)
    {
        byPath.clear();
        if (have == null || entries == null)
        {
            writes.clear();
            return;
        }
        final Map<Integer, List<long[]>> byFile = new HashMap<>();
        for (long[] w; (w = writes.poll()) != null; )
        {
            byFile.computeIfAbsent((int)w[0], k -> new ArrayList<>()).add(w);
        }
        long held = 0;
        final PieceHasher hasher = new PieceHasher();
        final ByteBuffer buffer = ByteBuffer.allocateDirect(pieceSize);
        for (int k = 0; k < have.fileSlots(); k++)
        {
            final int index = have.fileIndex(k);
            final long[] sent = have.hashesAt(k);
            final TargetEntry e = index < entries.size() ? entries.get(index) : null;
            if (sent == null || e == null)
            {
                continue;
            }
            final Path path = e.resolved();
            final Version before = version(path);
            if (before == null)
            {
                continue;
            }
            final long pieces = (before.size + pieceSize - 1) / pieceSize;
            if (pieces > Integer.MAX_VALUE / 2 || held + pieces > budgetPieces)
            {
                continue;
            }
            final long[] hashes = Arrays.copyOf(sent, (int)pieces * 2);
            final boolean[] stale = new boolean[(int)pieces];
            // pieces past what was sent (the copy grew), and the old last piece (its length may have changed)
            for (long p = Math.max(0, sent.length / 2 - 1); p < pieces; p++)
            {
                stale[(int)p] = true;
            }
            for (final long[] w : byFile.getOrDefault(index, List.of()))
            {
                final long first = w[1] / pieceSize;
                long mask = w[2];
                while (mask != 0)
                {
                    final long p = first + Long.numberOfTrailingZeros(mask);
                    mask &= mask - 1;
                    if (p < pieces)
                    {
                        stale[(int)p] = true;
                    }
                }
            }
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
            {
                for (int p = 0; p < pieces; p++)
                {
                    if (!stale[p])
                    {
                        continue;
                    }
                    final long at = (long)p * pieceSize;
                    final int len = (int)Math.min(pieceSize, before.size - at);
                    buffer.clear().limit(len);
                    while (buffer.hasRemaining() && ch.read(buffer, at + buffer.position()) >= 0)
                    {
                        // read the whole piece
                    }
                    hasher.hash(buffer, 0, buffer.position());
                    hashes[p * 2] = hasher.low();
                    hashes[p * 2 + 1] = hasher.high();
                }
            }
            catch (final IOException ex)
            {
                continue; // hashed again next pass
            }
            final Version after = version(path);
            if (before.equals(after))
            {
                byPath.put(e.path(), new Cached(after, hashes));
                held += pieces;
            }
        }
    }

    /**
     * @return files whose hashes came from the cache, over the clone.
     */
    long hits()
    {
        return hits;
    }

    /**
     * @return bytes of the copy not read again thanks to the cache, over the clone.
     */
    long hitBytes()
    {
        return hitBytes;
    }

    /** The file's stamp ({@link HashStore#stamp}: device, inode, size, mtime, ctime), or null. */
    private static Version version(final Path p)
    {
        final long[] s = HashStore.stamp(p);
        return s == null ? null : new Version(s[0] + ":" + s[1], s[2], s[3], s[4]);
    }
}
