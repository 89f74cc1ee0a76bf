package dev.ferry.engine.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EntryStatTest
{
    /** dev, ino, raw mode (hex), nlink, uid, gid, major and minor of rdev (hex), size, mtime and ctime with ns. */
    private static final String STAT_FORMAT = "%d %i %f %h %u %g %t %T %s %.9Y %.9Z";

    @TempDir
    Path dir;

    @Test
    void regularFileWithSetuidAndTwoLinksMatchesStat() throws IOException
    {
        final Path f = Files.write(dir.resolve("f"), new byte[12345]);
        Files.createLink(dir.resolve("g"), f);
        FsTestSupport.sh("chmod 4751 '" + f + "' && touch -m -d @981173106.123456789 '" + f + "'").assertOk();
        final EntryStat s = EntryStat.read(f);
        assertMatchesStat(f, s);
        assertEquals(EntryStat.S_IFREG | 04751, s.mode());
        assertEquals(04751, s.permissions());
        assertEquals(2, s.nlink());
        assertEquals(12345, s.size());
        assertTrue(s.isRegular());
        assertEquals(981173106_123456789L, s.mtimeNanos(), "nanoseconds kept");
        final EntryStat g = EntryStat.read(dir.resolve("g"));
        assertEquals(s.ino(), g.ino(), "hard links share (dev, ino)");
        assertEquals(s.dev(), g.dev());
    }

    @Test
    void directoryWithStickyAndSetgidMatchesStat() throws IOException
    {
        final Path d = Files.createDirectory(dir.resolve("d"));
        FsTestSupport.sh("chmod 3770 '" + d + "'").assertOk();
        final EntryStat s = EntryStat.read(d);
        assertMatchesStat(d, s);
        assertEquals(EntryStat.S_IFDIR | 03770, s.mode());
        assertTrue(s.isDirectory());
    }

    @Test
    void symlinkIsNotFollowed() throws IOException
    {
        final Path target = Files.write(dir.resolve("target"), new byte[100]);
        final Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        final EntryStat s = EntryStat.read(link);
        assertMatchesStat(link, s);
        assertTrue(s.isSymlink());
        assertEquals(target.toString().length(), s.size(), "a symlink's size is its target's length");
        final EntryStat dangling = EntryStat.read(Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("none")));
        assertTrue(dangling.isSymlink());
        assertThrows(NoSuchFileException.class, () -> EntryStat.read(dir.resolve("none")));
    }

    @Test
    void fifoAndCharacterDeviceMatchStat() throws IOException
    {
        final Path fifo = dir.resolve("fifo");
        FsTestSupport.sh("mkfifo -m 640 '" + fifo + "'").assertOk();
        final EntryStat f = EntryStat.read(fifo);
        assertMatchesStat(fifo, f);
        assertEquals(EntryStat.S_IFIFO | 0640, f.mode());
        assertTrue(f.isSpecial());

        final EntryStat devNull = EntryStat.read(Path.of("/dev/null"));
        assertMatchesStat(Path.of("/dev/null"), devNull);
        assertEquals(EntryStat.S_IFCHR, devNull.type());
        assertEquals(1, EntryStat.major(devNull.rdev()), "/dev/null is 1:3");
        assertEquals(3, EntryStat.minor(devNull.rdev()));
        assertEquals(EntryStat.makedev(1, 3), devNull.rdev());
    }

    @Test
    void deviceNumbersRoundTripLikeGlibc()
    {
        for (final int[] mm : new int[][] { { 0, 0 }, { 1, 3 }, { 8, 17 }, { 259, 65536 }, { 4095, 255 }, { 4096, 256 },
            { 0xfffff, 0xfffff }, { -1, -1 } })
        {
            final long dev = EntryStat.makedev(mm[0], mm[1]);
            assertEquals(mm[0], EntryStat.major(dev), "major of " + mm[0] + ":" + mm[1]);
            assertEquals(mm[1], EntryStat.minor(dev), "minor of " + mm[0] + ":" + mm[1]);
        }
        assertEquals(0x0813L, EntryStat.makedev(8, 0x13), "small numbers: the old 16-bit layout");
        assertEquals(0x0000_1000_0000_0000L | 0x10_0000L, EntryStat.makedev(0x1000, 0x100));
    }

    /** JDK 17 on Linux sets owners with lchown when told not to follow links: the seam needs no lchown. */
    @Test
    void setOwnerWithNoFollowChangesTheLinkNotItsTarget() throws IOException
    {
        assumeTrue(FsTestSupport.isRoot(), "chown to another user needs root");
        final Path target = Files.createFile(dir.resolve("target"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        Files.setAttribute(link, "unix:uid", 1234, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(link, "unix:gid", 4321, LinkOption.NOFOLLOW_LINKS);
        assertEquals("1234 4321", FsTestSupport.stat(link, "%u %g"));
        assertEquals("0 0", FsTestSupport.stat(target, "%u %g"), "the target is untouched");
        final EntryStat s = EntryStat.read(link);
        assertEquals(1234, s.uid());
        assertEquals(4321, s.gid());
        assertFalse(EntryStat.read(target).uid() == 1234);
    }

    private static void assertMatchesStat(final Path p, final EntryStat s)
    {
        final String[] f = FsTestSupport.stat(p, STAT_FORMAT).split(" ");
        assertEquals(Long.parseLong(f[0]), s.dev(), "dev");
        assertEquals(Long.parseLong(f[1]), s.ino(), "ino");
        assertEquals(Integer.parseInt(f[2], 16), s.mode(), "mode");
        assertEquals(Integer.parseInt(f[3]), s.nlink(), "nlink");
        assertEquals(Integer.parseInt(f[4]), s.uid(), "uid");
        assertEquals(Integer.parseInt(f[5]), s.gid(), "gid");
        assertEquals(Integer.parseInt(f[6], 16), EntryStat.major(s.rdev()), "rdev major");
        assertEquals(Integer.parseInt(f[7], 16), EntryStat.minor(s.rdev()), "rdev minor");
        assertEquals(Long.parseLong(f[8]), s.size(), "size");
        assertEquals(nanos(f[9]), s.mtimeNanos(), "mtime");
        assertEquals(nanos(f[10]), s.ctimeNanos(), "ctime");
    }

    private static long nanos(final String secondsDotNanos)
    {
        final int dot = secondsDotNanos.indexOf('.');
        return Long.parseLong(secondsDotNanos.substring(0, dot)) * 1_000_000_000L +
            Long.parseLong(secondsDotNanos.substring(dot + 1));
    }
}
