package dev.ferry.engine.fs;

import com.sun.jna.Native;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link NativeFs} on Linux libc through JNA ({@link LibC}). Size-then-fetch for xattr lists and values, retried a
 * few times when the attribute grows between the two calls (ERANGE). Thread-safe: no mutable state.
 */
final class JnaFs extends NativeFs
{
    private static final int OPEN_FLAGS =
        LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC | LibC.O_NONBLOCK | LibC.O_NOCTTY;
    private static final int WRITE_FLAGS =
        LibC.O_WRONLY | LibC.O_CREAT | LibC.O_NOFOLLOW | LibC.O_CLOEXEC | LibC.O_NOCTTY;
    private static final int EINTR = 4;
    private static final int XATTR_RETRIES = 4;
    private static final byte[] EMPTY_PATH = { 0 };

    private final boolean mknodBound;
    private final String description;

    private JnaFs(final boolean mknodBound)
    {
        this.mknodBound = mknodBound;
        this.description = "native (JNA " + Native.VERSION + ", libc" + (mknodBound ? "" : ", no mknod symbol") + ")";
    }

    /**
     * Bind libc and check that a call works.
     *
     * @throws LinkageError if JNA or libc cannot be loaded.
     */
    @Override
    public java.nio.ByteBuffer untouchedBuffer(final int capacity)
    {
        // JNA frees the memory when the Memory is unreachable, and holds the Memory while this buffer is reachable;
        // a slice or duplicate keeps its parent buffer, so the memory outlives every view of it
        return new com.sun.jna.Memory(Math.max(1, capacity)).getByteBuffer(0, capacity)
            .order(java.nio.ByteOrder.BIG_ENDIAN);
    }

    static JnaFs load()
    {
        final byte[] root = { '/', 0 };
        final int fd = LibC.open(root, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IllegalStateException("open(\"/\") failed: " + Errno.name(Native.getLastError()));
        }
        LibC.close(fd);
        boolean mknod;
        try
        {
            Class.forName(LibC.Mknod.class.getName(), true, JnaFs.class.getClassLoader());
            mknod = true;
        }
        catch (final ClassNotFoundException | LinkageError ex)
        {
            mknod = false;
        }
        return new JnaFs(mknod);
    }

    @Override
    public boolean isNative()
    {
        return true;
    }

    @Override
    public String description()
    {
        return description;
    }

    @Override
    public boolean syncfs(final Path anyPathOnTheFs) throws IOException
    {
        final byte[] cPath = PathBytes.cPath(anyPathOnTheFs);
        final int fd = openOrThrow(cPath, "open for syncfs");
        try
        {
            if (LibC.syncfs(fd) != 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ENOSYS)
                {
                    return false;
                }
                throw Errno.exception(errno, "syncfs", cPath);
            }
            return true;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    @Override
    public EntryStat stat(final byte[] cPath) throws IOException
    {
        PathBytes.checkCPath(cPath);
        final byte[] b = new byte[LibC.STATX_BUFFER_BYTES];
        if (LibC.statx(LibC.AT_FDCWD, cPath, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_BASIC_STATS, b) != 0)
        {
            final int errno = Native.getLastError();
            if (errno == Errno.ENOSYS)
            {
                return EntryStat.read(PathBytes.fromCPath(cPath)); // kernel before 4.11
            }
            throw Errno.exception(errno, "statx", cPath);
        }
        final int mask = (int)LibC.INT.get(b, LibC.STATX_MASK_OFFSET);
        final int needed = LibC.STATX_TYPE | LibC.STATX_MODE | LibC.STATX_NLINK | LibC.STATX_UID | LibC.STATX_GID |
            LibC.STATX_INO | LibC.STATX_SIZE | LibC.STATX_MTIME | LibC.STATX_CTIME;
        if ((mask & needed) != needed)
        {
            return EntryStat.read(PathBytes.fromCPath(cPath)); // a file system that cannot fill the basic fields
        }
        return new EntryStat(
            EntryStat.makedev((int)LibC.INT.get(b, LibC.STATX_DEV_MAJOR_OFFSET), (int)LibC.INT.get(b, LibC.STATX_DEV_MINOR_OFFSET)),
            (long)LibC.LONG.get(b, LibC.STATX_INO_OFFSET),
            (short)LibC.SHORT.get(b, LibC.STATX_MODE_OFFSET) & 0xffff,
            (int)LibC.INT.get(b, LibC.STATX_NLINK_OFFSET),
            (int)LibC.INT.get(b, LibC.STATX_UID_OFFSET),
            (int)LibC.INT.get(b, LibC.STATX_GID_OFFSET),
            EntryStat.makedev((int)LibC.INT.get(b, LibC.STATX_RDEV_MAJOR_OFFSET), (int)LibC.INT.get(b, LibC.STATX_RDEV_MINOR_OFFSET)),
            (long)LibC.LONG.get(b, LibC.STATX_SIZE_OFFSET),
            timestamp(b, LibC.STATX_MTIME_OFFSET),
            timestamp(b, LibC.STATX_CTIME_OFFSET),
            (mask & LibC.STATX_BLOCKS) != 0 ? (long)LibC.LONG.get(b, LibC.STATX_BLOCKS_OFFSET) : EntryStat.BLOCKS_UNKNOWN);
    }

    @Override
    public void setLength(final byte[] cPath, final long length) throws IOException
    {
        PathBytes.checkCPath(cPath);
        if (length < 0)
        {
            throw new IllegalArgumentException("negative length " + length);
        }
        final int fd = LibC.open(cPath, LibC.O_WRONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC | LibC.O_NONBLOCK | LibC.O_NOCTTY, 0);
        if (fd < 0)
        {
            throw Errno.exception(Native.getLastError(), "open for ftruncate", cPath);
        }
        try
        {
            if (LibC.ftruncate(fd, length) != 0)
            {
                throw Errno.exception(Native.getLastError(), "ftruncate", cPath);
            }
        }
        finally
        {
            LibC.close(fd);
        }
    }

    private static long timestamp(final byte[] statx, final int offset)
    {
        final long seconds = (long)LibC.LONG.get(statx, offset);
        final long nanos = (int)LibC.INT.get(statx, offset + LibC.TIMESTAMP_NSEC_OFFSET) & 0xffffffffL;
        return seconds * 1_000_000_000L + nanos;
    }

    @Override
    public DataExtentCursor newDataExtentCursor()
    {
        return new NativeExtentCursor();
    }

    @Override
    public boolean mkfifo(final byte[] cPath, final int mode) throws IOException
    {
        PathBytes.checkCPath(cPath);
        if (LibC.mkfifo(cPath, mode & EntryStat.PERMISSION_MASK) != 0)
        {
            throw Errno.exception(Native.getLastError(), "mkfifo", cPath);
        }
        return true;
    }

    @Override
    public boolean mknod(final byte[] cPath, final int mode, final long rdev) throws IOException
    {
        PathBytes.checkCPath(cPath);
        if (!mknodBound)
        {
            return false;
        }
        if (LibC.Mknod.mknod(cPath, mode, rdev) != 0)
        {
            throw Errno.exception(Native.getLastError(), "mknod", cPath);
        }
        return true;
    }

    @Override
    public void symlink(final byte[] target, final byte[] cPath) throws IOException
    {
        PathBytes.checkCPath(cPath);
        checkLinkTarget(target);
        if (LibC.symlink(terminated(target), cPath) != 0)
        {
            throw Errno.exception(Native.getLastError(), "symlink", cPath);
        }
    }

    @Override
    public byte[] readlink(final byte[] cPath) throws IOException
    {
        PathBytes.checkCPath(cPath);
        // a target is at most PATH_MAX - 1 bytes on Linux; a full buffer may mean truncation, so grow and ask again
        for (int size = PathBytes.MAX_PATH_BYTES + 2; ; size *= 2)
        {
            final byte[] buf = new byte[size];
            final long got = LibC.readlink(cPath, buf, size);
            if (got < 0)
            {
                throw Errno.exception(Native.getLastError(), "readlink", cPath);
            }
            if (got < size)
            {
                return Arrays.copyOf(buf, (int)got);
            }
            if (size > (1 << 20))
            {
                throw Errno.exception(Errno.ENAMETOOLONG, "readlink", cPath);
            }
        }
    }

    @Override
    public List<byte[]> listXattrs(final byte[] cPath) throws IOException
    {
        PathBytes.checkCPath(cPath);
        for (int attempt = 0; attempt < XATTR_RETRIES; attempt++)
        {
            final long needed = LibC.llistxattr(cPath, null, 0);
            if (needed < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.EOPNOTSUPP)
                {
                    return List.of(); // the file system has no xattrs
                }
                throw Errno.exception(errno, "llistxattr", cPath);
            }
            if (needed == 0)
            {
                return List.of();
            }
            if (needed > MAX_XATTR_LIST_BYTES)
            {
                throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null,
                    "xattr name list of " + needed + " bytes exceeds " + MAX_XATTR_LIST_BYTES);
            }
            final byte[] list = new byte[(int)needed];
            final long got = LibC.llistxattr(cPath, list, list.length);
            if (got < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ERANGE)
                {
                    continue; // a name was added between the two calls
                }
                throw Errno.exception(errno, "llistxattr", cPath);
            }
            return split(list, (int)got);
        }
        throw Errno.exception(Errno.ERANGE, "llistxattr (list kept growing)", cPath);
    }

    @Override
    public byte[] getXattr(final byte[] cPath, final byte[] name) throws IOException
    {
        PathBytes.checkCPath(cPath);
        checkXattrName(name);
        final byte[] cName = terminated(name);
        for (int attempt = 0; attempt < XATTR_RETRIES; attempt++)
        {
            final long needed = LibC.lgetxattr(cPath, cName, null, 0);
            if (needed < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ENODATA || errno == Errno.EOPNOTSUPP)
                {
                    return null;
                }
                throw Errno.exception(errno, "lgetxattr " + PathBytes.display(name), cPath);
            }
            if (needed > MAX_XATTR_VALUE_BYTES)
            {
                throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null,
                    "xattr " + PathBytes.display(name) + " of " + needed + " bytes exceeds " + MAX_XATTR_VALUE_BYTES);
            }
            if (needed == 0)
            {
                return new byte[0];
            }
            final byte[] value = new byte[(int)needed];
            final long got = LibC.lgetxattr(cPath, cName, value, value.length);
            if (got < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ERANGE)
                {
                    continue; // the value grew between the two calls
                }
                if (errno == Errno.ENODATA)
                {
                    return null;
                }
                throw Errno.exception(errno, "lgetxattr " + PathBytes.display(name), cPath);
            }
            return got == value.length ? value : Arrays.copyOf(value, (int)got);
        }
        throw Errno.exception(Errno.ERANGE, "lgetxattr (value kept growing)", cPath);
    }

    @Override
    public boolean setXattr(final byte[] cPath, final byte[] name, final byte[] value) throws IOException
    {
        PathBytes.checkCPath(cPath);
        checkXattrName(name);
        checkXattrValue(value);
        if (LibC.lsetxattr(cPath, terminated(name), value, value.length, 0) != 0)
        {
            throw Errno.exception(Native.getLastError(), "lsetxattr " + PathBytes.display(name), cPath);
        }
        return true;
    }

    @Override
    public boolean removeXattr(final byte[] cPath, final byte[] name) throws IOException
    {
        PathBytes.checkCPath(cPath);
        checkXattrName(name);
        if (LibC.lremovexattr(cPath, terminated(name)) != 0)
        {
            final int errno = Native.getLastError();
            if (errno == Errno.ENODATA)
            {
                return false;
            }
            throw Errno.exception(errno, "lremovexattr " + PathBytes.display(name), cPath);
        }
        return true;
    }

    @Override
    public void setTimes(final byte[] cPath, final long atimeNanos, final long mtimeNanos) throws IOException
    {
        PathBytes.checkCPath(cPath);
        final long[] times = new long[4];
        timespec(times, 0, atimeNanos);
        timespec(times, 2, mtimeNanos);
        if (LibC.utimensat(LibC.AT_FDCWD, cPath, times, LibC.AT_SYMLINK_NOFOLLOW) != 0)
        {
            throw Errno.exception(Native.getLastError(), "utimensat", cPath);
        }
    }

    @Override
    public boolean writeWholeFile(final byte[] cPath, final long address, final int length, final long mtimeNanos)
        throws IOException
    {
        PathBytes.checkCPath(cPath);
        final int fd = LibC.open(cPath, WRITE_FLAGS, 0666);
        if (fd < 0)
        {
            throw Errno.exception(Native.getLastError(), "open", cPath);
        }
        boolean closed = false;
        try
        {
            long done = 0;
            while (done < length)
            {
                final long n = LibC.pwrite(fd, new com.sun.jna.Pointer(address + done), length - done, done);
                if (n < 0)
                {
                    final int errno = Native.getLastError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    throw Errno.exception(errno, "pwrite", cPath);
                }
                if (n == 0)
                {
                    throw new IOException(PathBytes.display(cPath, 0, cPath.length - 1) + ": pwrite wrote nothing");
                }
                done += n;
            }
            final long[] times = new long[4];
            timespec(times, 0, TIME_OMIT);
            timespec(times, 2, mtimeNanos);
            if (LibC.futimens(fd, times) != 0)
            {
                throw Errno.exception(Native.getLastError(), "futimens", cPath);
            }
            closed = true;
            if (LibC.close(fd) != 0)
            {
                throw Errno.exception(Native.getLastError(), "close", cPath); // a late write error (NFS, say)
            }
        }
        finally
        {
            if (!closed)
            {
                LibC.close(fd);
            }
        }
        return true;
    }

    @Override
    public int readWholeFile(final byte[] cPath, final long address, final int capacity, final long[] stat)
        throws IOException
    {
        PathBytes.checkCPath(cPath);
        final int fd = LibC.open(cPath, OPEN_FLAGS, 0); // O_NONBLOCK: a FIFO in its place does not block
        if (fd < 0)
        {
            throw Errno.exception(Native.getLastError(), "open", cPath);
        }
        try
        {
            int done = 0;
            int readErrno = 0;
            while (done < capacity)
            {
                final long n = LibC.pread(fd, new com.sun.jna.Pointer(address + done), capacity - done, done);
                if (n < 0)
                {
                    readErrno = Native.getLastError();
                    if (readErrno == EINTR)
                    {
                        readErrno = 0;
                        continue;
                    }
                    break; // thrown below, unless what was opened is no longer a regular file (a FIFO: ESPIPE)
                }
                if (n == 0)
                {
                    break; // its end
                }
                done += (int)n;
            }
            final byte[] b = new byte[LibC.STATX_BUFFER_BYTES];
            if (LibC.statx(fd, EMPTY_PATH, LibC.AT_EMPTY_PATH, LibC.STATX_TYPE | LibC.STATX_SIZE | LibC.STATX_MTIME, b) != 0)
            {
                throw Errno.exception(Native.getLastError(), "statx", cPath);
            }
            final int mask = (int)LibC.INT.get(b, LibC.STATX_MASK_OFFSET);
            if ((mask & (LibC.STATX_TYPE | LibC.STATX_SIZE | LibC.STATX_MTIME)) !=
                (LibC.STATX_TYPE | LibC.STATX_SIZE | LibC.STATX_MTIME))
            {
                throw new IOException(PathBytes.display(cPath, 0, cPath.length - 1) +
                    ": statx gave no type, size or modification time");
            }
            stat[READ_SIZE] = (long)LibC.LONG.get(b, LibC.STATX_SIZE_OFFSET);
            stat[READ_MTIME] = timestamp(b, LibC.STATX_MTIME_OFFSET);
            stat[READ_TYPE] = (short)LibC.SHORT.get(b, LibC.STATX_MODE_OFFSET) & EntryStat.S_IFMT;
            if (readErrno != 0 && stat[READ_TYPE] == EntryStat.S_IFREG)
            {
                throw Errno.exception(readErrno, "pread", cPath);
            }
            return done;
        }
        finally
        {
            LibC.close(fd); // read-only: a close error loses nothing
        }
    }

    private static void timespec(final long[] times, final int index, final long nanos)
    {
        if (nanos == TIME_OMIT)
        {
            times[index] = 0;
            times[index + 1] = LibC.UTIME_OMIT;
        }
        else
        {
            times[index] = Math.floorDiv(nanos, 1_000_000_000L);
            times[index + 1] = Math.floorMod(nanos, 1_000_000_000L);
        }
    }

    private static int openOrThrow(final byte[] cPath, final String operation) throws IOException
    {
        PathBytes.checkCPath(cPath);
        final int fd = LibC.open(cPath, OPEN_FLAGS, 0);
        if (fd < 0)
        {
            throw Errno.exception(Native.getLastError(), operation, cPath);
        }
        return fd;
    }

    private static byte[] terminated(final byte[] name)
    {
        final byte[] c = Arrays.copyOf(name, name.length + 1);
        c[name.length] = 0;
        return c;
    }

    private static List<byte[]> split(final byte[] list, final int length)
    {
        final List<byte[]> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < length; i++)
        {
            if (list[i] == 0)
            {
                if (i > start)
                {
                    names.add(Arrays.copyOfRange(list, start, i));
                }
                start = i + 1;
            }
        }
        return names;
    }

    /**
     * SEEK_DATA/SEEK_HOLE over a file opened by raw path. One statx buffer per cursor; nothing allocated per file or
     * extent (JNA copies the buffer to native memory and back for the call). Owned by one thread.
     */
    private static final class NativeExtentCursor extends DataExtentCursor
    {
        private final byte[] statx = new byte[LibC.STATX_BUFFER_BYTES];
        private byte[] cPath;
        private int fd = -1;
        private long position;
        private boolean seekUnsupported;

        @Override
        public void open(final byte[] cPath) throws IOException
        {
            close();
            final int newFd = openOrThrow(cPath, "open for extents");
            if (LibC.statx(newFd, EMPTY_PATH, LibC.AT_EMPTY_PATH, LibC.STATX_TYPE | LibC.STATX_SIZE, statx) != 0)
            {
                final int errno = Native.getLastError();
                LibC.close(newFd);
                throw Errno.exception(errno, "statx", cPath);
            }
            final int mask = (int)LibC.INT.get(statx, LibC.STATX_MASK_OFFSET);
            final int mode = (short)LibC.SHORT.get(statx, LibC.STATX_MODE_OFFSET) & 0xffff;
            if ((mask & LibC.STATX_TYPE) == 0 || (mode & EntryStat.S_IFMT) != EntryStat.S_IFREG)
            {
                LibC.close(newFd);
                throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null,
                    "not a regular file (mode 0" + Integer.toOctalString(mode) + ")");
            }
            this.fd = newFd;
            this.cPath = cPath;
            this.size = (long)LibC.LONG.get(statx, LibC.STATX_SIZE_OFFSET);
            this.position = 0;
            this.offset = 0;
            this.length = 0;
            this.seekUnsupported = false;
        }

        @Override
        public boolean next() throws IOException
        {
            if (fd < 0 || position >= size)
            {
                return end();
            }
            if (seekUnsupported)
            {
                return extent(position, size);
            }
            final long data = LibC.lseek(fd, position, LibC.SEEK_DATA);
            if (data < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ENXIO)
                {
                    return end(); // only a hole (or EOF, if the file shrank) from position on
                }
                if (errno == Errno.EINVAL || errno == Errno.EOPNOTSUPP)
                {
                    seekUnsupported = true; // old kernel or file system: everything is data
                    return extent(position, size);
                }
                end();
                throw Errno.exception(errno, "lseek SEEK_DATA", cPath);
            }
            if (data >= size)
            {
                return end();
            }
            final long hole = LibC.lseek(fd, data, LibC.SEEK_HOLE);
            if (hole < 0)
            {
                final int errno = Native.getLastError();
                if (errno == Errno.ENXIO)
                {
                    return end(); // the file shrank below data between the two calls
                }
                end();
                throw Errno.exception(errno, "lseek SEEK_HOLE", cPath);
            }
            if (hole <= data)
            {
                return end(); // no progress: never loop on a file system that misreports
            }
            return extent(data, Math.min(hole, size));
        }

        @Override
        public void close()
        {
            if (fd >= 0)
            {
                LibC.close(fd);
                fd = -1;
            }
        }

        private boolean extent(final long start, final long end)
        {
            offset = start;
            length = end - start;
            position = end;
            return true;
        }

        private boolean end()
        {
            position = size;
            length = 0;
            return false;
        }
    }
}
