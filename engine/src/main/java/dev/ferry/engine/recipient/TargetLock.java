package dev.ferry.engine.recipient;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.layout.ManifestScanner;

/**
 * Makes a target belong to one clone: an OS file lock on {@code TARGET/.ferry/lock}, held for the whole run, taken
 * before anything in the target is read or written. The file names the owner (pid and host) so that a second client
 * can say who holds it. The kernel drops the lock when its process dies, so a stale lock file is taken over
 * silently. A second lock from the same JVM (two clients embedded in one program) is refused the same way.
 * <p>
 * The lock file is locked in place: after locking, the path is checked to still exist (a finishing clone removes
 * {@code .ferry/} with the lock held, and a late contender must not keep a lock on an unlinked file).
 * What the lock itself created ({@code .ferry/} and an absent target) is removed again when the run ends without
 * having begun (nothing but the lock in {@code .ferry/}), so a refused or unreachable donor leaves the target as it
 * was.
 * <p>
 * Owned by the thread that runs the clone; not thread-safe.
 */
public final class TargetLock implements AutoCloseable
{
    /** The lock's file name inside the state directory. */
    public static final String FILE = "lock";
    private static final int ATTEMPTS = 5;

    private final Path target;
    private final Path stateDir;
    private final Path lockPath;
    private final boolean createdTarget;
    private final boolean createdStateDir;
    private FileChannel channel;
    private FileLock lock;

    private TargetLock(final Path target, final boolean createdTarget, final boolean createdStateDir)
    {
        this.target = target;
        this.stateDir = target.resolve(ManifestScanner.STATE_DIR);
        this.lockPath = stateDir.resolve(FILE);
        this.createdTarget = createdTarget;
        this.createdStateDir = createdStateDir;
    }

    /**
     * Lock {@code target} for this process.
     *
     * @return the lock, or null if {@code target} exists and is not a directory (the caller reports that).
     * @throws FerryException {@link ErrorCode#TARGET_IN_USE} if another clone holds it; {@link ErrorCode#IO_ERROR}
     *                        if the lock cannot be made.
     */
    public static TargetLock acquire(final Path target)
    {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        final Path stateDir = target.resolve(ManifestScanner.STATE_DIR);
        boolean createdTarget = false;
        boolean createdStateDir = false;
        try
        {
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS))
            {
                final Path parent = target.getParent();
                if (parent != null)
                {
                    Files.createDirectories(parent);
                }
                try
                {
                    Files.createDirectory(target);
                    createdTarget = true;
                }
                catch (final FileAlreadyExistsException raced)
                {
                    // another client made it first: the lock decides
                }
            }
            if (Files.isSymbolicLink(stateDir) || Files.exists(stateDir, LinkOption.NOFOLLOW_LINKS) &&
                !Files.isDirectory(stateDir, LinkOption.NOFOLLOW_LINKS))
            {
                throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " holds a '" +
                    ManifestScanner.STATE_DIR + "' that is not a directory; it is not a Ferry clone", "choose an empty directory", null);
            }
            try
            {
                Files.createDirectory(stateDir);
                createdStateDir = true;
            }
            catch (final FileAlreadyExistsException exists)
            {
                // an interrupted or running clone: the lock decides
            }
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot lock target " + target + ": " + ex.getMessage() +
                " (check the path and permissions)", ex);
        }
        final TargetLock l = new TargetLock(target, createdTarget, createdStateDir);
        try
        {
            l.lock();
        }
        catch (final RuntimeException ex)
        {
            l.close();
            throw ex;
        }
        return l;
    }

    private void lock()
    {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++)
        {
            final FileChannel ch;
            try
            {
                ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            }
            catch (final NoSuchFileException gone)
            {
                // the holder finished and removed .ferry/ between our checks: the target is a finished copy now
                throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " was completed by another " +
                    "ferry clone while this one started");
            }
            catch (final IOException ex)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "cannot open " + lockPath + ": " + ex.getMessage(), ex);
            }
            FileLock l = null;
            try
            {
                l = ch.tryLock();
            }
            catch (final OverlappingFileLockException sameJvm)
            {
                l = null;
            }
            catch (final IOException ex)
            {
                closeQuietly(ch);
                throw new FerryException(ErrorCode.IO_ERROR, "cannot lock " + lockPath + ": " + ex.getMessage(), ex);
            }
            if (l == null)
            {
                final String owner = readOwner(ch);
                closeQuietly(ch);
                throw inUse(target, owner);
            }
            if (!stillAtPath())
            {
                releaseQuietly(l);
                closeQuietly(ch);
                continue;
            }
            channel = ch;
            lock = l;
            writeOwner();
            return;
        }
        throw new FerryException(ErrorCode.TARGET_IN_USE, target + " keeps changing hands between ferry clones");
    }

    /**
     * A clone that finishes removes {@code .ferry/} with its lock held; a contender that opened the file just before
     * then locks an unlinked file. Only a lock on the file the path still names counts.
     */
    private boolean stillAtPath()
    {
        return Files.exists(lockPath, LinkOption.NOFOLLOW_LINKS);
    }

    private static String readOwner(final FileChannel ch)
    {
        try
        {
            final ByteBuffer b = ByteBuffer.allocate(256);
            ch.read(b, 0);
            final String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
            return s.replaceAll("[^\\x20-\\x7e]", "?");
        }
        catch (final IOException ex)
        {
            return "";
        }
    }

    private void writeOwner()
    {
        String host;
        try
        {
            host = InetAddress.getLocalHost().getHostName();
        }
        catch (final IOException | RuntimeException ex)
        {
            host = "unknown host";
        }
        final String text = "pid " + ProcessHandle.current().pid() + " on " + host + "\n";
        try
        {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), 0);
        }
        catch (final IOException ex)
        {
            // the lock holds without its label; a contender just cannot name us
        }
    }

    /**
     * Check, without creating or writing anything, whether another clone holds {@code target}.
     *
     * @throws FerryException {@link ErrorCode#TARGET_IN_USE} naming the owner if one does.
     */
    public static void refuseIfHeld(final Path target)
    {
        final Path lockPath = target.resolve(ManifestScanner.STATE_DIR).resolve(FILE);
        if (!Files.isRegularFile(lockPath, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        try (FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            FileLock probe = null;
            try
            {
                probe = ch.tryLock(0, Long.MAX_VALUE, true);
            }
            catch (final OverlappingFileLockException sameJvm)
            {
                probe = null;
            }
            if (probe != null)
            {
                probe.release();
                return;
            }
            final String owner = readOwner(ch);
            throw inUse(target, owner);
        }
        catch (final IOException ex)
        {
            // unreadable lock: the real acquisition reports it
        }
    }

    private static FerryException inUse(final Path target, final String owner)
    {
        return new FerryException(ErrorCode.TARGET_IN_USE, target + " is being written by another ferry clone" +
            (owner.isEmpty() ? "" : " (" + owner + ")"));
    }

    /**
     * @return true if {@code .ferry/} existed before this lock (an interrupted or resumable clone).
     */
    public boolean stateExisted()
    {
        return !createdStateDir;
    }

    /**
     * Release the lock; remove what the lock alone created if nothing else was written.
     */
    @Override
    public void close()
    {
        try
        {
            if (lock != null && createdStateDir && onlyLockInState())
            {
                Files.deleteIfExists(lockPath);
                Files.deleteIfExists(stateDir);
                if (createdTarget && isEmpty(target))
                {
                    Files.deleteIfExists(target);
                }
            }
            else if (lock == null && createdStateDir && isEmpty(stateDir))
            {
                Files.deleteIfExists(stateDir);
                if (createdTarget && isEmpty(target))
                {
                    Files.deleteIfExists(target);
                }
            }
        }
        catch (final IOException ignore)
        {
            // leftovers of an empty run are harmless
        }
        if (lock != null)
        {
            releaseQuietly(lock);
            lock = null;
        }
        if (channel != null)
        {
            closeQuietly(channel);
            channel = null;
        }
    }

    /**
     * @return true if the state directory holds nothing but the lock: the run never began writing (every clone
     * writes its status there first), whatever else the target holds.
     */
    private boolean onlyLockInState() throws IOException
    {
        if (!Files.isDirectory(stateDir, LinkOption.NOFOLLOW_LINKS))
        {
            return false;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(stateDir))
        {
            for (final Path p : s)
            {
                if (!p.getFileName().toString().equals(FILE))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isEmpty(final Path dir) throws IOException
    {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
        {
            return false;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir))
        {
            return !s.iterator().hasNext();
        }
    }

    private static void releaseQuietly(final FileLock l)
    {
        try
        {
            l.release();
        }
        catch (final IOException ignore)
        {
            // closing the channel releases it too
        }
    }

    private static void closeQuietly(final FileChannel ch)
    {
        try
        {
            ch.close();
        }
        catch (final IOException ignore)
        {
            // nothing to flush
        }
    }
}
