package dev.ferry.engine.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static dev.ferry.engine.fs.FsTestSupport.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PathBytesTest
{
    /** Names that are not text, that break a terminal line, and that are text but not ASCII. */
    static final List<byte[]> NAMES = List.of(
        bytes(0xff, 0xfe),
        bytes('a', 0x80, 'b'),
        bytes('l', 'o', 'n', 'e', 0xc3),                 // truncated 2-byte sequence at the end
        bytes(0xed, 0xa0, 0x80),                          // an encoded surrogate (CESU), invalid UTF-8
        bytes(0xc0, 0xaf),                                // overlong '/'
        bytes('n', 'e', 'w', '\n', 'l', 'i', 'n', 'e'),
        bytes('t', 'r', 'a', 'i', 'l', '\n'),
        bytes(0x1b, '[', '3', '1', 'm', 'r', 'e', 'd'),
        bytes('b', 'a', 'c', 'k', '\\', 'x', 'f', 'f'),
        "café".getBytes(StandardCharsets.UTF_8),
        "日本語のファイル".getBytes(StandardCharsets.UTF_8),
        "emoji-\uD83D\uDE00".getBytes(StandardCharsets.UTF_8),
        "replacement-\uFFFD-char".getBytes(StandardCharsets.UTF_8), // a real U+FFFD must survive too
        "plain-ascii.txt".getBytes(StandardCharsets.US_ASCII),
        "with space and 'quote' %41 ?#".getBytes(StandardCharsets.US_ASCII));

    @TempDir
    Path dir;

    @Test
    void namesMadeByTheShellComeOutOfADirectoryStreamAsTheirBytes() throws IOException
    {
        for (final byte[] name : NAMES)
        {
            FsTestSupport.touchByShell(dir, name);
        }
        assertEquals(hexSet(NAMES), new TreeSet<>(FsTestSupport.namesByShell(dir)), "the shell made what we asked");
        assertEquals(hexSet(NAMES), listedByPathBytes(dir));
    }

    @Test
    void resolvedNamesAreTheSameFilesAndTheSamePaths() throws IOException
    {
        for (final byte[] name : NAMES)
        {
            FsTestSupport.touchByShell(dir, name);
        }
        final List<Path> listed = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir))
        {
            ds.forEach(listed::add);
        }
        for (final byte[] name : NAMES)
        {
            final Path p = PathBytes.resolve(dir, name);
            assertTrue(Files.exists(p, LinkOption.NOFOLLOW_LINKS), PathBytes.display(name));
            assertTrue(listed.contains(p), "equal to the DirectoryStream's Path: " + PathBytes.display(name));
            assertArrayEquals(name, PathBytes.fileName(p));
            assertEquals(dir, p.getParent());
        }
    }

    @Test
    void filesCreatedThroughResolveHaveExactlyTheirBytes() throws IOException
    {
        Files.createDirectory(PathBytes.resolve(dir, bytes('d', 0xff)));
        for (final byte[] name : NAMES)
        {
            Files.createFile(PathBytes.resolve(dir, concat(bytes('d', 0xff, '/'), name)));
        }
        assertEquals(hexSet(NAMES), new TreeSet<>(FsTestSupport.namesByShell(dir, bytes('d', 0xff))));
    }

    @Test
    void ofKeepsRelativeAbsoluteAndRootAsTheyAre()
    {
        final byte[] name = bytes('x', 0xff, 'y');
        final Path relative = PathBytes.resolve(Path.of("a"), name);
        assertArrayEquals(concat(bytes('a', '/'), name), PathBytes.of(relative));
        assertArrayEquals(concat(bytes('/', 't', '/'), name), PathBytes.of(PathBytes.resolve(Path.of("/t"), name)));
        assertArrayEquals(bytes('/'), PathBytes.of(Path.of("/")));
        assertArrayEquals(new byte[0], PathBytes.of(Path.of("")));
        assertArrayEquals(bytes('/', 't', 'm', 'p'), PathBytes.of(Path.of("/tmp")), "a directory: toUri's '/' dropped");
        assertArrayEquals(bytes('/', 't', 'm', 'p', '/', 0x80),
            PathBytes.of(PathBytes.resolve(Path.of("/tmp"), bytes(0x80))), "slow path under an existing directory");
    }

    @Test
    void cPathIsAbsoluteAndTerminatedAndComesBack()
    {
        final Path p = PathBytes.resolve(dir, bytes(0xfe, '\n', 0x1b));
        final byte[] c = PathBytes.cPath(p);
        assertEquals(0, c[c.length - 1]);
        assertEquals('/', c[0]);
        assertArrayEquals(PathBytes.of(p), Arrays.copyOf(c, c.length - 1));
        assertEquals(p, PathBytes.fromCPath(c));
        assertEquals(Path.of("/"), PathBytes.fromCPath(bytes('/', 0)));
        assertThrows(IllegalArgumentException.class, () -> PathBytes.fromCPath(bytes('/', 'a')), "no NUL");
        assertThrows(IllegalArgumentException.class, () -> PathBytes.fromCPath(bytes('/', 0, 'a', 0)), "inner NUL");
        assertThrows(IllegalArgumentException.class, () -> PathBytes.fromCPath(bytes('a', 0)), "relative");
    }

    @Test
    void hostileRelativePathsAreRefused()
    {
        final Path root = Path.of("/target");
        for (final byte[] bad : List.of(
            new byte[0], bytes('/', 'e', 't', 'c'), bytes('.', '.'), bytes('a', '/', '.', '.', '/', 'b'),
            bytes('.'), bytes('a', '/', '.'), bytes('a', '/', '/', 'b'), bytes('a', '/'), bytes('a', 0, 'b'),
            filled(PathBytes.MAX_NAME_BYTES + 1), filled(PathBytes.MAX_PATH_BYTES + 1)))
        {
            final IllegalArgumentException ex =
                assertThrows(IllegalArgumentException.class, () -> PathBytes.resolve(root, bad), PathBytes.display(bad));
            assertTrue(ex.getMessage().contains("refused") || ex.getMessage().contains("empty"), ex.getMessage());
        }
        assertEquals(Path.of("/target/..a/.b/..."), PathBytes.resolve(root, "..a/.b/...".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(root.resolve("n".repeat(PathBytes.MAX_NAME_BYTES)),
            PathBytes.resolve(root, filled(PathBytes.MAX_NAME_BYTES)));
    }

    @Test
    void displayIsOneUnambiguousTerminalSafeLine()
    {
        assertEquals("caf\u00e9", PathBytes.display("café".getBytes(StandardCharsets.UTF_8)));
        // printable ASCII is shown as it is (the fast path), a slice of it too
        assertEquals("src/d 01/~f-10.dat", PathBytes.display("src/d 01/~f-10.dat".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("d 01", PathBytes.display("src/d 01/~f".getBytes(StandardCharsets.US_ASCII), 4, 4));
        assertEquals("", PathBytes.display(new byte[0]));
        assertEquals("\\xff\\xfe", PathBytes.display(bytes(0xff, 0xfe)));
        assertEquals("a\\x80b", PathBytes.display(bytes('a', 0x80, 'b')));
        assertEquals("new\\x0aline", PathBytes.display(bytes('n', 'e', 'w', '\n', 'l', 'i', 'n', 'e')));
        assertEquals("\\x1b[31mred", PathBytes.display(bytes(0x1b, '[', '3', '1', 'm', 'r', 'e', 'd')));
        assertEquals("tab\\x09del\\x7f", PathBytes.display(bytes('t', 'a', 'b', '\t', 'd', 'e', 'l', 0x7f)));
        assertEquals("back\\\\xff", PathBytes.display(bytes('b', 'a', 'c', 'k', '\\', 'x', 'f', 'f')));
        assertEquals("\\xc2\\x9b2J", PathBytes.display(bytes(0xc2, 0x9b, '2', 'J')), "C1 CSI");
        assertEquals("\\xe2\\x80\\xaeevil", PathBytes.display(concat("\u202e".getBytes(StandardCharsets.UTF_8),
            bytes('e', 'v', 'i', 'l'))), "bidi override");
        assertEquals("\\xed\\xa0\\x80", PathBytes.display(bytes(0xed, 0xa0, 0x80)), "surrogate");
        assertEquals("\\xc0\\xaf", PathBytes.display(bytes(0xc0, 0xaf)), "overlong");
        assertEquals("\\xf4\\x90\\x80\\x80", PathBytes.display(bytes(0xf4, 0x90, 0x80, 0x80)), "past U+10FFFF");
        assertEquals("lone\\xc3", PathBytes.display(bytes('l', 'o', 'n', 'e', 0xc3)));
        assertEquals("emoji-\uD83D\uDE00", PathBytes.display("emoji-\uD83D\uDE00".getBytes(StandardCharsets.UTF_8)));
        for (final byte[] name : NAMES)
        {
            final String shown = PathBytes.display(name);
            assertTrue(shown.chars().allMatch(c -> c >= 0x20 && c != 0x7f && (c < 0x80 || c > 0x9f)), shown);
        }
    }

    /** The same round trip in a JVM whose locale is C: the JDK then decodes names as ASCII. */
    @Test
    void roundTripUnderTheCLocaleInAChildJvm() throws IOException
    {
        for (final byte[] name : NAMES)
        {
            FsTestSupport.touchByShell(dir, name);
        }
        final List<String> args = new ArrayList<>();
        args.add(dir.toString());
        for (final byte[] name : NAMES)
        {
            args.add(hex(name));
        }
        final FsTestSupport.Result r = FsTestSupport.java(PathBytesProbe.class, List.of(),
            Map.of("LC_ALL", "C", "LANG", "C", "LC_CTYPE", "C"), System.getProperty("java.class.path"), false,
            args.toArray(new String[0])).assertOk();
        final String[] lines = r.out().split("\n");
        assertEquals("jnu=ANSI_X3.4-1968", lines[0], "the child really runs under the C locale");
        final TreeSet<String> listed = new TreeSet<>();
        int resolved = 0;
        for (final String line : lines)
        {
            if (line.startsWith("listed "))
            {
                listed.add(line.substring(7));
            }
            else if (line.startsWith("resolved "))
            {
                resolved++;
            }
        }
        assertEquals(hexSet(NAMES), listed);
        assertEquals(NAMES.size(), resolved, r.out());
        final TreeSet<String> made = new TreeSet<>();
        for (final byte[] name : NAMES)
        {
            made.add(hex(concat(PathBytesProbe.MADE_PREFIX, name)));
        }
        final TreeSet<String> onDisk = new TreeSet<>(FsTestSupport.namesByShell(dir));
        onDisk.removeAll(hexSet(NAMES));
        assertEquals(made, onDisk, "files the child made through PathBytes.resolve have exactly their bytes");
    }

    static TreeSet<String> listedByPathBytes(final Path dir) throws IOException
    {
        final TreeSet<String> out = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir))
        {
            for (final Path p : ds)
            {
                out.add(hex(PathBytes.fileName(p)));
            }
        }
        return out;
    }

    static TreeSet<String> hexSet(final List<byte[]> names)
    {
        final TreeSet<String> out = new TreeSet<>();
        names.forEach(n -> out.add(hex(n)));
        return out;
    }

    static byte[] filled(final int length)
    {
        final byte[] out = new byte[length];
        Arrays.fill(out, (byte)'n');
        return out;
    }

    static byte[] bytes(final int... values)
    {
        final byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++)
        {
            out[i] = (byte)values[i];
        }
        return out;
    }

    static byte[] concat(final byte[] a, final byte[] b)
    {
        final byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
