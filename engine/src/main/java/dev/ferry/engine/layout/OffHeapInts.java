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

    private final UnsafeBuffer[] pages;
    private final int length;

    OffHeapInts(final int length)
    {
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
