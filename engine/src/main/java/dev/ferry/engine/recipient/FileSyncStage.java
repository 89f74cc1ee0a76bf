package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import dev.ferry.core.protocol.XattrReader;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.ManifestScanner;

import static dev.ferry.engine.recipient.RecipientFiles.forceDirectory;
import static dev.ferry.engine.recipient.RecipientFiles.io;

/**
 * The FILE SYNC stage of the recipient, run once every chunk is applied: symlinks are created, modes and mtimes
 * restored (directories deepest first, after their contents), files and directories forced to disk (when sync is
 * on), and only then the {@code .ferry/} marker removed, the journal last, so its presence always means
 * "incomplete". Also learns, when the target is prepared, which modes new files and directories get here, so it can
 * skip a chmod per entry that already has its mode, and whether they belong to root, which decides the set-user-ID
 * and set-group-ID bits ({@link SetidPolicy}).
 * <p>
 * The clone's driver thread; regular files are forced on a few threads of its own.
 */
final class FileSyncStage
{
    /** Threads forcing and restoring regular files in FILE SYNC: fsync waits on the disk, so more than the cores. */
    private static final int SYNC_THREADS = 4;

    private final Path target;
    private final Path stateDir;
    private final boolean sync;
    /** The copy's hash store being built, finished after the copy is forced; or null. */
    private volatile HashStore.Builder store;

    void store(final HashStore.Builder b)
    {
        store = b;
    }
    private final RecipientJournal journal;
    private int defaultFileMode = -1;
    private int defaultDirMode = -1;
    /** Whether the files this clone creates belong to root (learned from a probe file). */
    private boolean root;
    private boolean noSetuid;
    private int ownUid = -1;
    private int ownGid = -1;
    private final NativeFs fs = NativeFs.instance();
    private final SyncWarnings warnings = new SyncWarnings();
    /** Entries whose owner, xattrs, mtime and mode were applied, the target directory aside. */
    private final AtomicInteger restored = new AtomicInteger();
    /** Entries forced one by one, the target directory aside. */
    private final AtomicInteger forced = new AtomicInteger();

    FileSyncStage(final Path target, final Path stateDir, final boolean sync, final RecipientJournal journal)
    {
        this.target = target;
        this.stateDir = stateDir;
        this.sync = sync;
        this.journal = journal;
    }

    /**
     * Learn which modes new files and directories get here (the umask), so FILE SYNC can skip a chmod per entry that
     * already has its mode: on a tree of 20,000 small files that is 20,000 system calls.
     */
    void probeDefaultModes() throws IOException
    {
        final Path file = stateDir.resolve("probe-file");
        final Path dir = stateDir.resolve("probe-dir");
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        Files.createDirectory(dir);
        defaultFileMode = ((Integer)Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        defaultDirMode = ((Integer)Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        ownUid = (Integer)Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        ownGid = (Integer)Files.getAttribute(file, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        root = ownUid == 0;
        Files.delete(file);
        Files.delete(dir);
    }

    /**
     * Strip set-user-ID and set-group-ID bits from every regular file ({@link SetidPolicy}).
     */
    void noSetuid(final boolean v)
    {
        noSetuid = v;
    }

    /**
     * @return whether the files this clone creates belong to root (known once the target is prepared).
     */
    boolean runningAsRoot()
    {
        return root;
    }

    /**
     * Whether the apply worker that writes a whole new regular file in one block may set its mtime itself and leave
     * FILE SYNC nothing to restore ({@link TargetEntries#RESTORED}): a fresh clone (not an update), no xattrs, the owner
     * and group the file gets by being created here, and the mode it gets so (after the set-ID policy). Anything else
     * waits for FILE SYNC, whose order (owner, xattrs, mtime, mode) it needs. Read by apply workers after the copy
     * stage began, which the probe of the modes precedes.
     */
    boolean writerRestores(final TargetEntry e)
    {
        return !updating && defaultFileMode >= 0 && e.type == DescriptorFlyweight.FILE_REGULAR && e.xattrCount == 0 &&
            !e.kept() && !e.have() && !e.existed() && e.uid == ownUid && e.gid == ownGid &&
            SetidPolicy.mode(e.type, e.mode, noSetuid, root, root) == defaultFileMode;
    }

    void probeModesIfNeeded() throws IOException
    {
        if (defaultFileMode < 0)
        {
            Files.createDirectories(stateDir);
            probeDefaultModes();
        }
    }

    /**
     * FILE SYNC over a complete manifest. Order, so the kernel undoes nothing: every entry is created first (symlinks,
     * FIFOs, device nodes, hard links); then each entry gets, in this order, its final length (a regular file, on the
     * threads that restore regular files: the length leaves a trailing hole, {@link #fixLength}), its owner (chown clears setuid/setgid and security.capability), its xattrs, its mtime
     * (by path, no open: works on a file of mode 000) and last its mode. Directories come after their contents,
     * deepest first, and the target directory itself last, after the marker is gone. An update skips, and does not
     * force, every entry it did not write that already has the donor's metadata ({@link #unchanged}); the target
     * directory itself always gets its mtime back, since the marker's removal moved it.
     */
    void run(final TargetEntries entries)
    {
        TargetEntry current = null;
        final int count = entries.size();
        try
        {
            for (int i = 0; i < count; i++)
            {
                final int type = entries.type(i);
                if (type == DescriptorFlyweight.FILE_DIRECTORY || type == DescriptorFlyweight.FILE_REGULAR)
                {
                    continue; // directories exist already; a regular file gets its length in syncFiles
                }
                final TargetEntry e = entries.get(i);
                current = e;
                create(entries, e);
            }
            dev.ferry.engine.Trace.mark("FILE SYNC: links and special files made");
            // an update: what it did not write and what already has the donor's metadata is neither restored nor
            // forced (chown and utimensat move the ctime even to the same values, and a dirty inode costs a write)
            for (int i = 0; i < count; i++)
            {
                if (entries.present(i) != null) // only an update's entries found in place can be unchanged
                {
                    current = entries.get(i);
                    entries.set(i, TargetEntries.UNCHANGED, unchanged(current));
                }
            }
            current = null;
            // many files: one syncfs at the end forces every file and directory; else each is forced on its own
            int regular = 0;
            for (int i = 0; i < count; i++)
            {
                regular += entries.type(i) == DescriptorFlyweight.FILE_REGULAR &&
                    !entries.is(i, TargetEntries.UNCHANGED) ? 1 : 0;
            }
            final boolean eachFile = sync && !Durability.wholeFileSystemFor(regular);
            if (regular > 0)
            {
                syncFiles(entries, eachFile); // four threads: not started for nothing
            }
            dev.ferry.engine.Trace.mark("FILE SYNC: regular files restored" + (eachFile ? " and forced" : ""));
            for (int i = 0; i < count; i++)
            {
                final int type = entries.type(i);
                if ((type != DescriptorFlyweight.FILE_SYMLINK && !isSpecial(type)) ||
                    entries.is(i, TargetEntries.UNCHANGED))
                {
                    continue;
                }
                final TargetEntry e = entries.get(i);
                current = e;
                if (Files.exists(e.resolved(), LinkOption.NOFOLLOW_LINKS))
                {
                    restore(e, false);
                }
            }
            TargetEntry rootEntry = null;
            for (int i = count - 1; i >= 0; i--)
            {
                if (entries.type(i) != DescriptorFlyweight.FILE_DIRECTORY ||
                    (entries.is(i, TargetEntries.UNCHANGED) && i != 0))
                {
                    continue;
                }
                final TargetEntry e = entries.get(i);
                current = e;
                if (e.isRoot())
                {
                    rootEntry = e;
                    if (e.present() == null || !sameOwnerAndXattrs(e, e.present().uid, e.present().gid))
                    {
                        chownAndXattrs(e);
                    }
                    if (eachFile)
                    {
                        forceDirectory(e.resolved());
                    }
                }
                else if (eachFile)
                {
                    // opened before its final mode (0000 or 0300 would keep a non-root owner out), forced after
                    try (FileChannel ch = FileChannel.open(e.resolved(), StandardOpenOption.READ))
                    {
                        restore(e, e.existed());
                        ch.force(true);
                        forced.incrementAndGet();
                    }
                }
                else
                {
                    restore(e, e.existed());
                }
            }
            current = null;
            dev.ferry.engine.Trace.mark("FILE SYNC: other entries and directories restored");
            if (sync && (eachFile || !Durability.syncFileSystem(target)))
            {
                if (!eachFile)
                {
                    // syncfs refused after all: force file by file, each opened whatever its final mode
                    syncFiles(entries, true);
                }
                forceDirectory(target);
            }
            dev.ferry.engine.Trace.mark("FILE SYNC: forced");
            final HashStore.Builder hashes = store;
            if (hashes != null)
            {
                // every file is final and forced: record them as they are now, before the marker goes
                store = null;
                try
                {
                    final long kept = hashes.finish(entries, target, sync);
                    dev.ferry.engine.Trace.mark("FILE SYNC: hash store " + (kept < 0 ? "dropped" : "of " + kept + " files"));
                }
                catch (final IOException | RuntimeException ex)
                {
                    hashes.abandon();
                    try
                    {
                        Files.deleteIfExists(target.resolve(ManifestScanner.HASH_STORE));
                    }
                    catch (final IOException | RuntimeException ignore)
                    {
                        // a directory under that name, say: the next update does not open it
                    }
                    warnings.add("hash store not kept (" + ex.getMessage() + "): the next update reads the copy",
                        ManifestScanner.HASH_STORE);
                }
            }
            journal.close();
            // the marker goes last: status first, the journal after it, the directory itself at the very end
            Files.deleteIfExists(stateDir.resolve("status"));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.APPLIED + ".tmp"));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.APPLIED));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.TORN + ".tmp"));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.TORN));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.MANIFEST));
            Files.deleteIfExists(stateDir.resolve(HashStore.BUILDING));
            Files.deleteIfExists(stateDir.resolve(HashStore.RETIRED));
            Files.deleteIfExists(stateDir.resolve(TargetLock.FILE)); // still locked by this process until it exits
            Files.deleteIfExists(stateDir);
            if (rootEntry != null)
            {
                // removing the marker changed the target's mtime: its own mtime and mode come after that; the target is
                // opened before its mode is set, so a mode that keeps a non-root owner out does not stop the force
                current = rootEntry;
                try (FileChannel ch = sync ? FileChannel.open(target, StandardOpenOption.READ) : null)
                {
                    timesAndMode(rootEntry, rootEntry.existed());
                    if (ch != null)
                    {
                        ch.force(true);
                    }
                }
                current = null;
            }
        }
        catch (final IOException ex)
        {
            throw io("FILE SYNC failed" + (current != null ? " at '" + PathGuard.printable(current.path()) + "'" : ""), ex);
        }
    }

    /**
     * @return how many entries the last {@link #run} restored (owner, xattrs, mtime, mode), the target aside.
     */
    int restoredCount()
    {
        return restored.get();
    }

    /**
     * @return how many entries the last {@link #run} forced one by one, the target aside (a syncfs counts none).
     */
    int forcedCount()
    {
        return forced.get();
    }

    /**
     * @return what FILE SYNC could not reproduce, one line per kind (the library never prints: the CLI does).
     */
    /** A warning of the run, shown with FILE SYNC's at the end. */
    void warn(final String kind, final String entry)
    {
        warnings.add(kind, entry);
    }

    java.util.List<String> warnings()
    {
        return warnings.lines();
    }

    private static boolean isSpecial(final int type)
    {
        return type == DescriptorFlyweight.FILE_FIFO || type == DescriptorFlyweight.FILE_CHAR_DEVICE ||
            type == DescriptorFlyweight.FILE_BLOCK_DEVICE;
    }

    private void create(final TargetEntries entries, final TargetEntry e) throws IOException
    {
        switch (e.type)
        {
            case DescriptorFlyweight.FILE_SYMLINK:
                if (e.present() != null)
                {
                    break; // an update found this very link here
                }
                Files.deleteIfExists(e.resolved()); // left by an interrupted FILE SYNC
                fs.symlink(e.linkTargetBytes, PathBytes.cPath(e.resolved())); // exact bytes (natively)
                break;
            case DescriptorFlyweight.FILE_HARDLINK:
                Files.deleteIfExists(e.resolved());
                Files.createLink(e.resolved(), entries.get(e.linkIndex).resolved());
                break;
            case DescriptorFlyweight.FILE_FIFO:
                Files.deleteIfExists(e.resolved());
                if (!fs.mkfifo(PathBytes.cPath(e.resolved()), 0600))
                {
                    warnings.add("FIFOs not recreated (no native file system calls here)", e.path());
                }
                break;
            case DescriptorFlyweight.FILE_CHAR_DEVICE:
            case DescriptorFlyweight.FILE_BLOCK_DEVICE:
            {
                Files.deleteIfExists(e.resolved());
                final int type = e.type == DescriptorFlyweight.FILE_CHAR_DEVICE ? EntryStat.S_IFCHR : EntryStat.S_IFBLK;
                if (!root)
                {
                    warnings.add("device nodes not recreated (creating them needs root)", e.path());
                    break;
                }
                try
                {
                    if (!fs.mknod(PathBytes.cPath(e.resolved()), type | 0600, e.rdev))
                    {
                        warnings.add("device nodes not recreated (no native file system calls here)", e.path());
                    }
                }
                catch (final java.nio.file.AccessDeniedException ex)
                {
                    warnings.add("device nodes not recreated (" + ex.getMessage() + ")", e.path());
                }
                break;
            }
            default:
                break;
        }
    }

    /**
     * @return whether an update leaves {@code e} as it is: the update did not write it ({@link TargetEntry#present()})
     *     and it already has the donor's mode, owner, mtime and xattrs. A directory is looked at now (one lstat),
     *     since a change among its entries moved its mtime after the scan.
     */
    private boolean unchanged(final TargetEntry e) throws IOException
    {
        final ResumeMerge.OldEntry p = e.present();
        if (p == null || p.type != e.type)
        {
            return false;
        }
        final int mode;
        final int uid;
        final int gid;
        final long mtime;
        if (e.type == DescriptorFlyweight.FILE_DIRECTORY)
        {
            final EntryStat st = fs.stat(PathBytes.cPath(e.resolved()));
            if (!st.isDirectory())
            {
                return false;
            }
            mode = st.permissions();
            uid = st.uid();
            gid = st.gid();
            mtime = st.mtimeNanos();
        }
        else if (e.type == DescriptorFlyweight.FILE_SYMLINK)
        {
            mode = e.mode; // Linux has no symlink modes: FILE SYNC sets none
            uid = p.uid;
            gid = p.gid;
            mtime = p.mtimeNanos;
        }
        else if (e.type == DescriptorFlyweight.FILE_REGULAR)
        {
            mode = p.mode;
            uid = p.uid;
            gid = p.gid;
            mtime = p.mtimeNanos;
        }
        else
        {
            return false;
        }
        return MtimeGranularity.same(mtime, e.mtimeNanos, mtimeGranularity) &&
            mode == SetidPolicy.mode(e.type, e.mode, noSetuid, root, root) &&
            sameOwnerAndXattrs(e, uid, gid);
    }

    /**
     * @return whether the copy's entry (owned by {@code uid:gid}, with the xattrs the update's scan read) already has
     *     the owner and xattrs of the donor's entry {@code e}.
     */
    private static boolean sameOwnerAndXattrs(final TargetEntry e, final int uid, final int gid)
    {
        final ResumeMerge.OldEntry present = e.present();
        if (uid != e.uid || gid != e.gid || present.xattrCount != e.xattrCount)
        {
            return false;
        }
        if (java.util.Arrays.equals(present.xattrs, e.xattrs))
        {
            return true;
        }
        // file systems list xattrs in no fixed order: each of the donor's, by name (names are unique per entry)
        final XattrReader wanted = new XattrReader(e.xattrs, e.xattrCount);
        while (wanted.next())
        {
            boolean found = false;
            final XattrReader had = new XattrReader(present.xattrs, present.xattrCount);
            while (!found && had.next())
            {
                found = java.util.Arrays.equals(had.name(), wanted.name()) &&
                    java.util.Arrays.equals(had.value(), wanted.value());
            }
            if (!found)
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Owner, xattrs, mtime, then mode (see {@link #run}).
     *
     * @param chmod set the mode even if it is the one new files get here (it was changed since creation).
     */
    private void restore(final TargetEntry e, final boolean chmod) throws IOException
    {
        restored.incrementAndGet();
        chownAndXattrs(e);
        timesAndMode(e, chmod);
    }

    /**
     * An update: entries may carry xattrs the donor's version no longer has; remove them.
     */
    void updating(final boolean v)
    {
        updating = v;
    }

    private boolean updating;
    /** How finely the copy keeps mtimes: an entry whose mtime is the donor's at it is left alone. */
    private long mtimeGranularity = MtimeGranularity.EXACT;

    void mtimeGranularity(final long g)
    {
        mtimeGranularity = g;
    }

    private void removeStaleXattrs(final TargetEntry e)
    {
        final byte[] c = PathBytes.cPath(e.resolved());
        final java.util.List<byte[]> present;
        try
        {
            present = fs.listXattrs(c);
        }
        catch (final IOException ex)
        {
            return; // none readable: nothing to remove
        }
        for (final byte[] name : present)
        {
            boolean wanted = false;
            final XattrReader x = new XattrReader(e.xattrs, e.xattrCount);
            while (!wanted && x.next())
            {
                wanted = java.util.Arrays.equals(x.name(), name);
            }
            if (!wanted)
            {
                try
                {
                    fs.removeXattr(c, name);
                }
                catch (final IOException ex)
                {
                    warnings.add("stale xattrs not removed (refused by this system)", e.path() + " " +
                        PathBytes.display(name) + ": " + ex.getMessage());
                }
            }
        }
    }

    private void chownAndXattrs(final TargetEntry e) throws IOException
    {
        if (updating && e.type != DescriptorFlyweight.FILE_SYMLINK)
        {
            removeStaleXattrs(e);
        }
        if (root)
        {
            // a regular file this clone created (not one kept or updated in place) already has this process's
            // owner and the group files get in the target (the probe measured both there): when the donor's owner is
            // the same, its two lchown calls are saved (a million of them on a tree of tiny files, issue 10)
            if (e.uid != ownUid || e.gid != ownGid || e.type != DescriptorFlyweight.FILE_REGULAR || e.kept() || e.have())
            {
                final Path at = e.resolved();
                Files.setAttribute(at, "unix:uid", e.uid, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(at, "unix:gid", e.gid, LinkOption.NOFOLLOW_LINKS);
            }
        }
        else if (e.uid != ownUid || e.gid != ownGid)
        {
            warnings.add("owners not kept (not running as root): these entries belong to " + ownUid + ":" + ownGid,
                e.path());
        }
        if (e.xattrCount > 0)
        {
            final byte[] c = PathBytes.cPath(e.resolved());
            final XattrReader x = new XattrReader(e.xattrs, e.xattrCount);
            while (x.next())
            {
                final byte[] name = x.name();
                try
                {
                    if (!fs.setXattr(c, name, x.value()))
                    {
                        warnings.add("xattrs not kept (not supported here)", e.path() + " " + PathBytes.display(name));
                    }
                }
                catch (final IOException ex)
                {
                    warnings.add("xattrs not kept (refused by this system)", e.path() + " " + PathBytes.display(name) +
                        ": " + ex.getMessage());
                }
            }
        }
    }

    private void timesAndMode(final TargetEntry e, final boolean chmod) throws IOException
    {
        final byte[] c = PathBytes.cPath(e.resolved());
        try
        {
            fs.setTimes(c, NativeFs.TIME_OMIT, e.mtimeNanos);
        }
        catch (final IOException ex)
        {
            if (e.type != DescriptorFlyweight.FILE_SYMLINK)
            {
                throw ex;
            }
            warnings.add("symlink times not kept (refused by this system)", e.path());
        }
        if (e.type == DescriptorFlyweight.FILE_SYMLINK)
        {
            return; // Linux has no symlink modes
        }
        final int created = e.type == DescriptorFlyweight.FILE_DIRECTORY ? defaultDirMode : defaultFileMode;
        final int mode = SetidPolicy.mode(e.type, e.mode, noSetuid, root, root);
        if (isSpecial(e.type))
        {
            // the JDK's no-follow chmod opens the entry, which blocks on a FIFO: chmod(2) by path instead; the entry
            // was created by this clone and is not a symlink
            Files.setAttribute(e.resolved(), "unix:mode", mode);
        }
        else if (mode != created || chmod)
        {
            Files.setAttribute(e.resolved(), "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /**
     * Open a regular file to force it, whatever its mode now. Its owner cannot open a file of mode 000 (or 0200, for
     * reading) unless root, and a FILE SYNC that was interrupted, or that found syncfs refused after the modes were
     * set, meets such files; then the mode is lifted to let the owner read it, and the caller sets the final mode
     * again ({@code lifted[0]} says so). A file this clone created still has the mode new files get, so the open
     * succeeds at once.
     */
    private static FileChannel openToForce(final TargetEntry e, final boolean[] lifted) throws IOException
    {
        try
        {
            return FileChannel.open(e.resolved(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        }
        catch (final java.nio.file.AccessDeniedException ex)
        {
            if (!Files.isRegularFile(e.resolved(), LinkOption.NOFOLLOW_LINKS))
            {
                throw ex;
            }
            // chmod(2) by path: the JDK's no-follow chmod opens the file first, which is what fails here; the entry is
            // a regular file this clone made, under directories it made
            Files.setAttribute(e.resolved(), "unix:mode", 0600);
            lifted[0] = true;
            return FileChannel.open(e.resolved(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /**
     * A regular file gets the donor's length, before its times: a file that is all hole, or ends in a hole (pieces
     * of zeros are not sent either), was never written up to its end, and the length comes without writing
     * (ftruncate). One lstat for a file whose length is right already. A file an update kept or moved has the
     * donor's length (the merge compared it).
     */
    private void fixLength(final TargetEntry e) throws IOException
    {
        if (e.present() != null)
        {
            return;
        }
        final Path at = e.resolved();
        final byte[] c = PathBytes.cPath(at);
        long size;
        try
        {
            size = fs.stat(c).size();
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            size = -1;
        }
        if (size != e.size)
        {
            FileChannel.open(at, StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS).close();
            fs.setLength(c, e.size);
        }
    }

    private void restoreFile(final TargetEntry e, final boolean chmod)
    {
        try
        {
            restore(e, chmod);
        }
        catch (final IOException ex)
        {
            throw io("cannot restore the owner, xattrs, mtime or mode of '" + PathGuard.printable(e.path()) + "'", ex);
        }
    }

    /**
     * FILE SYNC for regular files: check the size, restore owner, xattrs, mtime and mode, and (when {@code force})
     * force the file through a channel opened before the final mode was set, so that one fsync covers the bytes and
     * the attributes, and a mode-000 file of a non-root owner is forced like any other (the pure-Java file system has no
     * syncfs, so every file goes this way there). Striped over a few threads, because each fsync waits for the disk
     * and a tree of small files has thousands.
     */
    private void syncFiles(final TargetEntries es, final boolean force) throws IOException
    {
        final int count = es.size();
        final int threads = count < 256 ? 1 : SYNC_THREADS;
        final IOException[] ioFailure = new IOException[1];
        final RuntimeException[] failure = new RuntimeException[1];
        final Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int stripe = t;
            final Runnable r = () ->
            {
                try
                {
                    for (int i = stripe; i < count; i += threads)
                    {
                        if (es.type(i) != DescriptorFlyweight.FILE_REGULAR || es.is(i, TargetEntries.UNCHANGED))
                        {
                            continue;
                        }
                        if (!force && es.is(i, TargetEntries.RESTORED))
                        {
                            restored.incrementAndGet(); // its writer set its mtime; the rest it had by creation
                            continue;
                        }
                        final TargetEntry e = es.get(i);
                        if (!es.is(i, TargetEntries.LENGTH_WRITTEN))
                        {
                            fixLength(e); // else the clone wrote its last byte into a new file: it has its length
                        }
                        if (!force)
                        {
                            restoreFile(e, e.existed());
                            continue;
                        }
                        final boolean[] lifted = new boolean[1];
                        try (FileChannel ch = openToForce(e, lifted))
                        {
                            if (ch.size() != e.size)
                            {
                                throw new FerryException(ErrorCode.INTERNAL, "'" + PathGuard.printable(e.path()) +
                                    "' has " + ch.size() + " bytes after the copy, expected " + e.size);
                            }
                            if (es.is(i, TargetEntries.RESTORED) && !lifted[0])
                            {
                                restored.incrementAndGet();
                            }
                            else
                            {
                                restoreFile(e, lifted[0] || e.existed());
                            }
                            ch.force(true);
                            forced.incrementAndGet();
                        }
                    }
                }
                catch (final IOException ex)
                {
                    synchronized (ioFailure)
                    {
                        ioFailure[0] = ex;
                    }
                }
                catch (final RuntimeException ex)
                {
                    synchronized (ioFailure)
                    {
                        failure[0] = ex;
                    }
                }
            };
            if (threads == 1)
            {
                r.run();
            }
            else
            {
                workers[t] = new Thread(r, "ferry-file-sync-" + t);
                workers[t].start();
            }
        }
        if (threads > 1)
        {
            for (final Thread w : workers)
            {
                try
                {
                    w.join();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new FerryException(ErrorCode.CANCELLED, "FILE SYNC interrupted");
                }
            }
        }
        synchronized (ioFailure)
        {
            if (failure[0] != null)
            {
                throw failure[0];
            }
            if (ioFailure[0] != null)
            {
                throw ioFailure[0];
            }
        }
    }
}
