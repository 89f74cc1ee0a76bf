package dev.ferry.engine.faithful;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;

/**
 * The edge tree of issue 9: owners, the root directory's own mode/owner/mtime, sparse files (data-hole-data, all hole,
 * a 1 GiB hole), hard-link groups across directories, non-UTF-8 names and link targets, user xattrs with binary
 * values, a FIFO, a device node (as root), a socket (skipped), setuid and setgid files with odd owners. Built by raw
 * name bytes, so it works under any locale. Small on disk: the sparse files allocate a few blocks.
 */
public final class FaithfulTree
{
    public static final boolean ROOT = "root".equals(System.getProperty("user.name"));
    public static final int UID = 1234;
    public static final int GID = 5678;
    public static final long ROOT_MTIME = 1_234_567_890_123_456_789L;
    public static final long GIB = 1L << 30;
    /** Bytes of data (not hole) in the sparse files: what may cross the wire for them. */
    public static final long SPARSE_DATA = 3 * 65536 + 4096;
    public static final byte[] BAD_NAME = { 'b', 'a', 'd', '-', (byte)0xff, (byte)0xfe, '.', 'b', 'i', 'n' };
    public static final byte[] BAD_DIR = { 'd', 'i', 'r', '-', (byte)0xe9 };
    public static final byte[] BAD_LINK = { 'l', 'n', 'k', '-', (byte)0x80 };
    public static final byte[] BAD_TARGET = { '.', '.', '/', 't', 'g', 't', '-', (byte)0xff, '/', 'x' };
    public static final byte[] XATTR_VALUE = { 0, 1, 2, (byte)0xff, 0, 10, 13 };

    private FaithfulTree()
    {
    }

    /**
     * @param owners give entries odd owners (only possible as root).
     */
    public static void build(final Path src, final boolean owners) throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        Files.createDirectories(src);
        // sparse: data-hole-data-hole, all hole, 1 GiB hole then 4 KiB
        final Path sparse = Files.createDirectories(src.resolve("sparse"));
        try (FileChannel ch = FileChannel.open(sparse.resolve("dhd"), StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(random(1, 65536)), 0);
            ch.write(ByteBuffer.wrap(random(2, 65536)), 4L << 20);
            ch.write(ByteBuffer.wrap(random(3, 65536)), 8L << 20);
            ch.truncate(12L << 20);
        }
        Files.write(sparse.resolve("all-hole"), new byte[0]);
        fs.setLength(PathBytes.cPath(sparse.resolve("all-hole")), 10L << 20);
        try (FileChannel ch = FileChannel.open(sparse.resolve("gib-hole"), StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(random(4, 4096)), GIB);
        }
        // hard links: two groups, across directories
        final Path links = Files.createDirectories(src.resolve("links/sub"));
        Files.createDirectories(src.resolve("other"));
        Files.write(src.resolve("links/a"), random(5, 5000));
        Files.createLink(links.resolve("b"), src.resolve("links/a"));
        Files.createLink(src.resolve("other/c"), src.resolve("links/a"));
        Files.write(src.resolve("links/x"), random(6, 100));
        Files.createLink(src.resolve("other/y"), src.resolve("links/x"));
        // names that are not UTF-8, a link target that is not either
        final Path badDir = PathBytes.resolve(src, BAD_DIR);
        Files.createDirectory(badDir);
        Files.write(PathBytes.resolve(badDir, BAD_NAME), random(7, 300));
        Files.write(PathBytes.resolve(src, BAD_NAME), random(8, 30));
        Files.createSymbolicLink(PathBytes.resolve(src, BAD_LINK), PathBytes.linkTarget(BAD_TARGET));
        // xattrs with binary values, on a file and a directory
        Files.write(src.resolve("xattr-file"), random(9, 10));
        fs.setXattr(PathBytes.cPath(src.resolve("xattr-file")), "user.bin".getBytes(), XATTR_VALUE);
        fs.setXattr(PathBytes.cPath(src.resolve("xattr-file")), "user.empty".getBytes(), new byte[0]);
        fs.setXattr(PathBytes.cPath(src.resolve("links")), "user.dir".getBytes(), "d".getBytes());
        // a FIFO, a socket (skipped with a warning)
        fs.mkfifo(PathBytes.cPath(src.resolve("fifo")), 0640);
        Files.setAttribute(src.resolve("fifo"), "unix:mode", 0640);
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            s.bind(UnixDomainSocketAddress.of(src.resolve("sock")));
        }
        // modes that a non-root owner can set but not easily read back
        Files.write(src.resolve("mode-000"), random(10, 1000));
        Files.write(src.resolve("mode-200"), random(11, 2000));
        // setuid/setgid after chown, odd owners, a device node
        Files.write(src.resolve("suid"), random(12, 64));
        Files.write(src.resolve("sgid"), random(13, 64));
        Files.createSymbolicLink(src.resolve("owned-link"), Path.of("suid"));
        if (owners)
        {
            chown(src.resolve("suid"), UID, GID);
            chown(src.resolve("sgid"), 0, GID);
            chown(src.resolve("owned-link"), UID + 1, GID + 1);
            chown(src.resolve("links/a"), UID, GID);
            chown(badDir, UID, 0);
            fs.mknod(PathBytes.cPath(src.resolve("dev-null")), EntryStat.S_IFCHR | 0666, EntryStat.makedev(1, 3));
            Files.setAttribute(src.resolve("dev-null"), "unix:mode", 0620);
        }
        Files.setAttribute(src.resolve("suid"), "unix:mode", 04755);
        Files.setAttribute(src.resolve("sgid"), "unix:mode", 02711);
        Files.setAttribute(src.resolve("mode-000"), "unix:mode", 0);
        Files.setAttribute(src.resolve("mode-200"), "unix:mode", 0200);
        // the root directory last: its own owner, mode and mtime
        if (owners)
        {
            chown(src, UID, GID);
        }
        Files.setAttribute(src, "unix:mode", 0700);
        fs.setTimes(PathBytes.cPath(src), NativeFs.TIME_OMIT, ROOT_MTIME);
    }

    static void chown(final Path p, final int uid, final int gid) throws IOException
    {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    static byte[] random(final long seed, final int n)
    {
        final byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        b[0] = 1; // never an all-zero block
        return b;
    }

    /** st_blocks of a file, by the native stat. */
    public static long blocks(final Path p)
    {
        try
        {
            return NativeFs.instance().stat(PathBytes.cPath(p)).blocks();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
