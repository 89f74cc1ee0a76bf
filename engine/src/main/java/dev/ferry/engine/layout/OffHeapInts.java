package dev.ferry.engine.layout;

import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A fixed-length array of ints off the heap, zeroed: one direct buffer up to {@link #DIRECT_MAX} ints, else pages of
 * {@link PagedStore#PAGE_SIZE} bytes mapped like the manifest's ({@link PagedStore#mappedPage()}: unlinked files in {@code /dev/shm}),
 * so a table that grows with the entries of a manifest costs neither heap nor {@code -XX:MaxDirectMemorySize}
 * (issue 10). Released when unreachable. Writes before the table is shared need a happens-before edge with its
 * readers, as for the manifest.
 */
final class OffHeapInts
{
    private static final int PER_PAGE_BITS = PagedStore.PAGE_BITS - 2;
    private static final int PER_PAGE = 1 << PER_PAGE_BITS;
    /** The largest table in direct memory (64 KiB): the connections' block pools need that memory. */
    static final int DIRECT_MAX = 1 << 14;

    /** Volatile: a growing table replaces it (readers on other threads take the newest). */
    private volatile UnsafeBuffer[] pages;
    private int length;
    private final boolean growing;

    private OffHeapInts()
    {
        growing = true;
        pages = new UnsafeBuffer[] { new UnsafeBuffer(ByteBuffer.allocateDirect(DIRECT_MAX << 2)) };
        length = DIRECT_MAX;
    }

    /**
     * @return a table that {@link #ensure} grows (a growing chunk plan): pages are added, never moved but the first,
     *     which is copied once into a full page when the table passes {@link #DIRECT_MAX}. One writer; a reader on
     *     another thread reads only what was written before a volatile write it has read (the plan's chunk count).
     */
    static OffHeapInts growing()
    {
        return new OffHeapInts();
    }

    /**
     * Room for at least {@code n} ints (a growing table only; zeroed).
     */
    void ensure(final int n)
    {
        if (n <= length)
        {
            return;
        }
        if (!growing)
        {
            throw new IllegalStateException("a fixed table of " + length + " ints");
        }
        UnsafeBuffer[] p = pages;
        if (length < PER_PAGE)
        {
            final UnsafeBuffer full = new UnsafeBuffer(PagedStore.mappedPage());
            full.putBytes(0, p[0], 0, length << 2);
            p = p.clone();
            p[0] = full;
            pages = p;
            length = PER_PAGE;
        }
        final int needed = (n + PER_PAGE - 1) >>> PER_PAGE_BITS;
        if (needed > p.length)
        {
            final UnsafeBuffer[] grown = java.util.Arrays.copyOf(p, Math.max(needed, 2 * p.length));
            for (int i = p.length; i < grown.length; i++)
            {
                grown[i] = new UnsafeBuffer(PagedStore.mappedPage());
            }
            pages = grown;
            length = grown.length << PER_PAGE_BITS;
        }
    }

    OffHeapInts(final int length)
    {
        this.growing = false;
        this.length = length;
        if (length <= DIRECT_MAX)
        {
            pages = new UnsafeBuffer[] { new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(4, length << 2))) };
        }
        else
        {
            pages = new UnsafeBuffer[(length + PER_PAGE - 1) >>> PER_PAGE_BITS];
            for (int i = 0; i < pages.length; i++)
            {
                pages[i] = new UnsafeBuffer(PagedStore.mappedPage());
            }
        }
    }

    int get(final int i)
    {
        return pages[i >>> PER_PAGE_BITS].getInt((i & (PER_PAGE - 1)) << 2);
    }

    void set(final int i, final int v)
    {
        pages[i >>> PER_PAGE_BITS].putInt((i & (PER_PAGE - 1)) << 2, v);
    }

    int length()
    {
        return length;
    }
}
