package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.file.Path;

import dev.ferry.engine.fs.NativeFs;

/**
 * How the recipient makes what it wrote durable. Forcing many small files one {@code fsync} at a time is what made a
 * durable clone of 20,000 small files slower than {@code tar | nc; sync}: each call waits for the disk. Where the
 * platform has {@code syncfs(2)} (the native seam), one call writes back and waits for every dirty page and inode of
 * the target's file system, so the kernel merges the writeback of thousands of files. But it also writes back
 * whatever else is dirty on that file system (other programs' data): measured here, on a busy machine a clone of six
 * 512 MiB files took twice as long with a syncfs per checkpoint as with an fsync per file. So the choice is by count:
 * more than {@link #MANY_FILES} files to force at once take one syncfs; fewer take an fsync each (only Ferry's data,
 * and large files' writeback still runs behind the network at every checkpoint). Without the seam, always file by
 * file. The promise is the same either way: nothing is recorded as applied, and {@code .ferry/} is not removed, before
 * the bytes are on disk.
 * <p>
 * Thread-safe (stateless).
 */
final class Durability
{
    /** Above this many files to force at once, one syncfs beats an fsync each. */
    static final int MANY_FILES = 256;

    private Durability()
    {
    }

    /**
     * @return true if forcing {@code files} files is cheaper as one syncfs here.
     */
    static boolean wholeFileSystemFor(final int files)
    {
        return files > MANY_FILES && fileSystemWide();
    }

    /**
     * @return true if {@link #syncFileSystem} can force a whole file system here.
     */
    static boolean fileSystemWide()
    {
        return NativeFs.instance().isNative();
    }

    /**
     * Force every dirty page and inode of the file system holding {@code path}.
     *
     * @return false if the platform cannot (the caller forces file by file).
     * @throws IOException if write-back failed (the disk or file system reported an error).
     */
    static boolean syncFileSystem(final Path path) throws IOException
    {
        return NativeFs.instance().syncfs(path);
    }
}
