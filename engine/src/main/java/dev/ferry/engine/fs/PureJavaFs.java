package dev.ferry.engine.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@link NativeFs} with only the JDK: no syncfs, no special files, the whole file as one extent, xattrs of the
 * {@code user.} namespace through {@link UserDefinedFileAttributeView}, times through {@link BasicFileAttributeView},
 * {@link EntryStat#read} without {@code st_blocks}, and a length set by truncating or, to extend, by writing one zero
 * byte at the end (which allocates the last block: the JDK cannot extend a file by {@code Path} otherwise, and
 * {@code RandomAccessFile} takes a {@code File}, whose String loses non-UTF-8 names).
 * <p>
 * The JDK's xattr view opens the file ({@code O_NOFOLLOW} when asked not to follow links, which then fails with
 * ELOOP on a symlink). Opening a FIFO for reading would block, and Linux allows {@code user.*} only on regular files
 * and directories anyway, so this class looks at the entry's type first and treats anything else as having no
 * xattrs. The view also turns names into Strings with {@code sun.jnu.encoding}; a name that does not survive that
 * exactly ({@link PathBytes}'s rule) is left out rather than mangled.
 * <p>
 * Times go through {@link BasicFileAttributeView#setTimes}, which in JDK 17 on Linux keeps only microseconds on a
 * symlink (lutimes), must open a regular file for reading (so it fails on a mode-000 file for its non-root owner), and
 * writes a time before 1970 that has a fraction of a second as the epoch itself. NativeFsTest pins all three.
 * <p>
 * Thread-safe: no mutable state.
 */
final class PureJavaFs extends NativeFs
{
    static final PureJavaFs INSTANCE = new PureJavaFs("asked for");

    private static final String NOT_SUPPORTED = "Operation not supported";

    private final String description;

    PureJavaFs(final String why)
    {
        this.description = "pure Java (" + why + "): no syncfs, holes, FIFOs, device nodes or non-user xattrs";
    }

    @Override
    public boolean isNative()
    {
        return false;
    }

    @Override
    public String description()
    {
        return description;
    }

    @Override
    public boolean syncfs(final Path anyPathOnTheFs)
    {
        return false;
    }

    @Override
    public EntryStat stat(final byte[] cPath) throws IOException
    {
        return EntryStat.read(PathBytes.fromCPath(cPath));
    }

    @Override
    public void setLength(final byte[] cPath, final long length) throws IOException
    {
        if (length < 0)
        {
            throw new IllegalArgumentException("negative length " + length);
        }
        final Path path = PathBytes.fromCPath(cPath);
        if (Files.isSymbolicLink(path))
        {
            // the open below refuses one too (O_NOFOLLOW), but with a plain IOException; say it as JnaFs does
            throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null,
                "open for ftruncate: " + Errno.name(Errno.ELOOP));
        }
        try (FileChannel ch = FileChannel.open(path, Set.of(StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)))
        {
            final long size = ch.size();
            if (length < size)
            {
                ch.truncate(length);
            }
            else if (length > size)
            {
                ch.write(ByteBuffer.allocate(1), length - 1); // FileChannel cannot extend without writing
            }
        }
    }

    @Override
    public DataExtentCursor newDataExtentCursor()
    {
        return new WholeFileCursor();
    }

    @Override
    public void symlink(final byte[] target, final byte[] cPath) throws IOException
    {
        checkLinkTarget(target);
        Files.createSymbolicLink(PathBytes.fromCPath(cPath), PathBytes.linkTarget(target));
    }

    @Override
    public byte[] readlink(final byte[] cPath) throws IOException
    {
        return PathBytes.of(Files.readSymbolicLink(PathBytes.fromCPath(cPath)));
    }

    @Override
    public boolean mkfifo(final byte[] cPath, final int mode)
    {
        PathBytes.checkCPath(cPath);
        return false;
    }

    @Override
    public boolean mknod(final byte[] cPath, final int mode, final long rdev)
    {
        PathBytes.checkCPath(cPath);
        return false;
    }

    @Override
    public List<byte[]> listXattrs(final byte[] cPath) throws IOException
    {
        final UserDefinedFileAttributeView view = userView(PathBytes.fromCPath(cPath));
        if (view == null)
        {
            return List.of();
        }
        final List<String> names;
        try
        {
            names = view.list();
        }
        catch (final FileSystemException ex)
        {
            if (notSupported(ex))
            {
                return List.of();
            }
            throw ex;
        }
        final List<byte[]> out = new ArrayList<>(names.size());
        for (final String name : names)
        {
            final byte[] bytes = PathBytes.exactBytes(USER_NAMESPACE + name);
            if (bytes != null && bytes.length <= MAX_XATTR_NAME_BYTES)
            {
                out.add(bytes);
            }
        }
        return out;
    }

    @Override
    public byte[] getXattr(final byte[] cPath, final byte[] name) throws IOException
    {
        checkXattrName(name);
        final String userName = userName(name);
        if (userName == null)
        {
            return null;
        }
        final UserDefinedFileAttributeView view = userView(PathBytes.fromCPath(cPath));
        if (view == null)
        {
            return null;
        }
        try
        {
            if (!view.list().contains(userName))
            {
                return null;
            }
            final int size = view.size(userName);
            if (size > MAX_XATTR_VALUE_BYTES)
            {
                throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null,
                    "xattr " + PathBytes.display(name) + " of " + size + " bytes exceeds " + MAX_XATTR_VALUE_BYTES);
            }
            final ByteBuffer value = ByteBuffer.allocate(size);
            view.read(userName, value);
            return value.position() == size ? value.array() : java.util.Arrays.copyOf(value.array(), value.position());
        }
        catch (final FileSystemException ex)
        {
            if (notSupported(ex))
            {
                return null;
            }
            throw ex;
        }
    }

    @Override
    public boolean setXattr(final byte[] cPath, final byte[] name, final byte[] value) throws IOException
    {
        checkXattrName(name);
        checkXattrValue(value);
        final String userName = userName(name);
        if (userName == null)
        {
            return false;
        }
        final UserDefinedFileAttributeView view = userView(PathBytes.fromCPath(cPath));
        if (view == null)
        {
            return false;
        }
        view.write(userName, ByteBuffer.wrap(value));
        return true;
    }

    @Override
    public boolean removeXattr(final byte[] cPath, final byte[] name) throws IOException
    {
        checkXattrName(name);
        final String userName = userName(name);
        if (userName == null)
        {
            return false;
        }
        final UserDefinedFileAttributeView view = userView(PathBytes.fromCPath(cPath));
        if (view == null || !view.list().contains(userName))
        {
            return false;
        }
        view.delete(userName);
        return true;
    }

    @Override
    public void setTimes(final byte[] cPath, final long atimeNanos, final long mtimeNanos) throws IOException
    {
        final Path path = PathBytes.fromCPath(cPath);
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setTimes(fileTime(mtimeNanos), fileTime(atimeNanos), null);
    }

    private static FileTime fileTime(final long nanos)
    {
        if (nanos == TIME_OMIT)
        {
            return null;
        }
        return FileTime.from(Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L)));
    }

    /** The view for a regular file or directory; null for any other type, which cannot have user xattrs. */
    private static UserDefinedFileAttributeView userView(final Path path) throws IOException
    {
        final BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile() && !attrs.isDirectory())
        {
            return null;
        }
        return Files.getFileAttributeView(path, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
    }

    /** The name without "user." if it is in that namespace and the JDK can carry it exactly, else null. */
    private static String userName(final byte[] name)
    {
        final int prefix = USER_NAMESPACE.length();
        if (name.length <= prefix)
        {
            return null;
        }
        for (int i = 0; i < prefix; i++)
        {
            if (name[i] != USER_NAMESPACE.charAt(i))
            {
                return null;
            }
        }
        return PathBytes.exactString(name, prefix, name.length - prefix);
    }

    private static boolean notSupported(final FileSystemException ex)
    {
        final String reason = ex.getReason();
        return reason != null && reason.contains(NOT_SUPPORTED);
    }

    /** One extent: the whole file. Owned by one thread. */
    private static final class WholeFileCursor extends DataExtentCursor
    {
        private boolean pending;

        @Override
        public void open(final byte[] cPath) throws IOException
        {
            pending = false;
            final BasicFileAttributes attrs =
                Files.readAttributes(PathBytes.fromCPath(cPath), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile())
            {
                throw new FileSystemException(PathBytes.display(cPath, 0, cPath.length - 1), null, "not a regular file");
            }
            size = attrs.size();
            offset = 0;
            length = 0;
            pending = size > 0;
        }

        @Override
        public boolean next()
        {
            if (!pending)
            {
                length = 0;
                return false;
            }
            pending = false;
            offset = 0;
            length = size;
            return true;
        }

        @Override
        public void close()
        {
            pending = false;
        }
    }
}
