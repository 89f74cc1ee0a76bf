package dev.ferry.engine.layout;

/**
 * Finds an entry of a {@link Manifest.Builder} by its path bytes: an open-addressing table of entry indexes (linear
 * probing, at most half full), off the heap like the entries themselves (issue 10: nothing on the heap grows with
 * the number of entries). A slot is one int: the entry's index plus one in the low {@link #INDEX_BITS} bits (zero is
 * an empty slot, so fresh pages need no filling), and a 5-bit tag of its path's hash above them, so a probe touches
 * the builder's store only when the tags agree (about one in 32 of the other entries it meets). 8 to 16 bytes per
 * entry, in {@link OffHeapInts}. One thread, the builder's.
 */
public final class PathIndex
{
    /** Indexes up to 2^27 - 2: more than {@code FileTreeRecipient.MAX_ENTRIES} (10^8). */
    static final int INDEX_BITS = 27;
    private static final int INDEX_MASK = (1 << INDEX_BITS) - 1;
    private static final int INITIAL = 1024;

    private final Manifest.Builder entries;
    private OffHeapInts table;
    private int count;
    /**
     * Each indexed entry's full hash, by entry index: the table keeps only a tag of it, and growing the table moves
     * every entry by its hash, which would otherwise be read again from the builder's store byte by byte.
     */
    private final OffHeapInts hashes = OffHeapInts.growing();

    public PathIndex(final Manifest.Builder entries)
    {
        this.entries = entries;
        table = new OffHeapInts(INITIAL);
    }

    /**
     * @return the index of the entry whose path is {@code length} bytes of {@code path} from {@code offset}, or -1.
     */
    public int find(final byte[] path, final int offset, final int length)
    {
        return find(path, offset, length, hash(path, offset, length));
    }

    /**
     * As {@link #find(byte[], int, int)}, with the path's {@link #hash} already computed.
     */
    public int find(final byte[] path, final int offset, final int length, final int h)
    {
        final int tag = tag(h);
        final int mask = table.length() - 1;
        for (int slot = h & mask; ; slot = (slot + 1) & mask)
        {
            final int v = table.get(slot);
            if (v == 0)
            {
                return -1;
            }
            final int index = (v & INDEX_MASK) - 1;
            if ((v & ~INDEX_MASK) == tag && entries.pathEquals(index, path, offset, length))
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
        add(index, entries.pathHash(index));
    }

    /**
     * As {@link #add(int)}, with its path's {@link #hash} already computed (the caller looked it up first).
     */
    public void add(final int index, final int hash)
    {
        if (index < 0 || index >= INDEX_MASK)
        {
            throw new IllegalArgumentException("entry index " + index + " is beyond the path index's 2^27 - 2");
        }
        if (2L * (count + 1) > table.length())
        {
            final OffHeapInts old = table;
            table = new OffHeapInts(old.length() * 2);
            for (int s = 0; s < old.length(); s++)
            {
                final int v = old.get(s);
                if (v != 0)
                {
                    put((v & INDEX_MASK) - 1);
                }
            }
        }
        hashes.ensure(index + 1);
        hashes.set(index, hash);
        put(index);
        count++;
    }

    private void put(final int index)
    {
        final int h = hashes.get(index);
        final int mask = table.length() - 1;
        int slot = h & mask;
        while (table.get(slot) != 0)
        {
            slot = (slot + 1) & mask;
        }
        table.set(slot, tag(h) | (index + 1));
    }

    private static int tag(final int hash)
    {
        return (hash >>> 27) << INDEX_BITS;
    }

    /**
     * FNV-1a over the bytes, then mixed so that linear probing on the low bits spreads
     * ({@link Manifest.Builder#pathHash} computes the same over a stored path).
     */
    public static int hash(final byte[] b, final int offset, final int length)
    {
        int h = 0x811C9DC5;
        for (int i = offset; i < offset + length; i++)
        {
            h = (h ^ (b[i] & 0xFF)) * 0x01000193;
        }
        return h ^ (h >>> 16);
    }
}
