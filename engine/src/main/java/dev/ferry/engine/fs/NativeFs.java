package dev.ferry.engine.fs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The one seam to the file system calls the JDK lacks: {@code syncfs}, data extents by SEEK_DATA/SEEK_HOLE,
 * {@code mkfifo}/{@code mknod}, symlinks made and read with their target's exact bytes, xattrs of any namespace without following symlinks, nanosecond times set by
 * path without following symlinks, an lstat that includes {@code st_blocks}, and extending a file with a hole by raw
 * path. Nothing else in Ferry knows which implementation runs.
 * <ul>
 *   <li>{@code JnaFs}: Linux libc through JNA direct mapping, on x86-64, aarch64 and riscv64.</li>
 *   <li>{@code PureJavaFs}: the fallback, used when JNA cannot load, on other platforms, and when
 *   {@value #NATIVE_PROP_NAME}={@code false}. It does what the JDK can and says so: a {@code false} return means
 *   "not supported here", and the caller then falls back (fsync each file, send the whole file, warn that a special
 *   file or an xattr was not recreated).</li>
 * </ul>
 * Paths are NUL-terminated raw bytes ({@link PathBytes#cPath}), never Strings, so any Linux name works; a path that
 * is not NUL-terminated or has an interior NUL is refused with {@link IllegalArgumentException}. xattr names are raw
 * bytes without the NUL, as they travel on the wire ({@code "user.x"}). Errors the OS reports are thrown as the
 * {@link IOException} subtypes the JDK uses for the same errno ({@link java.nio.file.NoSuchFileException},
 * {@link java.nio.file.AccessDeniedException}, ...).
 * <p>
 * Thread-safe: one instance per process ({@link #instance()}); every method may be called from any thread. A
 * {@link DataExtentCursor} belongs to one thread at a time.
 */
public abstract class NativeFs
{
    /** System property: {@code false} forces the pure-Java fallback. */
    public static final String NATIVE_PROP_NAME = "ferry.native";
    /** Default of {@link #NATIVE_PROP_NAME}: use JNA where it loads. */
    public static final String NATIVE_DEFAULT = "true";

    /** Longest xattr name supported, in bytes with the namespace prefix (Linux XATTR_NAME_MAX). */
    public static final int MAX_XATTR_NAME_BYTES = 255;
    /** Largest xattr value supported, in bytes (Linux XATTR_SIZE_MAX; ext4 allows at most about one block). */
    public static final int MAX_XATTR_VALUE_BYTES = 64 * 1024;
    /** Largest list of xattr names of one entry, in bytes including one NUL per name (Linux XATTR_LIST_MAX). */
    public static final int MAX_XATTR_LIST_BYTES = 64 * 1024;

    /** For {@link #setTimes}: leave this time as it is. */
    public static final long TIME_OMIT = Long.MIN_VALUE;

    /** The xattr namespace the fallback supports. */
    static final String USER_NAMESPACE = "user.";

    /**
     * The implementation this process uses, chosen once on first use: JNA unless {@value #NATIVE_PROP_NAME} is
     * {@code false} or JNA cannot load (then {@link #description()} says why).
     */
    public static NativeFs instance()
    {
        return Holder.INSTANCE;
    }

    /**
     * Starts choosing the implementation on a daemon thread, for a command's {@code main}: loading JNA and binding
     * libc took about 50 ms of the main thread in a profiled update's client, before its first connection; begun at
     * the start, it overlaps the command line's parsing and the target's lock. Does nothing unless the setting asks
     * for JNA (a bad value is reported by the first real use, as without this).
     */
    public static void warmInBackground()
    {
        if (!NATIVE_DEFAULT.equalsIgnoreCase(System.getProperty(NATIVE_PROP_NAME, NATIVE_DEFAULT)))
        {
            return;
        }
        final Thread t = new Thread(NativeFs::instance, "ferry-native-init");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The pure-Java fallback, always available; for tests that compare both implementations.
     */
    public static NativeFs pureJava()
    {
        return PureJavaFs.INSTANCE;
    }

    /**
     * @return true if this implementation calls libc; false for the pure-Java fallback.
     */
    public abstract boolean isNative();

    /**
     * One line for logs and {@code ferry --version}-style output: which implementation runs and, for the fallback,
     * why.
     */
    public abstract String description();

    /**
     * Write back every dirty page and inode of the file system holding {@code anyPathOnTheFs} ({@code syncfs(2)}),
     * and report a writeback error the kernel recorded on it since it was opened (Linux 5.8 and later).
     *
     * @param anyPathOnTheFs an existing file or directory (not a symlink) on that file system.
     * @return true if synced; false if not supported here, and the caller must fsync each file itself.
     * @throws IOException if the path cannot be opened or the sync reports an error.
     */
    public abstract boolean syncfs(Path anyPathOnTheFs) throws IOException;

    /**
     * {@code lstat} the entry at {@code cPath} (a symlink is not followed). The native call is one {@code statx} and
     * also gives {@link EntryStat#blocks()}; the fallback is {@link EntryStat#read}, without blocks.
     *
     * @throws IOException e.g. {@link java.nio.file.NoSuchFileException}.
     */
    public abstract EntryStat stat(byte[] cPath) throws IOException;

    /**
     * Set the length of the regular file at {@code cPath} (a symlink is refused): shrink it, or extend it with a hole
     * ({@code ftruncate}), which is how the recipient ends a file whose tail is a hole. The fallback extends by
     * writing one zero byte at the new end, which allocates that last block.
     *
     * @throws IOException if the file cannot be opened for writing or the length cannot be set.
     */
    public abstract void setLength(byte[] cPath, long length) throws IOException;

    /**
     * A new cursor over the data extents of regular files; reusable for file after file by its owning thread.
     */
    public abstract DataExtentCursor newDataExtentCursor();

    /**
     * Create a FIFO ({@code mkfifo(3)}). The process umask applies: set the exact mode afterwards with chmod.
     *
     * @return true if created; false if not supported here (the caller warns that the FIFO was not recreated).
     * @throws IOException e.g. {@link java.nio.file.FileAlreadyExistsException}.
     */
    public abstract boolean mkfifo(byte[] cPath, int mode) throws IOException;

    /**
     * Create a file system node ({@code mknod(2)}): a character or block device ({@link EntryStat#S_IFCHR} or
     * {@link EntryStat#S_IFBLK} in {@code mode}, needs CAP_MKNOD), a FIFO or a socket node. The umask applies.
     *
     * @param mode file type bits and permission bits, as {@link EntryStat#mode()}.
     * @param rdev the device number, as {@link EntryStat#rdev()} (glibc {@code dev_t} encoding).
     * @return true if created; false if not supported here (the caller warns).
     * @throws IOException e.g. {@link java.nio.file.AccessDeniedException} when not privileged.
     */
    public abstract boolean mknod(byte[] cPath, int mode, long rdev) throws IOException;

    /**
     * Create a symbolic link at {@code cPath} whose target is exactly {@code target} ({@code symlink(2)}): the bytes
     * are stored as given, so {@code "a//b/"} stays {@code "a//b/"}. The fallback goes through the JDK's
     * {@code Files.createSymbolicLink}, whose {@code Path} folds repeated and trailing '/' ({@code "a/b"}); every other
     * byte comes out exact there too.
     *
     * @param target the target's raw bytes, without a NUL terminator: absolute or relative, nothing resolved.
     * @param cPath  where the link goes, NUL-terminated ({@link PathBytes#cPath}).
     * @throws IllegalArgumentException if {@code target} is empty or holds a NUL byte.
     * @throws IOException e.g. {@link java.nio.file.FileAlreadyExistsException}.
     */
    public abstract void symlink(byte[] target, byte[] cPath) throws IOException;

    /**
     * The target of the symbolic link at {@code cPath}, exactly as stored ({@code readlink(2)}; no NUL). The fallback
     * reads it through the JDK, which keeps the bytes but whose name-by-name route for a target that is not valid text
     * in {@code sun.jnu.encoding} folds repeated '/'.
     *
     * @throws IOException if it cannot be read, e.g. EINVAL when the entry is not a symlink.
     */
    public abstract byte[] readlink(byte[] cPath) throws IOException;

    /**
     * The names of the extended attributes of the entry itself (a symlink is not followed), in the order the file
     * system lists them; empty if it has none or its file system has no xattrs. The fallback lists only
     * {@code user.*} names of regular files and directories that the JDK can represent exactly.
     *
     * @throws IOException if the entry cannot be read, or its list exceeds {@link #MAX_XATTR_LIST_BYTES}.
     */
    public abstract List<byte[]> listXattrs(byte[] cPath) throws IOException;

    /**
     * The value of the extended attribute {@code name} of the entry itself (a symlink is not followed).
     *
     * @return the value (possibly empty), or null if the entry has no such attribute (or, in the fallback, the
     * name is outside {@code user.*} or the entry is not a regular file or directory).
     * @throws IOException if it cannot be read or is larger than {@link #MAX_XATTR_VALUE_BYTES}.
     */
    public abstract byte[] getXattr(byte[] cPath, byte[] name) throws IOException;

    /**
     * Create or replace the extended attribute {@code name} of the entry itself (a symlink is not followed).
     * Linux allows {@code user.*} only on regular files and directories, {@code trusted.*} and most
     * {@code security.*} only with CAP_SYS_ADMIN.
     *
     * @return true if set; false if not supported here (the fallback: a name outside {@code user.*}, or an entry that
     * is not a regular file or directory). The caller warns.
     * @throws IOException if the OS refuses, e.g. {@link java.nio.file.AccessDeniedException}.
     * @throws IllegalArgumentException if the name is empty, has a NUL or exceeds {@link #MAX_XATTR_NAME_BYTES},
     *                                  or the value exceeds {@link #MAX_XATTR_VALUE_BYTES}.
     */
    public abstract boolean setXattr(byte[] cPath, byte[] name, byte[] value) throws IOException;

    /**
     * Remove the extended attribute {@code name} of the entry itself (a symlink is not followed).
     *
     * @return true if removed, false if it was absent or is not supported here.
     * @throws IOException if the OS refuses.
     */
    public abstract boolean removeXattr(byte[] cPath, byte[] name) throws IOException;

    /**
     * Set the access and modification times of the entry itself, in nanoseconds since the epoch, by path and without
     * following a symlink ({@code utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW)}). The native call needs no
     * open file, so an owner may set the times of a file of mode 000. The fallback uses the JDK, which keeps only
     * microseconds on a symlink and must open a regular file for reading.
     *
     * @param atimeNanos access time, or {@link #TIME_OMIT} to leave it.
     * @param mtimeNanos modification time, or {@link #TIME_OMIT} to leave it.
     * @throws IOException if the OS refuses.
     */
    public abstract void setTimes(byte[] cPath, long atimeNanos, long mtimeNanos) throws IOException;

    /**
     * Write a whole small regular file at once: create it (it should not exist; an existing one is overwritten from
     * offset 0, not truncated), write {@code length} bytes of native memory from {@code address} at offset 0, set its
     * modification time on the open descriptor ({@code futimens}: the access time is left), close it. Four calls and
     * no path lookup for the times, where writing through a channel and restoring the times later by path costs a
     * second lookup of the name in its directory (issue 10: on 200,000 tiny files the later {@code utimensat} pass took
     * 1.1 CPU-seconds). The final component is not followed. The file gets the mode new files get here.
     *
     * @return false if this implementation cannot (the pure-Java one): nothing was done, the caller writes the file
     *     its own way.
     * @throws IOException if the OS refuses a step (the file may then exist, partly written).
     */
    public boolean writeWholeFile(final byte[] cPath, final long address, final int length, final long mtimeNanos)
        throws IOException
    {
        return false;
    }

    /** {@link #readWholeFile}'s {@code stat}: the size after the read. */
    public static final int READ_SIZE = 0;
    /** {@link #readWholeFile}'s {@code stat}: the modification time after the read, in ns since the epoch. */
    public static final int READ_MTIME = 1;
    /** {@link #readWholeFile}'s {@code stat}: the file type bits ({@link EntryStat#S_IFMT}) of what was opened. */
    public static final int READ_TYPE = 2;

    /**
     * Read a whole small file at once, the donor's side of {@link #writeWholeFile}: open it by path for reading
     * without following a final symlink and without blocking on a FIFO put in its place ({@code O_NONBLOCK}), read
     * from offset 0 into {@code capacity} bytes of native memory at {@code address} until its end or the capacity,
     * take its size, modification time and type from the open descriptor (the file that was read, whatever its name
     * names by then), close it. Four calls and no second lookup of the name, where a {@code FileChannel} and a stat
     * by path after the read cost a second walk of the path and a few objects per file (issue 10: 4% less CPU for
     * the donor of 200,000 tiny files; the kernel's {@code open} is most of what is left).
     *
     * @param stat receives {@link #READ_SIZE}, {@link #READ_MTIME} and {@link #READ_TYPE} (at least 3 long).
     * @return the bytes read (fewer than {@code capacity} only at the file's end), or -1 if this implementation cannot
     *     (the pure-Java one): nothing was done, the caller reads the file its own way.
     * @throws IOException if the OS refuses a step ({@link java.nio.file.NoSuchFileException} when the name is gone).
     */
    public int readWholeFile(final byte[] cPath, final long address, final int capacity, final long[] stat)
        throws IOException
    {
        return -1;
    }

    /**
     * Off-heap memory for a buffer that may never be filled: {@link java.nio.ByteBuffer#allocateDirect} writes
     * zeros over all of it at once, so every page is faulted in then, used or not. The native implementation takes
     * it from {@code malloc} instead, whose large blocks the kernel maps on first touch: a block buffer of 1 MiB that
     * only ever holds a few KiB (a batch of tiny files, the pieces of an update) costs those few KiB. Measured here
     * (issue 12): the update's client spent 0.23 s of CPU in the page faults of zeroing its block pools, on the
     * connection's thread. The contents are not zeroed: callers read only what they wrote. Released some time after
     * the buffer and every slice of it are unreachable (JNA notices when it makes a later one), as a direct buffer is
     * after a collection; not counted against {@code -XX:MaxDirectMemorySize}.
     *
     * @return a direct buffer of {@code capacity} bytes, big-endian as any new buffer.
     */
    public java.nio.ByteBuffer untouchedBuffer(final int capacity)
    {
        return java.nio.ByteBuffer.allocateDirect(capacity);
    }

    /** {@link #description()}. */
    @Override
    public String toString()
    {
        return description();
    }

    static void checkLinkTarget(final byte[] target)
    {
        if (target.length == 0)
        {
            throw new IllegalArgumentException("symlink target is empty");
        }
        for (final byte b : target)
        {
            if (b == 0)
            {
                throw new IllegalArgumentException("symlink target contains a NUL byte: " + PathBytes.display(target));
            }
        }
    }

    static void checkXattrName(final byte[] name)
    {
        if (name.length == 0 || name.length > MAX_XATTR_NAME_BYTES)
        {
            throw new IllegalArgumentException(
                "xattr name must be 1 to " + MAX_XATTR_NAME_BYTES + " bytes, got " + name.length);
        }
        for (final byte b : name)
        {
            if (b == 0)
            {
                throw new IllegalArgumentException("xattr name has a NUL byte: " + PathBytes.display(name));
            }
        }
    }

    static void checkXattrValue(final byte[] value)
    {
        if (value.length > MAX_XATTR_VALUE_BYTES)
        {
            throw new IllegalArgumentException(
                "xattr value of " + value.length + " bytes exceeds " + MAX_XATTR_VALUE_BYTES);
        }
    }

    private static NativeFs choose()
    {
        final String setting = System.getProperty(NATIVE_PROP_NAME, NATIVE_DEFAULT);
        if ("false".equalsIgnoreCase(setting))
        {
            return new PureJavaFs(NATIVE_PROP_NAME + "=false");
        }
        if (!"true".equalsIgnoreCase(setting))
        {
            throw new IllegalArgumentException(NATIVE_PROP_NAME + " must be true or false, got '" + setting + "'");
        }
        final String os = System.getProperty("os.name", "");
        final String arch = System.getProperty("os.arch", "");
        if (!os.equals("Linux"))
        {
            return new PureJavaFs("not Linux (" + os + ")");
        }
        if (!(arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64") || arch.equals("riscv64")))
        {
            return new PureJavaFs("no native bindings for " + arch);
        }
        try
        {
            return JnaFs.load();
        }
        catch (final LinkageError | RuntimeException ex)
        {
            return new PureJavaFs("JNA did not load: " + ex);
        }
    }

    private static final class Holder
    {
        static final NativeFs INSTANCE = choose();
    }
}
