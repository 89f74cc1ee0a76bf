package dev.ferry.engine.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What {@code lstat(2)} says about one directory entry, read in pure Java without following a symlink: owner, full
 * {@code st_mode} (file type, setuid, setgid, sticky and permission bits), inode identity, link count, device number
 * of a device node, size and times in nanoseconds.
 * <p>
 * It reads the JDK's {@code unix:} attribute view by name ({@value #ATTRIBUTES}) rather than {@code "unix:*"}:
 * the star also asks for {@code owner} and {@code group}, which the JDK resolves to names through the user database
 * (NSS, possibly LDAP) for every entry. Numeric ids are what a clone keeps.
 * <p>
 * Owners are set without following links by {@code Files.setAttribute(p, "unix:uid", uid, NOFOLLOW_LINKS)} and
 * {@code "unix:gid"}: in JDK 17 on Linux those call {@code lchown(2)} (EntryStatTest checks it on a symlink), so the
 * native seam has no lchown.
 * <p>
 * {@link NativeFs#stat} reads the same fields (and {@code st_blocks}) with one {@code statx} call and no Map.
 * <p>
 * Immutable; {@link #read} may be called from any thread.
 */
public final class EntryStat
{
    /** The attributes read, in one {@code lstat} by the JDK. */
    public static final String ATTRIBUTES = "unix:dev,ino,mode,nlink,uid,gid,rdev,size,lastModifiedTime,ctime";

    /** Mask of the file type bits of {@link #mode()}. */
    public static final int S_IFMT = 0170000;
    /** Socket. */
    public static final int S_IFSOCK = 0140000;
    /** Symbolic link. */
    public static final int S_IFLNK = 0120000;
    /** Regular file. */
    public static final int S_IFREG = 0100000;
    /** Block device. */
    public static final int S_IFBLK = 0060000;
    /** Directory. */
    public static final int S_IFDIR = 0040000;
    /** Character device. */
    public static final int S_IFCHR = 0020000;
    /** FIFO (named pipe). */
    public static final int S_IFIFO = 0010000;
    /** Set-user-id bit. */
    public static final int S_ISUID = 04000;
    /** Set-group-id bit. */
    public static final int S_ISGID = 02000;
    /** Sticky bit. */
    public static final int S_ISVTX = 01000;
    /** The bits chmod sets: permissions plus setuid, setgid and sticky. */
    public static final int PERMISSION_MASK = 07777;
    /** {@link #blocks()} when the reader cannot tell (the JDK has no {@code st_blocks}). */
    public static final long BLOCKS_UNKNOWN = -1;
    /** Size of the unit of {@link #blocks()}, in bytes (always 512 on Linux, whatever the file system's block). */
    public static final int BLOCK_UNIT = 512;

    private final long dev;
    private final long ino;
    private final int mode;
    private final int nlink;
    private final int uid;
    private final int gid;
    private final long rdev;
    private final long size;
    private final long mtimeNanos;
    private final long ctimeNanos;
    private final long blocks;

    /**
     * Values as {@code lstat} would give them, allocation unknown; for tests and for entries described by a peer.
     */
    public EntryStat(
        final long dev, final long ino, final int mode, final int nlink, final int uid, final int gid, final long rdev,
        final long size, final long mtimeNanos, final long ctimeNanos)
    {
        this(dev, ino, mode, nlink, uid, gid, rdev, size, mtimeNanos, ctimeNanos, BLOCKS_UNKNOWN);
    }

    /**
     * Values as {@code lstat} would give them, with {@code st_blocks} ({@link #BLOCKS_UNKNOWN} if not known).
     */
    public EntryStat(
        final long dev, final long ino, final int mode, final int nlink, final int uid, final int gid, final long rdev,
        final long size, final long mtimeNanos, final long ctimeNanos, final long blocks)
    {
        this.blocks = blocks;
        this.dev = dev;
        this.ino = ino;
        this.mode = mode;
        this.nlink = nlink;
        this.uid = uid;
        this.gid = gid;
        this.rdev = rdev;
        this.size = size;
        this.mtimeNanos = mtimeNanos;
        this.ctimeNanos = ctimeNanos;
    }

    /**
     * {@code lstat} the entry at {@code path}.
     *
     * @throws IOException as {@link Files#readAttributes(Path, String, LinkOption...)} does, e.g.
     *                     {@link java.nio.file.NoSuchFileException}.
     */
    public static EntryStat read(final Path path) throws IOException
    {
        final Map<String, Object> a = Files.readAttributes(path, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        return new EntryStat(
            (Long)a.get("dev"),
            (Long)a.get("ino"),
            (Integer)a.get("mode"),
            (Integer)a.get("nlink"),
            (Integer)a.get("uid"),
            (Integer)a.get("gid"),
            (Long)a.get("rdev"),
            (Long)a.get("size"),
            nanos((FileTime)a.get("lastModifiedTime")),
            nanos((FileTime)a.get("ctime")));
    }

    /** Nanoseconds since the epoch of {@code time} (saturating far outside ±292 years). */
    public static long nanos(final FileTime time)
    {
        return time.to(TimeUnit.NANOSECONDS);
    }

    /** {@code st_dev}: the device of the file system holding the entry (glibc encoding). */
    public long dev()
    {
        return dev;
    }

    /** {@code st_ino}. (dev, ino) identifies the inode: names sharing it are hard links. */
    public long ino()
    {
        return ino;
    }

    /** Full {@code st_mode}: type bits ({@link #S_IFMT}) and {@link #PERMISSION_MASK} bits. */
    public int mode()
    {
        return mode;
    }

    /** {@code st_mode & S_IFMT}. */
    public int type()
    {
        return mode & S_IFMT;
    }

    /** {@code st_mode & 07777}: what chmod sets. */
    public int permissions()
    {
        return mode & PERMISSION_MASK;
    }

    /** {@code st_nlink}. */
    public int nlink()
    {
        return nlink;
    }

    /** {@code st_uid}, numeric. */
    public int uid()
    {
        return uid;
    }

    /** {@code st_gid}, numeric. */
    public int gid()
    {
        return gid;
    }

    /** {@code st_rdev}: the device a character or block device node stands for (glibc encoding), else 0. */
    public long rdev()
    {
        return rdev;
    }

    /** {@code st_size}: bytes of a regular file, length of a symlink's target. */
    public long size()
    {
        return size;
    }

    /** {@code st_mtim} in nanoseconds since the epoch. */
    public long mtimeNanos()
    {
        return mtimeNanos;
    }

    /** {@code st_ctim} in nanoseconds since the epoch. */
    public long ctimeNanos()
    {
        return ctimeNanos;
    }

    /**
     * {@code st_blocks}: space allocated in {@link #BLOCK_UNIT}-byte units, or {@link #BLOCKS_UNKNOWN} when read in
     * pure Java ({@link #read}); {@link NativeFs#stat} knows it.
     */
    public long blocks()
    {
        return blocks;
    }

    /**
     * Whether a regular file may have holes worth looking for: true unless it is known to have at least as much
     * space allocated as its size (the test GNU tar and cp use). A file with holes and extra allocated blocks
     * (an external xattr block, blocks preallocated past EOF) reads as not sparse; an all-zero block check on the
     * data catches those.
     */
    public boolean mayBeSparse()
    {
        return blocks == BLOCKS_UNKNOWN || blocks * BLOCK_UNIT < size;
    }

    /** True for a regular file. */
    public boolean isRegular()
    {
        return type() == S_IFREG;
    }

    /** True for a directory. */
    public boolean isDirectory()
    {
        return type() == S_IFDIR;
    }

    /** True for a symbolic link. */
    public boolean isSymlink()
    {
        return type() == S_IFLNK;
    }

    /** True for a FIFO, socket or device node. */
    public boolean isSpecial()
    {
        final int t = type();
        return t == S_IFIFO || t == S_IFSOCK || t == S_IFCHR || t == S_IFBLK;
    }

    /** The major number of a glibc {@code dev_t} (as {@code major(3)}). */
    public static int major(final long dev)
    {
        return (int)(((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0x00000fffL));
    }

    /** The minor number of a glibc {@code dev_t} (as {@code minor(3)}). */
    public static int minor(final long dev)
    {
        return (int)(((dev >>> 12) & 0xffffff00L) | (dev & 0x000000ffL));
    }

    /** The glibc {@code dev_t} for a major and minor number (as {@code makedev(3)}). */
    public static long makedev(final int major, final int minor)
    {
        final long ma = major & 0xffffffffL;
        final long mi = minor & 0xffffffffL;
        return ((ma & 0x00000fffL) << 8) | ((ma & 0xfffff000L) << 32) | (mi & 0x000000ffL) | ((mi & 0xffffff00L) << 12);
    }

    @Override
    public String toString()
    {
        return "EntryStat{dev=" + dev + ", ino=" + ino + ", mode=0" + Integer.toOctalString(mode) + ", nlink=" + nlink +
            ", uid=" + uid + ", gid=" + gid + ", rdev=" + rdev + ", size=" + size + ", mtimeNanos=" + mtimeNanos +
            ", ctimeNanos=" + ctimeNanos +
            ", blocks=" + blocks + '}';
    }
}
