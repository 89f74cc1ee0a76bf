package dev.ferry.engine.layout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * An append-only store of byte records in off-heap pages of {@link #PAGE_SIZE} bytes, addressed by a {@code long}
 * (page number in the high bits, offset in the page in the low {@link #PAGE_BITS}); a record never spans two pages,
 * so it is read in place from {@link #page}. The first page is direct memory that starts small and doubles up to the
 * page size, so a manifest of a few entries costs a few KiB; every further page is a memory-mapped file (in
 * {@link #DIR_PROP_NAME}, by default {@code /dev/shm} when there is one, else {@code java.io.tmpdir}), unlinked as
 * soon as it is mapped, so it counts against neither the heap nor {@code -XX:MaxDirectMemorySize} (a million-file
 * clone whose connections grew to six ran out of direct memory with the pages there, when the block pools were direct
 * buffers too; with the native seam they now come from malloc, {@code NativeFs.untouchedBuffer}). Nothing of it is
 * on the heap but the page table: the heap a manifest needs no longer grows with its entries (issue 10).
 * <p>
 * One writer appends; readers on other threads need a happens-before edge with the appends (the manifest is
 * published through a volatile field or a thread start). The memory is released when the store is unreachable (the
 * direct buffers' cleaners).
 */
final class PagedStore
{
    static final int PAGE_BITS = 20;
    /** Largest record: a FILE's strings at their cap and the xattr section at its cap fit easily. */
    static final int PAGE_SIZE = 1 << PAGE_BITS;
    private static final int FIRST_PAGE = 4096;
    /** Where mapped pages are made (each unlinked at once). */
    public static final String DIR_PROP_NAME = "ferry.manifest.dir";
    private static final Path DIR = pageDirectory();
    /** Written to a page's file before it is mapped (read-only: each write uses a duplicate). */
    private static final java.nio.ByteBuffer ZEROS = java.nio.ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private UnsafeBuffer[] pages = new UnsafeBuffer[4];
    private int pageCount;
    private int tail;

    /**
     * Room for {@code length} contiguous bytes (at most {@link #PAGE_SIZE}).
     *
     * @return the record's address.
     */
    long reserve(final int length)
    {
        if (pageCount == 0)
        {
            pages[0] = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(FIRST_PAGE, Integer.highestOneBit(length) << 1)));
            pageCount = 1;
        }
        UnsafeBuffer last = pages[pageCount - 1];
        if (tail + length > last.capacity())
        {
            if (pageCount == 1 && last.capacity() < PAGE_SIZE && tail + length <= PAGE_SIZE)
            {
                // the first page doubles (copied) until it is a full page
                int capacity = last.capacity();
                while (capacity < tail + length)
                {
                    capacity <<= 1;
                }
                final UnsafeBuffer grown = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.min(PAGE_SIZE, capacity)));
                grown.putBytes(0, last, 0, tail);
                pages[0] = grown;
            }
            else
            {
                if (pageCount == pages.length)
                {
                    pages = Arrays.copyOf(pages, pages.length * 2);
                }
                pages[pageCount++] = new UnsafeBuffer(mappedPage());
                tail = 0;
            }
        }
        final long address = ((long)(pageCount - 1) << PAGE_BITS) | tail;
        tail += length;
        return address;
    }

    private static Path pageDirectory()
    {
        final String configured = System.getProperty(DIR_PROP_NAME);
        if (configured != null)
        {
            return Path.of(configured);
        }
        final Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * A page of a file of its own, mapped and unlinked: the mapping lives until the buffer is collected.
     */
    static MappedByteBuffer mappedPage()
    {
        Path file = null;
        try
        {
            file = Files.createTempFile(DIR, "ferry-manifest-", ".page");
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
            {
                // written before it is mapped: a full file system (a small /dev/shm) fails here with ENOSPC,
                // instead of a SIGBUS at the first touch of a page it could not back
                for (long at = 0; at < PAGE_SIZE; )
                {
                    at += ch.write(ZEROS.duplicate(), at);
                }
                return ch.map(FileChannel.MapMode.READ_WRITE, 0, PAGE_SIZE);
            }
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot map a manifest page in " + DIR + ": " +
                ex.getMessage(), "free space there, or give the JVM -D" + DIR_PROP_NAME + "=DIR on a larger file " +
                "system (FERRY_JAVA_OPTS)", ex);
        }
        finally
        {
            if (file != null)
            {
                try
                {
                    Files.deleteIfExists(file);
                }
                catch (final IOException ignore)
                {
                    // the mapping holds the bytes; a leftover name is only a name
                }
            }
        }
    }

    /**
     * @return the page that holds the record at {@code address}.
     */
    UnsafeBuffer page(final long address)
    {
        return pages[(int)(address >>> PAGE_BITS)];
    }

    /**
     * @return page {@code n}: fixed-length records appended in order lie {@code PAGE_SIZE / length} to a page.
     */
    UnsafeBuffer pageAt(final int n)
    {
        return pages[n];
    }

    /**
     * @return the record's offset in its {@link #page}.
     */
    static int offset(final long address)
    {
        return (int)address & (PAGE_SIZE - 1);
    }

    /**
     * @return off-heap bytes held.
     */
    long capacity()
    {
        long bytes = 0;
        for (int i = 0; i < pageCount; i++)
        {
            bytes += pages[i].capacity();
        }
        return bytes;
    }
}
