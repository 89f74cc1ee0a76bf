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
 * recreated and are skipped, each named in {@link Manifest#warnings()}.
 * <p>
 * Threads: the walk (indexes, hard links, the manifest) runs on the calling thread alone; up to {@link #THREADS}
 * threads read directories and make each entry's system calls (lstat, readlink, the xattrs) ahead of it, deepest
 * level first, at most {@code 4 x THREADS} directories ahead. A failure a probing thread meets is kept with its
 * entry and thrown when the walk reaches it, so errors are the same as a walk on one thread would meet. One scan
 * per instance.
 */
public final class ManifestScanner
{
    /** The recipient keeps its incomplete-clone state under this top-level name, so a donor may not ship it. */
    public static final String STATE_DIR = ".ferry";
    /**
     * A finished copy keeps the piece hashes of its files under this top-level name (the recipient's hash store,
     * issue 12): reserved like {@link #STATE_DIR}, so a donor neither ships nor is sent one.
     */
    public static final String HASH_STORE = ".ferry-hashes";
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
    private static final byte[] HASH_STORE_BYTES = Wire.utf8(HASH_STORE);

    /**
     * @return whether bytes {@code [0, len)} of {@code raw} are a top-level name the recipient reserves
     *     ({@link #STATE_DIR} or {@link #HASH_STORE}).
     */
    public static boolean reservedTopName(final byte[] raw, final int len)
    {
        return Arrays.equals(raw, 0, len, STATE_DIR_BYTES, 0, STATE_DIR_BYTES.length) ||
            Arrays.equals(raw, 0, len, HASH_STORE_BYTES, 0, HASH_STORE_BYTES.length);
    }

    /**
     * @return whether {@code path}'s first segment is a top-level name the recipient reserves.
     */
    public static boolean reservedTop(final String path)
    {
        for (final String name : new String[] { STATE_DIR, HASH_STORE })
        {
            if (path.startsWith(name) && (path.length() == name.length() || path.charAt(name.length()) == '/'))
            {
                return true;
            }
        }
        return false;
    }
    private static final byte[] NONE = new byte[0];

    /**
     * Threads that read directories and probe their entries ahead of the walk ({@code ferry.scan.threads}; default
     * the cores, at most 4; 1 walks on the calling thread alone).
     */
    public static final int THREADS = Math.max(1, Integer.getInteger("ferry.scan.threads",
        Math.min(4, Runtime.getRuntime().availableProcessors())));
    /** Directories read ahead of the walk at most, per probing thread: bounds the heap the read-ahead holds. */
    private static final int AHEAD_PER_THREAD = 4;

    private final NativeFs fs;
    private final Manifest.Builder entries;
    /** Told each entry's index as soon as it is in the manifest (a streamed scan), or null. */
    private final java.util.function.IntConsumer onEntry;
    private final List<String> warnings = new ArrayList<>();
    private final Map<Inode, Integer> firstLink = new HashMap<>();
    private int skipped;
    /** Probing threads (null: everything on the walking thread), the read-ahead budget, the levels being walked. */
    private final java.util.concurrent.ExecutorService pool;
    private final int maxAhead;
    private int ahead;
    private final java.util.ArrayDeque<Level> levels = new java.util.ArrayDeque<>();

    private record Inode(long dev, long ino)
    {
    }

    /** One entry of a directory as a probing thread found it; the walk turns it into a manifest entry, in order. */
    private static final class Child
    {
        /** Kept for a directory (the walk lists it); dropped once any other entry is probed: a huge directory's
         *  listing holds each child until the walk reaches it. */
        Path path;
        final byte[] rel;
        EntryStat stat;
        byte[] target = NONE;
        int xattrCount;
        byte[] xattrs = NONE;
        boolean recent;
        /** Gone between the listing and its probe (a live dataset): not in this snapshot. */
        boolean vanished;
        /** What the sequential walk would have thrown at this entry: thrown when the walk reaches it. */
        Exception failure;
        /** For a directory: its own listing, read ahead, or null until (or unless) submitted. */
        java.util.concurrent.Future<Listing> listing;

        Child(final Path path, final byte[] rel)
        {
            this.path = path;
            this.rel = rel;
        }
    }

    /** A directory's children in name order, probed; or why it could not be read. */
    private static final class Listing
    {
        Child[] children;
        /** Removed or replaced since its parent was listed (a live dataset). */
        boolean gone;
        IOException failure;
    }

    /** A directory being walked: its subdirectories, and how many of them have been submitted for read-ahead. */
    private static final class Level
    {
        final List<Child> directories = new ArrayList<>();
        int submitted;
    }

    private ManifestScanner(final NativeFs fs, final int threads, final Manifest.Builder into,
        final java.util.function.IntConsumer onEntry)
    {
        this.fs = fs;
        this.entries = into;
        this.onEntry = onEntry;
        this.maxAhead = threads * AHEAD_PER_THREAD;
        this.pool = threads <= 1 ? null : java.util.concurrent.Executors.newFixedThreadPool(threads, r ->
        {
            final Thread t = new Thread(r, "ferry-scan");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * @param root the directory to snapshot.
     * @return its manifest.
     * @throws FerryException if the root is not a directory or cannot be read.
     */
    public static Manifest scan(final Path root)
    {
        return scan(root, THREADS);
    }

    /**
     * As {@link #scan(Path)}, with {@code threads} probing threads: the manifest is the same whatever the count (the
     * walk stays on the calling thread and takes what the others read in its own order).
     */
    public static Manifest scan(final Path root, final int threads)
    {
        return scanInto(root, threads, new Manifest.Builder(), null);
    }

    /**
     * As {@link #scan(Path, int)}, into {@code into} (the builder of a growing manifest, {@link Manifest.Builder#live}),
     * telling {@code onEntry} (if not null) each entry's index on this thread right after the entry is added, so a
     * streamed scan lays it out and publishes it while the walk goes on. An exception {@code onEntry} throws ends the
     * scan and is thrown from here.
     *
     * @return the manifest, built (the builder takes no more).
     */
    public static Manifest scanInto(final Path root, final int threads, final Manifest.Builder into,
        final java.util.function.IntConsumer onEntry)
    {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS))
        {
            throw new FerryException(ErrorCode.IO_ERROR, "donor root " + root + " is not a directory");
        }
        final ManifestScanner scanner = new ManifestScanner(NativeFs.instance(), threads, into, onEntry);
        try
        {
            final Child self = scanner.probe(root, NONE, wallNanos());
            scanner.emit(self);
            scanner.walk(self, true);
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot scan " + root + ": " + ex, ex);
        }
        finally
        {
            if (scanner.pool != null)
            {
                scanner.pool.shutdownNow();
            }
        }
        return scanner.entries.build(scanner.skipped, scanner.warnings);
    }

    /**
     * Emit {@code dir}'s children in name order, descending into each subdirectory as it comes (pre-order). Their
     * listings are read ahead by the pool, deepest level first, within the budget.
     */
    private void walk(final Child dir, final boolean isRoot) throws IOException
    {
        final Listing listing = take(dir, isRoot);
        if (listing.gone)
        {
            return; // removed or replaced since it was listed (a live dataset): the next pass sees what it became
        }
        final Level level = new Level();
        for (final Child c : listing.children)
        {
            if (c.failure == null && !c.vanished && c.stat.type() == EntryStat.S_IFDIR &&
                !(isRoot && reservedTopName(c.rel, c.rel.length)))
            {
                level.directories.add(c);
            }
        }
        levels.push(level);
        try
        {
            readAhead();
            for (final Child c : listing.children)
            {
                if (isRoot && reservedTopName(c.rel, c.rel.length))
                {
                    skipped++;
                    continue;
                }
                if (emit(c))
                {
                    walk(c, false);
                }
            }
        }
        finally
        {
            levels.pop();
        }
    }

    /** Submit listings of the directories next in walk order (the deepest level's first) while the budget allows. */
    private void readAhead()
    {
        if (pool == null)
        {
            return;
        }
        for (final java.util.Iterator<Level> it = levels.iterator(); it.hasNext() && ahead < maxAhead; )
        {
            final Level level = it.next(); // the deepest first: its directories come first in the walk
            while (ahead < maxAhead && level.submitted < level.directories.size())
            {
                final Child c = level.directories.get(level.submitted++);
                final long now = wallNanos();
                c.listing = pool.submit(() -> list(c.path, c.rel, now));
                ahead++;
            }
        }
    }

    /**
     * @return the listing of {@code dir}: read ahead if it was submitted, else read now on this thread.
     */
    private Listing take(final Child dir, final boolean isRoot) throws IOException
    {
        final Listing l;
        if (dir.listing == null)
        {
            l = list(dir.path, dir.rel, wallNanos());
        }
        else
        {
            ahead--;
            try
            {
                l = dir.listing.get();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new FerryException(ErrorCode.CANCELLED, "interrupted while scanning the tree");
            }
            catch (final java.util.concurrent.ExecutionException ex)
            {
                if (ex.getCause() instanceof Error)
                {
                    throw (Error)ex.getCause(); // out of heap in a probing thread: as if on this one
                }
                throw new FerryException(ErrorCode.INTERNAL, "scanning '" + PathBytes.display(dir.rel) + "' failed: " +
                    ex.getCause(), ex.getCause());
            }
            dir.listing = null;
            readAhead();
        }
        if (l.failure != null)
        {
            throw l.failure;
        }
        if (l.gone && isRoot)
        {
            throw new java.nio.file.NoSuchFileException(dir.path.toString());
        }
        return l;
    }

    /**
     * Read a directory and probe each entry (any thread: touches nothing of the walk's).
     */
    private Listing list(final Path dir, final byte[] prefix, final long now)
    {
        final Listing l = new Listing();
        final List<Child> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir))
        {
            for (final Path child : stream)
            {
                final byte[] name = PathBytes.fileName(child);
                children.add(new Child(child, prefix.length == 0 ? name : join(prefix, name)));
            }
        }
        catch (final java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException ex)
        {
            l.gone = true;
            return l;
        }
        catch (final IOException ex)
        {
            l.failure = ex;
            return l;
        }
        final Child[] sorted = children.toArray(new Child[0]);
        // names share the parent's prefix: compare the rel bytes from the prefix on
        final int from = prefix.length == 0 ? 0 : prefix.length + 1;
        Arrays.sort(sorted, (a, b) -> Arrays.compareUnsigned(a.rel, from, a.rel.length, b.rel, from, b.rel.length));
        for (final Child c : sorted)
        {
            probeInto(c, now);
            if (c.stat == null || c.stat.type() != EntryStat.S_IFDIR)
            {
                c.path = null;
            }
        }
        l.children = sorted;
        return l;
    }

    private Child probe(final Path path, final byte[] rel, final long now) throws IOException
    {
        final Child c = new Child(path, rel);
        probeInto(c, now);
        if (c.failure instanceof IOException)
        {
            throw (IOException)c.failure;
        }
        if (c.failure != null)
        {
            throw (RuntimeException)c.failure;
        }
        return c;
    }

    /**
     * The system calls for one entry: lstat, readlink for a symlink, the xattrs. Failures are kept for the walk.
     */
    private void probeInto(final Child c, final long now)
    {
        try
        {
            if (c.rel.length > PathBytes.MAX_PATH_BYTES)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "path longer than " + PathBytes.MAX_PATH_BYTES +
                    " bytes: " + PathBytes.display(c.rel));
            }
            final byte[] cPath = PathBytes.cPath(c.path);
            final EntryStat st = fs.stat(cPath);
            c.stat = st;
            final int type = st.type();
            if (type == EntryStat.S_IFSOCK)
            {
                return;
            }
            if (type == EntryStat.S_IFLNK)
            {
                c.target = fs.readlink(cPath); // exact bytes: "a//b/" stays as it is
            }
            if (type == EntryStat.S_IFREG && Math.max(st.mtimeNanos(), st.ctimeNanos()) >= now - RACY_WINDOW_NANOS)
            {
                c.recent = true; // a write now may not move its mtime
            }
            final List<byte[]> names = fs.listXattrs(cPath);
            if (names.isEmpty())
            {
                return; // most entries: nothing more to read or allocate
            }
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            int count = 0;
            for (final byte[] name : names)
            {
                final byte[] value = fs.getXattr(cPath, name);
                if (value != null)
                {
                    DescriptorFlyweight.appendXattr(out, name, value);
                    count++;
                }
            }
            if (count > DescriptorFlyweight.MAX_XATTRS || out.size() > DescriptorFlyweight.MAX_XATTR_SECTION_BYTES)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "'" + PathBytes.display(c.rel) + "' has " + count +
                    " xattrs in " + out.size() + " bytes, more than the protocol carries (" +
                    DescriptorFlyweight.MAX_XATTRS + " xattrs, " + DescriptorFlyweight.MAX_XATTR_SECTION_BYTES +
                    " bytes)");
            }
            c.xattrCount = count;
            c.xattrs = count == 0 ? NONE : out.toByteArray();
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            c.vanished = true; // removed since its directory was listed (a live dataset)
        }
        catch (final IOException | RuntimeException ex)
        {
            c.failure = ex;
        }
    }

    /**
     * Append one probed entry to the manifest (the walking thread, in walk order: indexes and hard links are decided
     * here).
     *
     * @return true if it is a directory to walk into.
     */
    private boolean emit(final Child c) throws IOException
    {
        if (c.failure instanceof IOException)
        {
            throw (IOException)c.failure;
        }
        if (c.failure != null)
        {
            throw (RuntimeException)c.failure;
        }
        if (c.vanished)
        {
            return false;
        }
        final EntryStat st = c.stat;
        final byte[] rel = c.rel;
        final int index = entries.size();
        final int mode = st.permissions();
        int type;
        long size = 0;
        long rdev = 0;
        int flags = 0;
        int link = DescriptorFlyweight.NO_LINK;
        byte[] target = NONE;
        int xattrCount = c.xattrCount;
        byte[] xattrs = c.xattrs;
        switch (st.type())
        {
            case EntryStat.S_IFDIR:
                type = DescriptorFlyweight.FILE_DIRECTORY;
                break;
            case EntryStat.S_IFLNK:
                type = DescriptorFlyweight.FILE_SYMLINK;
                target = c.target;
                break;
            case EntryStat.S_IFREG:
                type = DescriptorFlyweight.FILE_REGULAR;
                size = st.size();
                if (st.mayBeSparse() && st.size() > 0)
                {
                    flags = DescriptorFlyweight.FILE_FLAG_SPARSE;
                }
                if (c.recent)
                {
                    flags |= DescriptorFlyweight.FILE_FLAG_RECENT;
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
                        xattrCount = 0; // the link's first entry carries them
                        xattrs = NONE;
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
        entries.add(rel, 0, rel.length, type, size, mode, st.mtimeNanos(), target, st.uid(), st.gid(), rdev, flags,
            link, xattrCount, xattrs);
        if (onEntry != null)
        {
            onEntry.accept(index);
        }
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
