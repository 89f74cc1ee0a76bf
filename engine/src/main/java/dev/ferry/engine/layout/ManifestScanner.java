package dev.ferry.engine.layout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;

/**
 * Walks a donor root without following symlinks and builds a {@link Manifest}: the root directory itself first
 * (entry 0, empty path), then pre-order, children sorted by their raw name bytes, so parents always come before their
 * children and two scans of an unchanged tree agree.
 * <p>
 * Names and symlink targets are kept as the raw bytes the file system stores ({@link PathBytes}), never through a
 * String, so any Linux name works under any locale. Every entry records its lstat (owner, full mode, mtime, device
 * number) and its xattrs ({@link NativeFs}); regular files that share (dev, ino) become one regular entry and
 * {@link DescriptorFlyweight#FILE_HARDLINK} entries that point at it, so their bytes are sent once. Sockets cannot be
 * recreated and are skipped, each named in {@link Manifest#warnings()}. Not thread-safe.
 */
public final class ManifestScanner
{
    /** The recipient keeps its incomplete-clone state under this top-level name, so a donor may not ship it. */
    public static final String STATE_DIR = ".ferry";
    /**
     * A file changed this recently before the scan read its times may be written again within the same timestamp
     * tick, leaving its mtime as it was (timestamps come from the kernel's coarse clock: a few milliseconds on
     * ext4, XFS, btrfs and tmpfs). Such files are flagged {@code RECENT}. Setting {@code ferry.racy.ms}; raise it
     * for file systems with coarse timestamps (2000 for FAT, 1000 for ext3).
     */
    public static final long RACY_WINDOW_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(
        Long.getLong("ferry.racy.ms", 50));

    private static long wallNanos()
    {
        final java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    private static final byte[] STATE_DIR_BYTES = Wire.utf8(STATE_DIR);
    private static final byte[] NONE = new byte[0];

    private final NativeFs fs;
    private final Manifest.Builder entries = new Manifest.Builder();
    private final List<String> warnings = new ArrayList<>();
    private final Map<Inode, Integer> firstLink = new HashMap<>();
    private final ByteArrayOutputStream xattrOut = new ByteArrayOutputStream();
    private int skipped;

    private record Inode(long dev, long ino)
    {
    }

    private ManifestScanner(final NativeFs fs)
    {
        this.fs = fs;
    }

    /**
     * @param root the directory to snapshot.
     * @return its manifest.
     * @throws FerryException if the root is not a directory or cannot be read.
     */
    public static Manifest scan(final Path root)
    {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS))
        {
            throw new FerryException(ErrorCode.IO_ERROR, "donor root " + root + " is not a directory");
        }
        final ManifestScanner scanner = new ManifestScanner(NativeFs.instance());
        try
        {
            scanner.add(root, NONE);
            scanner.walk(root, NONE);
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot scan " + root + ": " + ex, ex);
        }
        return scanner.entries.build(scanner.skipped, scanner.warnings);
    }

    private void walk(final Path dir, final byte[] prefix) throws IOException
    {
        final List<Path> children = new ArrayList<>();
        final List<byte[]> names = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir))
        {
            for (final Path child : stream)
            {
                children.add(child);
                names.add(PathBytes.fileName(child));
            }
        }
        catch (final java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException ex)
        {
            if (prefix.length == 0)
            {
                throw ex;
            }
            return; // removed or replaced since it was listed (a live dataset): the next pass sees what it became
        }
        final Integer[] order = new Integer[children.size()];
        for (int i = 0; i < order.length; i++)
        {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(names.get(a), names.get(b)));
        for (final int i : order)
        {
            final byte[] name = names.get(i);
            if (prefix.length == 0 && Arrays.equals(name, STATE_DIR_BYTES))
            {
                skipped++;
                continue;
            }
            final byte[] rel = prefix.length == 0 ? name : join(prefix, name);
            if (rel.length > PathBytes.MAX_PATH_BYTES)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "path longer than " + PathBytes.MAX_PATH_BYTES +
                    " bytes: " + PathBytes.display(rel));
            }
            final Path child = children.get(i);
            if (addIfThere(child, rel))
            {
                walk(child, rel);
            }
        }
    }

    /**
     * @return true if {@code path} is a directory to walk into.
     */
    /**
     * {@link #add}, for an entry a live dataset may have removed since its directory was listed: then it is simply
     * not in this snapshot.
     */
    private boolean addIfThere(final Path path, final byte[] rel) throws IOException
    {
        try
        {
            return add(path, rel);
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            return false;
        }
    }

    private boolean add(final Path path, final byte[] rel) throws IOException
    {
        final byte[] cPath = PathBytes.cPath(path);
        final EntryStat st = fs.stat(cPath);
        final int index = entries.size();
        final int mode = st.permissions();
        int type;
        long size = 0;
        long rdev = 0;
        int flags = 0;
        int link = DescriptorFlyweight.NO_LINK;
        byte[] target = NONE;
        switch (st.type())
        {
            case EntryStat.S_IFDIR:
                type = DescriptorFlyweight.FILE_DIRECTORY;
                break;
            case EntryStat.S_IFLNK:
                type = DescriptorFlyweight.FILE_SYMLINK;
                target = fs.readlink(cPath); // exact bytes: "a//b/" stays as it is
                break;
            case EntryStat.S_IFREG:
                type = DescriptorFlyweight.FILE_REGULAR;
                size = st.size();
                if (st.mayBeSparse() && st.size() > 0)
                {
                    flags = DescriptorFlyweight.FILE_FLAG_SPARSE;
                }
                if (Math.max(st.mtimeNanos(), st.ctimeNanos()) >= wallNanos() - RACY_WINDOW_NANOS)
                {
                    flags |= DescriptorFlyweight.FILE_FLAG_RECENT; // a write now may not move its mtime
                }
                if (st.nlink() > 1)
                {
                    final Integer first = firstLink.putIfAbsent(new Inode(st.dev(), st.ino()), index);
                    if (first != null)
                    {
                        type = DescriptorFlyweight.FILE_HARDLINK;
                        size = 0;
                        flags = 0;
                        link = first;
                    }
                }
                break;
            case EntryStat.S_IFIFO:
                type = DescriptorFlyweight.FILE_FIFO;
                break;
            case EntryStat.S_IFCHR:
                type = DescriptorFlyweight.FILE_CHAR_DEVICE;
                rdev = st.rdev();
                break;
            case EntryStat.S_IFBLK:
                type = DescriptorFlyweight.FILE_BLOCK_DEVICE;
                rdev = st.rdev();
                break;
            default:
                skipped++;
                warnings.add("skipped socket '" + PathBytes.display(rel) + "': a socket cannot be cloned");
                return false;
        }
        int xattrCount = 0;
        byte[] xattrs = NONE;
        if (type != DescriptorFlyweight.FILE_HARDLINK)
        {
            xattrOut.reset();
            for (final byte[] name : fs.listXattrs(cPath))
            {
                final byte[] value = fs.getXattr(cPath, name);
                if (value != null)
                {
                    DescriptorFlyweight.appendXattr(xattrOut, name, value);
                    xattrCount++;
                }
            }
            if (xattrCount > DescriptorFlyweight.MAX_XATTRS ||
                xattrOut.size() > DescriptorFlyweight.MAX_XATTR_SECTION_BYTES)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "'" + PathBytes.display(rel) + "' has " + xattrCount +
                    " xattrs in " + xattrOut.size() + " bytes, more than the protocol carries (" +
                    DescriptorFlyweight.MAX_XATTRS + " xattrs, " + DescriptorFlyweight.MAX_XATTR_SECTION_BYTES +
                    " bytes)");
            }
            xattrs = xattrCount == 0 ? NONE : xattrOut.toByteArray();
        }
        entries.add(rel, 0, rel.length, type, size, mode, st.mtimeNanos(), target, st.uid(), st.gid(), rdev, flags,
            link, xattrCount, xattrs);
        return type == DescriptorFlyweight.FILE_DIRECTORY && rel.length > 0;
    }

    private static byte[] join(final byte[] prefix, final byte[] name)
    {
        final byte[] rel = Arrays.copyOf(prefix, prefix.length + 1 + name.length);
        rel[prefix.length] = '/';
        System.arraycopy(name, 0, rel, prefix.length + 1, name.length);
        return rel;
    }
}
