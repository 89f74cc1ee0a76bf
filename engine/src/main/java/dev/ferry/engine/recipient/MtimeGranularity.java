package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

/**
 * How finely the copy's file system keeps mtimes: 1 ns on ext4 with large inodes, XFS, Btrfs and tmpfs; a whole second
 * on ext4 with 128-byte inodes, ext3, HFS+ and some NFS and SMB servers; two seconds on FAT. Measured once per run by
 * setting an odd number of nanoseconds on a probe file in the state directory and reading it back. A copy on such a
 * file system holds the donor's mtime cut down to the granularity, so an update compares the two at it (rsync's
 * {@code --modify-window}): compared exactly, every file's quick check would fail and the whole tree would be read
 * and hashed on every update, and FILE SYNC would set every entry's times again.
 */
final class MtimeGranularity
{
    /** Nanoseconds: the exact comparison. */
    static final long EXACT = 1;
    /** No granularity explains what the file system kept: nothing may rely on the mtime (compared exactly). */
    static final long UNKNOWN = Long.MAX_VALUE;

    private MtimeGranularity()
    {
    }

    /**
     * @return the granularity in ns (1, 10, ..., 1e9, 2e9), or {@link #UNKNOWN} (also when no probe could be made).
     */
    static long measure(final Path dir)
    {
        Path probe = null;
        try
        {
            probe = Files.createTempFile(dir, ".mtime-probe-", "");
            return measureOn(probe);
        }
        catch (final IOException | RuntimeException ex)
        {
            return UNKNOWN;
        }
        finally
        {
            if (probe != null)
            {
                try
                {
                    Files.deleteIfExists(probe);
                }
                catch (final IOException ignore)
                {
                    // in the state directory, which goes at the end
                }
            }
        }
    }

    /**
     * @return the granularity {@code file}'s file system keeps (it sets the file's mtime).
     */
    static long measureOn(final Path file) throws IOException
    {
        final long probe = 1_000_000_000L * 1_000_000_123L + 456_789_123L; // an odd number of nanoseconds
        Files.setLastModifiedTime(file, FileTime.from(Instant.ofEpochSecond(probe / 1_000_000_000L,
            probe % 1_000_000_000L)));
        final Instant back = Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).toInstant();
        final long read = back.getEpochSecond() * 1_000_000_000L + back.getNano();
        for (long g = 1; g <= 2_000_000_000L; g = g == 1_000_000_000L ? 2_000_000_000L : g * 10)
        {
            if (read == Math.floorDiv(probe, g) * g)
            {
                return g;
            }
        }
        return UNKNOWN;
    }

    /**
     * @return whether the copy's mtime {@code copy} is what its file system keeps of the donor's {@code donor}.
     */
    static boolean same(final long copy, final long donor, final long granularity)
    {
        return copy == donor || granularity != UNKNOWN && granularity > EXACT && copy == kept(donor, granularity);
    }

    /**
     * @return what a file system of {@code granularity} keeps of mtime {@code nanos}.
     */
    static long kept(final long nanos, final long granularity)
    {
        return granularity == UNKNOWN || granularity <= EXACT ? nanos : Math.floorDiv(nanos, granularity) * granularity;
    }
}
