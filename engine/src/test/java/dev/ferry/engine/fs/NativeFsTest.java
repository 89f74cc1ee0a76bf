package dev.ferry.engine.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.ferry.engine.fs.PathBytes.cPath;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every {@link NativeFs} function, with JNA and with the pure-Java fallback. The machine this runs on (Linux,
 * x86-64, ext4, root) must load JNA: a silent fallback would make half of these tests vacuous, so that is a failure.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NativeFsTest
{
    private static final long GIB = 1L << 30;
    private static final int BLOCK = 4096;
    private static final byte[] BINARY = { 0, (byte)0xff, 1, 0, (byte)0x80, 0x7f, 0 };

    @TempDir
    Path dir;

    static Stream<NativeFs> both()
    {
        return Stream.of(NativeFs.instance(), NativeFs.pureJava());
    }

    @Test
    void jnaLoadsOnThisMachine()
    {
        assertTrue(NativeFs.instance().isNative(), NativeFs.instance().description());
        assertFalse(NativeFs.pureJava().isNative());
    }

    @Test
    void systemPropertyChoosesTheFallbackInAFreshJvm()
    {
        final String cp = System.getProperty("java.class.path");
        final String dflt = FsTestSupport.java(NativeFsProbe.class, List.of(), Map.of(), cp, false, "which")
            .assertOk().out();
        assertTrue(dflt.startsWith("native=true native (JNA 5.19.1"), dflt);
        final String off = FsTestSupport.java(NativeFsProbe.class, List.of("-D" + NativeFs.NATIVE_PROP_NAME + "=false"),
            Map.of(), cp, false, "which").assertOk().out();
        assertTrue(off.startsWith("native=false pure Java (ferry.native=false)"), off);
        final FsTestSupport.Result bad = FsTestSupport.java(NativeFsProbe.class,
            List.of("-D" + NativeFs.NATIVE_PROP_NAME + "=maybe"), Map.of(), cp, false, "which");
        assertTrue(bad.exitCode() != 0 && bad.stderr().contains("ferry.native must be true or false"), bad.stderr());
    }

    /** Without the JNA jar, and with it but switched off, Ferry gets the fallback and every call answers. */
    @Test
    void fallbackWorksWhenJnaIsMissingOrSwitchedOff() throws IOException
    {
        final Path withoutJna = NativeFsProbe.readableClassPath(dir.resolve("cp"), false);
        final List<String> expected = List.of("native=false", "syncfs=false", "extents=[0+5000)", "mkfifo=false",
            "setXattr=true", "getXattr=00ff", "listXattrs=1", "mtime=1000000000123456789");
        final FsTestSupport.Result missing = FsTestSupport.java(NativeFsProbe.class, List.of(), Map.of(),
            withoutJna.toString(), false, "smoke", Files.createDirectory(dir.resolve("a")).toString()).assertOk();
        assertEquals(expected, Arrays.asList(missing.out().split("\n")), missing.stderr());
        final String why = FsTestSupport.java(NativeFsProbe.class, List.of(), Map.of(), withoutJna.toString(), false,
            "which").assertOk().out();
        assertTrue(why.contains("JNA did not load: java.lang.NoClassDefFoundError"), why);
        final FsTestSupport.Result off = FsTestSupport.java(NativeFsProbe.class,
            List.of("-D" + NativeFs.NATIVE_PROP_NAME + "=false"), Map.of(), System.getProperty("java.class.path"), false,
            "smoke", Files.createDirectory(dir.resolve("b")).toString()).assertOk();
        assertEquals(expected, Arrays.asList(off.out().split("\n")), off.stderr());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void untouchedBuffersHoldWhatIsWrittenWhileASliceOfThemLives(final NativeFs fs)
    {
        final int capacity = 3 * 1024 * 1024 + 5;
        java.nio.ByteBuffer root = fs.untouchedBuffer(capacity);
        assertTrue(root.isDirect());
        assertEquals(capacity, root.capacity());
        assertEquals(java.nio.ByteOrder.BIG_ENDIAN, root.order());
        final java.nio.ByteBuffer aligned = root.alignedSlice(BLOCK).slice();
        root = null;
        for (int i = 0; i + 8 <= aligned.capacity(); i += 4093)
        {
            aligned.putLong(i, 0x0123456789abcdefL ^ i);
        }
        for (int gc = 0; gc < 3; gc++)
        {
            System.gc(); // the root buffer is unreachable but for the slice: its memory must stay
            fs.untouchedBuffer(capacity).putLong(0, -1L); // and a new buffer must not be handed the same memory
        }
        for (int i = 0; i + 8 <= aligned.capacity(); i += 4093)
        {
            assertEquals(0x0123456789abcdefL ^ i, aligned.getLong(i), "at " + i);
        }
    }

    /** The point of the native buffer: a pool's 1 MiB buffers cost only the pages blocks fill (issue 12). */
    @Test
    void nativeUntouchedBuffersAreFaultedInOnlyWhereWritten() throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        final long before = residentKib();
        final java.nio.ByteBuffer[] pool = new java.nio.ByteBuffer[64];
        for (int i = 0; i < pool.length; i++)
        {
            pool[i] = fs.untouchedBuffer(1 << 20);
            pool[i].put(0, (byte)1); // one page of each
        }
        final long grown = residentKib() - before;
        // 64 MiB reserved; a zeroed pool would make all of it resident
        assertTrue(grown < 16 * 1024, "resident memory grew by " + grown + " KiB for 64 buffers of 1 MiB");
        assertEquals(1, pool[pool.length - 1].get(0));
    }

    private static long residentKib() throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc/self/status")))
        {
            if (line.startsWith("VmRSS:"))
            {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void syncfsSyncsExt4OrSaysUnsupported(final NativeFs fs) throws IOException
    {
        Files.write(dir.resolve("dirty"), new byte[1 << 20]);
        assertEquals(fs.isNative(), fs.syncfs(dir));
        assertEquals(fs.isNative(), fs.syncfs(dir.resolve("dirty")));
        if (fs.isNative())
        {
            assertThrows(NoSuchFileException.class, () -> fs.syncfs(dir.resolve("missing")));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void statAgreesWithTheJdkAndKnowsBlocksNatively(final NativeFs fs) throws IOException
    {
        final Path file = Files.write(PathBytes.resolve(dir, new byte[] { 'f', (byte)0xff }), new byte[10_000]);
        FsTestSupport.sh("chmod 6711 '" + dir + "'/f* && touch -m -d @-12.345678901 '" + dir + "'/f*").assertOk();
        Files.createLink(dir.resolve("hard"), file);
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        final Path fifo = dir.resolve("fifo");
        FsTestSupport.sh("mkfifo '" + fifo + "'").assertOk();
        final Path sparse = dir.resolve("sparse");
        try (RandomAccessFile raf = new RandomAccessFile(sparse.toFile(), "rw"))
        {
            raf.setLength(GIB);
            raf.write(1);
        }
        for (final Path p : List.of(file, sub, link, fifo, sparse, Path.of("/dev/null"), dir))
        {
            final EntryStat jdk = EntryStat.read(p);
            final EntryStat s = fs.stat(cPath(p));
            final String what = p + " by " + fs;
            assertEquals(jdk.dev(), s.dev(), what);
            assertEquals(jdk.ino(), s.ino(), what);
            assertEquals(jdk.mode(), s.mode(), what);
            assertEquals(jdk.nlink(), s.nlink(), what);
            assertEquals(jdk.uid(), s.uid(), what);
            assertEquals(jdk.gid(), s.gid(), what);
            assertEquals(jdk.rdev(), s.rdev(), what);
            assertEquals(jdk.size(), s.size(), what);
            assertEquals(jdk.mtimeNanos(), s.mtimeNanos(), what);
            assertEquals(jdk.ctimeNanos(), s.ctimeNanos(), what);
            if (fs.isNative())
            {
                assertEquals(Long.parseLong(FsTestSupport.stat(p, "%b")), s.blocks(), what);
            }
            else
            {
                assertEquals(EntryStat.BLOCKS_UNKNOWN, s.blocks(), what);
            }
        }
        assertEquals(-12_345_678_901L, fs.stat(cPath(file)).mtimeNanos(), "before 1970 with a fraction");
        assertEquals(EntryStat.S_IFREG | 06711, fs.stat(cPath(file)).mode());
        assertEquals(2, fs.stat(cPath(file)).nlink());
        assertEquals(!fs.isNative(), fs.stat(cPath(file)).mayBeSparse(), "10 kB written: not sparse, if known");
        assertTrue(fs.stat(cPath(sparse)).mayBeSparse());
        assertThrows(NoSuchFileException.class, () -> fs.stat(cPath(dir.resolve("missing"))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void setLengthEndsAFileWithAHoleOrCutsIt(final NativeFs fs) throws IOException
    {
        final Path file = Files.write(PathBytes.resolve(dir, new byte[] { 'l', (byte)0x80 }), filled(BLOCK, 3));
        fs.setLength(cPath(file), GIB);
        assertEquals(GIB, Files.size(file));
        final long allocated = NativeFs.instance().stat(cPath(file)).blocks() * EntryStat.BLOCK_UNIT;
        assertTrue(allocated <= (fs.isNative() ? 1 : 2) * BLOCK + BLOCK, "allocated " + allocated);
        if (fs.isNative())
        {
            assertEquals(List.of(extent(0, BLOCK)), extents(fs, file));
        }
        fs.setLength(cPath(file), 100);
        assertArrayEquals(filled(100, 3), Files.readAllBytes(file));
        fs.setLength(cPath(file), 100);
        assertEquals(100, Files.size(file), "same length: nothing changes");
        final Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        assertThrows(FileSystemException.class, () -> fs.setLength(cPath(link), 5), "a symlink is not followed");
        assertEquals(100, Files.size(file));
        assertThrows(IllegalArgumentException.class, () -> fs.setLength(cPath(file), -1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void sparseFileWithAGibibyteHoleBetweenTwoDataBlocks(final NativeFs fs) throws IOException
    {
        final Path f = dir.resolve("sparse");
        final long tail = GIB + BLOCK;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(filled(BLOCK, 1)), 0);
            ch.write(ByteBuffer.wrap(filled(BLOCK, 2)), tail);
        }
        final long size = tail + BLOCK;
        assertEquals(size, Files.size(f));
        if (fs.isNative())
        {
            assertEquals(List.of(extent(0, BLOCK), extent(tail, BLOCK)), extents(fs, f));
            assertTrue(Long.parseLong(FsTestSupport.stat(f, "%b")) * 512 <= 4 * BLOCK, "the file really is sparse");
        }
        else
        {
            assertEquals(List.of(extent(0, size)), extents(fs, f));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void allHoleNoHoleAndEmptyFiles(final NativeFs fs) throws IOException
    {
        final Path allHole = Files.createFile(dir.resolve("all-hole"));
        try (RandomAccessFile raf = new RandomAccessFile(allHole.toFile(), "rw"))
        {
            raf.setLength(GIB);
        }
        assertEquals(GIB, Files.size(allHole));
        final Path full = Files.write(dir.resolve("full"), filled(1 << 20, 7));
        final Path odd = Files.write(dir.resolve("odd"), filled(BLOCK + 5, 9));
        final Path empty = Files.createFile(dir.resolve("empty"));

        assertEquals(fs.isNative() ? List.of() : List.of(extent(0, GIB)), extents(fs, allHole));
        assertEquals(List.of(extent(0, 1 << 20)), extents(fs, full));
        assertEquals(List.of(extent(0, BLOCK + 5)), extents(fs, odd), "clipped to the size, not the block");
        assertEquals(List.of(), extents(fs, empty));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void oneCursorWalksFileAfterFileAndRefusesWhatIsNotARegularFile(final NativeFs fs) throws IOException
    {
        final Path a = Files.write(dir.resolve("a"), filled(10, 1));
        final Path b = Files.write(dir.resolve("b"), filled(20, 2));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), a);
        final Path fifo = dir.resolve("fifo");
        FsTestSupport.sh("mkfifo '" + fifo + "'").assertOk();
        try (DataExtentCursor c = fs.newDataExtentCursor())
        {
            for (int round = 0; round < 3; round++)
            {
                c.open(cPath(a));
                assertTrue(c.next());
                assertEquals(10, c.length());
                assertFalse(c.next());
                assertFalse(c.next(), "stays at its end");
                c.open(cPath(b));
                assertEquals(20, c.size());
                assertTrue(c.next());
                assertEquals(20, c.length());
            }
            assertThrows(FileSystemException.class, () -> c.open(cPath(link)), "a symlink is not followed");
            assertThrows(FileSystemException.class, () -> c.open(cPath(fifo)), "a FIFO is refused without blocking");
            assertThrows(FileSystemException.class, () -> c.open(cPath(dir)), "a directory is refused");
            assertThrows(NoSuchFileException.class, () -> c.open(cPath(dir.resolve("missing"))));
            assertFalse(c.next(), "nothing is open after a refusal");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void mkfifoMakesAFifoWithTheAskedMode(final NativeFs fs) throws IOException
    {
        final Path fifo = PathBytes.resolve(dir, new byte[] { 'f', (byte)0xff });
        final boolean made = fs.mkfifo(cPath(fifo), 0640);
        assertEquals(fs.isNative(), made);
        if (!made)
        {
            assertFalse(Files.exists(fifo, LinkOption.NOFOLLOW_LINKS));
            return;
        }
        final EntryStat s = EntryStat.read(fifo);
        assertEquals(EntryStat.S_IFIFO | 0640, s.mode(), "0640 is not narrowed by the usual umask 022");
        assertThrows(FileAlreadyExistsException.class, () -> fs.mkfifo(cPath(fifo), 0600));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void mknodMakesTheSameCharacterDeviceAsDevNull(final NativeFs fs) throws IOException
    {
        assumeTrue(FsTestSupport.isRoot(), "mknod of a device needs CAP_MKNOD");
        final EntryStat devNull = EntryStat.read(Path.of("/dev/null"));
        final Path node = dir.resolve("null-copy");
        final boolean made = fs.mknod(cPath(node), EntryStat.S_IFCHR | 0600, devNull.rdev());
        assertEquals(fs.isNative(), made);
        if (!made)
        {
            return;
        }
        final EntryStat s = EntryStat.read(node);
        assertEquals(EntryStat.S_IFCHR | 0600, s.mode());
        assertEquals(devNull.rdev(), s.rdev());
        assertEquals("1 3", FsTestSupport.stat(node, "%t %T"));
        Files.write(node, new byte[] { 1, 2, 3 });
        assertEquals(0, Files.readAllBytes(node).length, "it really is a null device");

        final Path fifo = dir.resolve("fifo-by-mknod");
        assertTrue(fs.mknod(cPath(fifo), EntryStat.S_IFIFO | 0644, 0));
        assertEquals(EntryStat.S_IFIFO | 0644, EntryStat.read(fifo).mode());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void userXattrWithBinaryValuesRoundTripsOnFilesAndDirectories(final NativeFs fs) throws IOException
    {
        final Path file = Files.createFile(PathBytes.resolve(dir, new byte[] { 'x', (byte)0x80, '\n' }));
        final Path sub = Files.createDirectory(dir.resolve("sub"));
        for (final Path p : List.of(file, sub))
        {
            final byte[] c = cPath(p);
            assertEquals(List.of(), names(fs.listXattrs(c)));
            assertTrue(fs.setXattr(c, utf8("user.x"), BINARY));
            assertTrue(fs.setXattr(c, utf8("user.empty"), new byte[0]));
            final byte[] big = filled(3000, 0xff);
            assertTrue(fs.setXattr(c, utf8("user.big"), big));
            assertEquals(List.of("user.big", "user.empty", "user.x"), sorted(names(fs.listXattrs(c))));
            assertArrayEquals(BINARY, fs.getXattr(c, utf8("user.x")));
            assertArrayEquals(new byte[0], fs.getXattr(c, utf8("user.empty")));
            assertArrayEquals(big, fs.getXattr(c, utf8("user.big")));
            assertNull(fs.getXattr(c, utf8("user.absent")));
            assertTrue(fs.setXattr(c, utf8("user.x"), new byte[] { 42 }), "replace");
            assertArrayEquals(new byte[] { 42 }, fs.getXattr(c, utf8("user.x")));
            assertTrue(fs.removeXattr(c, utf8("user.empty")));
            assertFalse(fs.removeXattr(c, utf8("user.empty")));
            assertEquals(List.of("user.big", "user.x"), sorted(names(fs.listXattrs(c))));
        }
        assertEquals("\\x00\\xff\\x01\\x00\\x80\\x7f\\x00", PathBytes.display(BINARY));
    }

    @Test
    void bothImplementationsReadWhatTheOtherWrote() throws IOException
    {
        final byte[] c = cPath(Files.createFile(dir.resolve("shared")));
        assertTrue(NativeFs.instance().setXattr(c, utf8("user.by-native"), BINARY));
        assertTrue(NativeFs.pureJava().setXattr(c, utf8("user.by-java"), new byte[] { (byte)0xfe, 0 }));
        for (final NativeFs fs : both().toList())
        {
            assertArrayEquals(BINARY, fs.getXattr(c, utf8("user.by-native")), fs.description());
            assertArrayEquals(new byte[] { (byte)0xfe, 0 }, fs.getXattr(c, utf8("user.by-java")), fs.description());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void trustedAndSecurityNamespacesWhereRootMaySetThem(final NativeFs fs) throws IOException
    {
        assumeTrue(FsTestSupport.isRoot(), "trusted.* needs CAP_SYS_ADMIN");
        final byte[] c = cPath(Files.createFile(dir.resolve("f")));
        final boolean trusted = fs.setXattr(c, utf8("trusted.ferry"), BINARY);
        final boolean security = fs.setXattr(c, utf8("security.ferry"), new byte[] { (byte)0xff });
        assertEquals(fs.isNative(), trusted, "the fallback says it cannot, it does not throw");
        assertEquals(fs.isNative(), security);
        if (fs.isNative())
        {
            assertEquals(List.of("security.ferry", "trusted.ferry"), sorted(names(fs.listXattrs(c))));
            assertArrayEquals(BINARY, fs.getXattr(c, utf8("trusted.ferry")));
            assertArrayEquals(new byte[] { (byte)0xff }, fs.getXattr(c, utf8("security.ferry")));
            assertEquals(List.of(), names(NativeFs.pureJava().listXattrs(c)), "the JDK sees only user.*");
        }
        else
        {
            assertNull(fs.getXattr(c, utf8("trusted.ferry")));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void xattrsOfASymlinkAreItsOwnNotItsTargets(final NativeFs fs) throws IOException
    {
        final Path target = Files.createFile(dir.resolve("target"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        final Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("none"));
        assertTrue(NativeFs.instance().setXattr(cPath(target), utf8("user.t"), BINARY));
        assertEquals(List.of(), names(fs.listXattrs(cPath(link))));
        assertEquals(List.of(), names(fs.listXattrs(cPath(dangling))));
        assertNull(fs.getXattr(cPath(link), utf8("user.t")));
        if (fs.isNative())
        {
            assertThrows(AccessDeniedException.class, () -> fs.setXattr(cPath(link), utf8("user.y"), BINARY),
                "Linux allows user.* only on regular files and directories");
            if (FsTestSupport.isRoot())
            {
                assertTrue(fs.setXattr(cPath(link), utf8("trusted.l"), BINARY), "the link's own xattr");
                assertEquals(List.of("trusted.l"), names(fs.listXattrs(cPath(link))));
                assertEquals(List.of("user.t"), names(fs.listXattrs(cPath(target))));
            }
        }
        else
        {
            assertFalse(fs.setXattr(cPath(link), utf8("user.y"), BINARY), "skipped, not followed");
        }
        assertNull(NativeFs.instance().getXattr(cPath(target), utf8("user.y")), "the target is untouched");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void xattrCapsAndBadArgumentsAreRefused(final NativeFs fs) throws IOException
    {
        final byte[] c = cPath(Files.createFile(dir.resolve("f")));
        final byte[] longName = utf8("user." + "n".repeat(NativeFs.MAX_XATTR_NAME_BYTES - 4));
        assertThrows(IllegalArgumentException.class, () -> fs.setXattr(c, longName, BINARY));
        assertThrows(IllegalArgumentException.class, () -> fs.getXattr(c, longName));
        assertThrows(IllegalArgumentException.class, () -> fs.setXattr(c, utf8("user.a\0b"), BINARY));
        assertThrows(IllegalArgumentException.class, () -> fs.setXattr(c, new byte[0], BINARY));
        assertThrows(IllegalArgumentException.class,
            () -> fs.setXattr(c, utf8("user.v"), new byte[NativeFs.MAX_XATTR_VALUE_BYTES + 1]));
        assertThrows(IllegalArgumentException.class, () -> fs.listXattrs(Arrays.copyOf(c, c.length - 1)), "no NUL");
        assertThrows(NoSuchFileException.class, () -> fs.listXattrs(cPath(dir.resolve("missing"))));
        final byte[] largest = filled(NativeFs.MAX_XATTR_VALUE_BYTES, 0x5a);
        try
        {
            assertTrue(fs.setXattr(c, utf8("user.largest"), largest));
            assertArrayEquals(largest, fs.getXattr(c, utf8("user.largest")), "ext4 with ea_inode takes 64 KiB");
        }
        catch (final FileSystemException ex)
        {
            // ext4 without ea_inode keeps a value within one block: the OS refuses with an IOException, not a crash
            assertNull(fs.getXattr(c, utf8("user.largest")));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("both")
    void setTimesKeepsNanosecondsWithoutFollowingLinks(final NativeFs fs) throws IOException
    {
        final Path file = Files.createFile(dir.resolve("file"));
        final Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        final long mtime = 1_234_567_890_123_456_789L;
        final long atime = 1_111_111_111_987_654_321L;
        final long fileMtimeBefore = EntryStat.read(file).mtimeNanos();
        fs.setTimes(cPath(link), atime, mtime);
        assertEquals(fs.isNative() ? mtime : mtime / 1000 * 1000, EntryStat.read(link).mtimeNanos(),
            "the JDK sets a symlink's times with lutimes: microseconds");
        assertEquals(fileMtimeBefore, EntryStat.read(file).mtimeNanos(), "the target is untouched");
        fs.setTimes(cPath(file), NativeFs.TIME_OMIT, mtime);
        assertEquals(mtime, EntryStat.read(file).mtimeNanos());
        fs.setTimes(cPath(file), atime, NativeFs.TIME_OMIT);
        assertEquals(mtime, EntryStat.read(file).mtimeNanos(), "omitted mtime kept");
        assertEquals(atime / 1000 * 1000, ((java.nio.file.attribute.FileTime)Files.getAttribute(file, "lastAccessTime"))
            .to(TimeUnit.MICROSECONDS) * 1000);
        fs.setTimes(cPath(file), NativeFs.TIME_OMIT, -2_000_000_000L);
        assertEquals(-2_000_000_000L, EntryStat.read(file).mtimeNanos(), "before 1970");
        fs.setTimes(cPath(file), NativeFs.TIME_OMIT, -1_500_000_000L);
        assertEquals(fs.isNative() ? -1_500_000_000L : 0L, EntryStat.read(file).mtimeNanos(),
            "JDK 17 writes a pre-1970 time with a fraction of a second as the epoch");
    }

    @Test
    void writeWholeFileWritesTheBytesAndTheMtimeWithoutFollowingALink() throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        final java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(100);
        for (int i = 0; i < 100; i++)
        {
            buf.put(i, (byte)(i * 7 + 1));
        }
        final long address = org.agrona.BufferUtil.address(buf);
        final Path file = dir.resolve("whole");
        final long mtime = 1_234_567_890_123_456_789L;
        assertTrue(fs.writeWholeFile(cPath(file), address + 10, 70, mtime));
        final byte[] expected = new byte[70];
        for (int i = 0; i < 70; i++)
        {
            expected[i] = (byte)((i + 10) * 7 + 1);
        }
        assertArrayEquals(expected, Files.readAllBytes(file));
        assertEquals(mtime, EntryStat.read(file).mtimeNanos(), "set on the open file after the write");
        final Path probe = Files.createFile(dir.resolve("probe"));
        assertEquals(Files.getAttribute(probe, "unix:mode"), Files.getAttribute(file, "unix:mode"),
            "the mode new files get here");
        assertTrue(fs.writeWholeFile(cPath(dir.resolve("empty")), address, 0, -2_000_000_000L));
        assertEquals(0, Files.size(dir.resolve("empty")));
        assertEquals(-2_000_000_000L, EntryStat.read(dir.resolve("empty")).mtimeNanos(), "before 1970");
        final Path link = Files.createSymbolicLink(dir.resolve("link"), probe);
        final IOException refused = assertThrows(IOException.class,
            () -> fs.writeWholeFile(cPath(link), address, 70, mtime));
        assertTrue(refused.getMessage().contains("ELOOP"), refused.getMessage());
        assertEquals(0, Files.size(probe), "the link's target is untouched");
        assertFalse(NativeFs.pureJava().writeWholeFile(cPath(dir.resolve("pure")), address, 70, mtime),
            "the fallback declines: the caller writes through a channel");
        assertFalse(Files.exists(dir.resolve("pure")));
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS) // a FIFO must not block the read
    void readWholeFileReadsTheBytesAndStatsTheOpenFile() throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        final ByteBuffer buf = ByteBuffer.allocateDirect(200);
        final long address = org.agrona.BufferUtil.address(buf);
        final long[] stat = new long[3];
        final byte[] bytes = new byte[150];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (byte)(i * 11 + 3);
        }
        final Path file = Files.write(dir.resolve("small"), bytes);
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(1_600_000_000_123_456_789L, TimeUnit.NANOSECONDS));
        assertEquals(150, fs.readWholeFile(cPath(file), address + 20, 180, stat), "to the file's end");
        final byte[] got = new byte[150];
        buf.get(20, got);
        assertArrayEquals(bytes, got);
        assertEquals(150, stat[NativeFs.READ_SIZE]);
        assertEquals(EntryStat.read(file).mtimeNanos(), stat[NativeFs.READ_MTIME]);
        assertEquals(EntryStat.S_IFREG, stat[NativeFs.READ_TYPE]);

        buf.put(0, (byte)0x55).put(100, (byte)0x55);
        assertEquals(100, fs.readWholeFile(cPath(file), address, 100, stat), "no more than the capacity");
        assertEquals(bytes[0], buf.get(0));
        assertEquals((byte)0x55, buf.get(100), "nothing past the capacity");
        assertEquals(150, stat[NativeFs.READ_SIZE], "the size is the file's, so a caller sees that it grew");

        final Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        final IOException loop = assertThrows(IOException.class, () -> fs.readWholeFile(cPath(link), address, 100, stat));
        assertTrue(loop.getMessage().contains("ELOOP"), loop.getMessage());
        assertThrows(NoSuchFileException.class, () -> fs.readWholeFile(cPath(dir.resolve("gone")), address, 100, stat));
        final Path fifo = dir.resolve("fifo");
        fs.mkfifo(cPath(fifo), 0644);
        assertEquals(0, fs.readWholeFile(cPath(fifo), address, 100, stat), "no writer: nothing, at once");
        assertEquals(EntryStat.S_IFIFO, stat[NativeFs.READ_TYPE], "the caller sees it is no longer a file");
        stat[NativeFs.READ_SIZE] = -7;
        assertEquals(-1, NativeFs.pureJava().readWholeFile(cPath(file), address, 100, stat),
            "the fallback declines: the caller reads through a channel");
        assertEquals(-7, stat[NativeFs.READ_SIZE]);
    }

    /**
     * As uid 65534 in a child JVM: device nodes and trusted.* are refused with AccessDeniedException, and the owner
     * of a mode-000 file can still set its times through the native call (the JDK opens the file and cannot).
     */
    @Test
    void asNobodyInAChildJvm() throws IOException
    {
        assumeTrue(FsTestSupport.isRoot(), "needs root to switch to nobody");
        final Path cp = NativeFsProbe.readableClassPath(dir.resolve("cp"), true);
        final Path work = Files.createDirectory(dir.resolve("work"));
        FsTestSupport.sh("chmod 755 '" + dir + "' && chown " + FsTestSupport.NOBODY + ":" + FsTestSupport.NOBODY + " '" +
            work + "'").assertOk();
        final String out = FsTestSupport.java(NativeFsProbe.class, List.of("-Djna.tmpdir=" + work.resolve(".jna")),
            Map.of("HOME", work.toString()), cp.toString() + "/*:" + cp, true, "nobody", work.toString()).assertOk().out();
        assertEquals(List.of(
            "native=true",
            "mknod-chr: AccessDeniedException",
            "mkfifo: ok",
            "trusted: AccessDeniedException",
            "user: ok",
            "native-settimes-000: ok",
            "java-settimes-000: AccessDeniedException"), Arrays.asList(out.split("\n")));
    }

    private static List<String> extents(final NativeFs fs, final Path f) throws IOException
    {
        final List<String> out = new ArrayList<>();
        try (DataExtentCursor c = fs.newDataExtentCursor())
        {
            c.open(cPath(f));
            while (c.next())
            {
                out.add(extent(c.offset(), c.length()));
            }
        }
        return out;
    }

    private static String extent(final long offset, final long length)
    {
        return "[" + offset + "+" + length + ")";
    }

    private static List<String> names(final List<byte[]> names)
    {
        final List<String> out = new ArrayList<>();
        names.forEach(n -> out.add(PathBytes.display(n)));
        return out;
    }

    private static List<String> sorted(final List<String> list)
    {
        final List<String> out = new ArrayList<>(list);
        out.sort(null);
        return out;
    }

    private static byte[] utf8(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] filled(final int length, final int value)
    {
        final byte[] out = new byte[length];
        Arrays.fill(out, (byte)value);
        return out;
    }
}
