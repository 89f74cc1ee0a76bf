package dev.ferry.engine.fs;

import java.io.IOException;

/**
 * Walks the data extents of one regular file at a time, in offset order; the gaps between them (and after the last
 * one, up to {@link #size()}) are holes that read as zeros and need not be sent or written.
 * <pre>{@code
 * try (DataExtentCursor extents = fs.newDataExtentCursor()) {
 *     extents.open(cPath);                   // may be called again for the next file
 *     while (extents.next()) {
 *         send(extents.offset(), extents.length());
 *     }
 * }
 * }</pre>
 * The native cursor opens the file by raw path with {@code O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK|O_NOCTTY},
 * checks with {@code statx} that it is a regular file, and asks {@code lseek(SEEK_DATA)} / {@code lseek(SEEK_HOLE)}
 * for each extent: two system calls and no allocation per extent. The file system decides the granularity (ext4:
 * 4 KiB blocks; a file system without hole support reports one extent). The fallback cursor reports one extent
 * covering the whole file.
 * <p>
 * Extents are clipped to the size the file had when {@link #open} ran, so a file that grows meanwhile does not
 * make the walk run past the size the caller announced; a file that shrinks ends the walk early.
 * <p>
 * Not thread-safe: one owning thread at a time. {@link #close()} releases the file descriptor.
 */
public abstract class DataExtentCursor implements AutoCloseable
{
    /** Start of the current extent. */
    protected long offset;
    /** Length of the current extent, at least 1 while {@link #next()} last returned true. */
    protected long length;
    /** File size at {@link #open}. */
    protected long size;

    /**
     * Open the regular file at {@code cPath} (a symlink is not followed), closing the previous one.
     *
     * @throws IOException if it cannot be opened or is not a regular file.
     */
    public abstract void open(byte[] cPath) throws IOException;

    /**
     * Move to the next data extent.
     *
     * @return false when no data follows the current position (the rest up to {@link #size()} is a hole).
     * @throws IOException if the file system reports an error; the cursor is then at its end.
     */
    public abstract boolean next() throws IOException;

    /** Release the open file, if any; the cursor may be opened again. */
    @Override
    public abstract void close();

    /** Start of the current data extent, in bytes. */
    public final long offset()
    {
        return offset;
    }

    /** Length of the current data extent, in bytes. */
    public final long length()
    {
        return length;
    }

    /** Size of the open file when it was opened. */
    public final long size()
    {
        return size;
    }
}
