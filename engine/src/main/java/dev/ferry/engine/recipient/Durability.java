package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.file.Path;

import dev.ferry.engine.fs.NativeFs;

/**
 * How the recipient makes what it wrote durable. Where the platform has {@code syncfs(2)} (the native seam), one call
 * writes back and waits for every dirty page and inode of the target's file system: the journal's checkpoints (about
 * once a second) and FILE SYNC then cost one system call instead of an {@code fsync} per file written, the kernel
 * merges the writeback of thousands of small files, and a checkpoint every second keeps large files' writeback
 * running behind the network instead of leaving it all to the end. Without the seam (pure-Java fallback), each file
 * and directory is forced on its own, as before. The promise is the same either way: nothing is recorded as applied,
 * and {@code .ferry/} is not removed, before the bytes are on disk.
 * <p>
 * Thread-safe (stateless).
 */
final class Durability
{
    private Durability()
    {
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
