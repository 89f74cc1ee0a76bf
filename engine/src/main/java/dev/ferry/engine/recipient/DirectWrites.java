package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import com.sun.nio.file.ExtendedOpenOption;

import dev.ferry.engine.fs.NativeFs;

/**
 * Direct I/O ({@code O_DIRECT}) for the bytes of large files (issue 10): written from the block buffer straight to the
 * device, they never pass through the page cache. That saves the kernel's copy into the cache (on this machine the
 * apply threads spent a third of all CPU copying into it), leaves no gigabytes of dirty pages for FILE SYNC to write
 * at the end (so the device works while the network does), and keeps a multi-terabyte clone from evicting the
 * recipient's page cache. MySQL's clone sends data aligned for the same reason.
 * <p>
 * Only what can go direct does: a run of bytes whose file offset, length and buffer address are multiples of
 * {@link #ALIGN}; the rest (a file's unaligned tail, pieces of a local clone's region) goes through an ordinary
 * channel on the same file. The two never share a page, since the direct part ends on an aligned boundary. A file
 * system that refuses {@code O_DIRECT} (tmpfs, some FUSE) is remembered and written as before. Off with
 * {@code -Dferry.direct=false}, and with {@code --no-sync} (then the page cache is what the user asked for).
 * Stateless but for that one flag; thread-safe.
 */
final class DirectWrites
{
    /** Alignment of offsets, lengths and buffer addresses: the page size, a multiple of every device's sector. */
    static final int ALIGN = 4096;
    /** Files at least this large are written direct: below it the page cache costs little, and syncfs is cheap. */
    static final long MIN_FILE_BYTES = 8L * 1024 * 1024;
    static final boolean ENABLED = !"false".equals(System.getProperty("ferry.direct", "true"));

    private static final java.util.concurrent.atomic.AtomicLong WRITTEN = new java.util.concurrent.atomic.AtomicLong();

    private volatile boolean refused;

    /**
     * @return bytes written direct by this JVM so far (every clone together): for tests and diagnostics.
     */
    static long bytesWritten()
    {
        return WRITTEN.get();
    }

    static void onWritten(final long bytes)
    {
        WRITTEN.addAndGet(bytes);
    }

    /**
     * @return a channel opened with O_DIRECT on {@code path}, or null when direct writes do not apply to it or the
     *     file system refuses them.
     */
    FileChannel open(final Path path, final long fileSize)
    {
        if (!ENABLED || refused || fileSize < MIN_FILE_BYTES)
        {
            return null;
        }
        try
        {
            return FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS,
                ExtendedOpenOption.DIRECT);
        }
        catch (final UnsupportedOperationException ex)
        {
            refused = true;
            return null;
        }
        catch (final IOException ex)
        {
            // EINVAL: this file system does not do O_DIRECT (remembered); anything else (no space, a permission) is
            // for the ordinary open that follows to report
            if (String.valueOf(ex.getMessage()).contains("Invalid argument"))
            {
                refused = true;
            }
            return null;
        }
    }

    /**
     * A direct write was refused after the open succeeded: write everything through the page cache from now on.
     */
    void refuse()
    {
        refused = true;
    }

    /**
     * @return the length of the prefix of {@code count} bytes at file offset {@code position} and address
     *     {@code address} that can go direct (0 when the start is not aligned).
     */
    static int directPrefix(final long position, final long address, final int count)
    {
        if ((position & (ALIGN - 1)) != 0 || (address & (ALIGN - 1)) != 0)
        {
            return 0;
        }
        return count & ~(ALIGN - 1);
    }

    /**
     * @return a direct buffer of {@code capacity} bytes whose address is a multiple of {@link #ALIGN}.
     */
    static ByteBuffer allocateAligned(final int capacity)
    {
        // alignedSlice moves the start up to the next aligned address and rounds the capacity down to the alignment
        final int rounded = (capacity + ALIGN - 1) & ~(ALIGN - 1);
        // untouched: the pool's buffers are faulted in only as far as blocks fill them (NativeFs.untouchedBuffer)
        return NativeFs.instance().untouchedBuffer(rounded + ALIGN).alignedSlice(ALIGN).limit(capacity).slice();
    }
}
