package dev.ferry.engine.layout;

import java.util.Arrays;

/**
 * Finds an entry of a {@link Manifest.Builder} by its path bytes: an open-addressing table of entry indexes (linear
 * probing, at most half full), the paths themselves compared in the builder's store. 8 to 16 bytes of heap per entry,
 * where a set of path Strings cost about 100 (issue 10). One thread, the builder's.
 */
public final class PathIndex
{
    private static final int EMPTY = -1;

    private final Manifest.Builder entries;
    private int[] table = new int[1024];
    private int count;

    public PathIndex(final Manifest.Builder entries)
    {
        this.entries = entries;
        Arrays.fill(table, EMPTY);
    }

    /**
     * @return the index of the entry whose path is {@code length} bytes of {@code path} from {@code offset}, or -1.
     */
    public int find(final byte[] path, final int offset, final int length)
    {
        final int mask = table.length - 1;
        for (int slot = hash(path, offset, length) & mask; ; slot = (slot + 1) & mask)
        {
            final int index = table[slot];
            if (index == EMPTY)
            {
                return -1;
            }
            if (entries.pathEquals(index, path, offset, length))
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
        table = new int[1024];
        Arrays.fill(table, EMPTY);
        count = 0;
    }

    private void put(final int index)
    {
        final int mask = table.length - 1;
        int slot = entries.pathHash(index) & mask;
        while (table[slot] != EMPTY)
        {
            slot = (slot + 1) & mask;
        }
        table[slot] = index;
    }

    /**
     * FNV-1a over the bytes, then mixed so that linear probing on the low bits spreads.
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
