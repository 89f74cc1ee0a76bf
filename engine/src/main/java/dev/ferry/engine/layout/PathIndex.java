package dev.ferry.engine.layout;

import java.util.Arrays;

/**
 * Finds an entry of a {@link Manifest.Builder} by its path bytes: an open-addressing table of entry indexes (linear
 * probing, at most half full) with an 8-bit tag of each path's hash beside it, so a probe touches the builder's
 * off-heap store only when the tags agree (almost only on a match). 10 to 20 bytes of heap per entry, where a set of
 * path Strings cost about 100 (issue 10). One thread, the builder's.
 */
public final class PathIndex
{
    private static final int EMPTY = -1;
    private static final int INITIAL = 1024;

    private final Manifest.Builder entries;
    private int[] table;
    private byte[] tags;
    private int count;

    public PathIndex(final Manifest.Builder entries)
    {
        this.entries = entries;
        clear();
    }

    /**
     * @return the index of the entry whose path is {@code length} bytes of {@code path} from {@code offset}, or -1.
     */
    public int find(final byte[] path, final int offset, final int length)
    {
        final int h = hash(path, offset, length);
        final byte tag = (byte)(h >>> 24);
        final int mask = table.length - 1;
        for (int slot = h & mask; ; slot = (slot + 1) & mask)
        {
            final int index = table[slot];
            if (index == EMPTY)
            {
                return -1;
            }
            if (tags[slot] == tag && entries.pathEquals(index, path, offset, length))
            {
                return index;
            }
        }
    }

    /**
     * Index entry {@code index} of the builder (already added, its path not indexed yet).
     */
    public void add(final int index)
    {
        if (2 * (count + 1) > table.length)
        {
            final int[] old = table;
            table = new int[old.length * 2];
            tags = new byte[old.length * 2];
            Arrays.fill(table, EMPTY);
            for (final int i : old)
            {
                if (i != EMPTY)
                {
                    put(i);
                }
            }
        }
        put(index);
        count++;
    }

    public void clear()
    {
        table = new int[INITIAL];
        tags = new byte[INITIAL];
        Arrays.fill(table, EMPTY);
        count = 0;
    }

    private void put(final int index)
    {
        final int h = entries.pathHash(index);
        final int mask = table.length - 1;
        int slot = h & mask;
        while (table[slot] != EMPTY)
        {
            slot = (slot + 1) & mask;
        }
        table[slot] = index;
        tags[slot] = (byte)(h >>> 24);
    }

    /**
     * FNV-1a over the bytes, then mixed so that linear probing on the low bits spreads
     * ({@link Manifest.Builder#pathHash} computes the same over a stored path).
     */
    static int hash(final byte[] b, final int offset, final int length)
    {
        int h = 0x811C9DC5;
        for (int i = offset; i < offset + length; i++)
        {
            h = (h ^ (b[i] & 0xFF)) * 0x01000193;
        }
        return h ^ (h >>> 16);
    }
}
