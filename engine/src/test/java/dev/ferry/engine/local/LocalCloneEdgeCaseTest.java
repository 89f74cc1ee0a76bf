package dev.ferry.engine.local;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LocalClone} of a tree full of edge cases (empty files and directories, deep nesting, sizes around the block
 * and chunk sizes, batched small files, awkward names, special mode bits, every kind of symlink, nanosecond mtimes)
 * with small chunk and block sizes, 1 and 4 threads, checksums on and off, small blocks by buffer and by file region.
 * Each clone is checked with {@link TreeComparator} and, independently, against the bytes, modes, times and link
 * targets the test itself wrote.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LocalCloneEdgeCaseTest
{
    private static final int BLOCK = 4096;
    private static final int CHUNK16 = 16 * 1024;
    private static final int CHUNK64 = 64 * 1024;
    private static final boolean UTF8_NAMES =
        Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8")).equals(StandardCharsets.UTF_8);

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        TestFiles.makeWritable(base);
    }

    /**
     * What the test wrote into the source tree, to check the clone against without trusting the comparator.
     */
    static final class Expected
    {
        final Map<String, String> sha = new LinkedHashMap<>();
        final Map<String, Long> sizes = new LinkedHashMap<>();
        final Map<String, Integer> modes = new LinkedHashMap<>();
        final Map<String, Long> mtimes = new LinkedHashMap<>();
        final Map<String, String> links = new LinkedHashMap<>();
        final List<String> directories = new ArrayList<>();
    }

    static Stream<Arguments> variants()
    {
        // threads, checksum, smallBlock, chunkSize, filesPerChunk, transferCap
        return Stream.of(
            Arguments.of(1, true, 1024, CHUNK16, 3, CloneSettings.TRANSFER_CAP_DEFAULT),
            Arguments.of(1, false, 1024, CHUNK16, 3, CloneSettings.TRANSFER_CAP_DEFAULT),
            Arguments.of(4, true, 1024, CHUNK16, 3, CloneSettings.TRANSFER_CAP_DEFAULT),
            Arguments.of(4, false, 1024, CHUNK16, 3, CloneSettings.TRANSFER_CAP_DEFAULT),
            Arguments.of(1, true, 0, CHUNK64, 3, 1000L),
            Arguments.of(4, true, BLOCK, CHUNK64, 4096, CloneSettings.TRANSFER_CAP_DEFAULT),
            Arguments.of(4, false, 0, CHUNK16, 1, 7L),
            Arguments.of(4, true, BLOCK, CHUNK16, 3, CloneSettings.TRANSFER_CAP_DEFAULT));
    }

    @ParameterizedTest(name = "threads={0} checksum={1} smallBlock={2} chunk={3} filesPerChunk={4} cap={5}")
    @MethodSource("variants")
    void clonesEveryEdgeCaseExactly(
        final int threads, final boolean checksum, final int smallBlock, final int chunkSize, final int filesPerChunk,
        final long transferCap) throws IOException
    {
        final Path src = base.resolve("src");
        final Path dst = base.resolve("dst");
        final Expected expected = buildEdgeCaseTree(src);
        final CloneSettings settings = new CloneSettings().blockSize(BLOCK).chunkSize(chunkSize)
            .filesPerChunk(filesPerChunk).smallBlock(smallBlock).checksum(checksum).transferCap(transferCap).sync(true)
            .conclude();

        new LocalClone(src, dst, settings, threads).run();

        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        assertFalse(Files.exists(dst.resolve(ManifestScanner.STATE_DIR), LinkOption.NOFOLLOW_LINKS),
            ".ferry must be gone after a successful clone");
        assertFalse(FileTreeRecipient.isIncomplete(dst));
        assertEquals(TestFiles.listAll(src), TestFiles.listAll(dst));
        assertMatches(expected, dst);
    }

    @Test
    void comparatorSeesAByteAModeAndAnMtimeThatDiffer() throws IOException
    {
        final Path src = base.resolve("src");
        final Path dst = base.resolve("dst");
        buildEdgeCaseTree(src);
        new LocalClone(src, dst, small(), 2).run();
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        TestFiles.restoreSetidBits(src, dst);
        assertEquals(List.of(), TreeComparator.compare(src, dst));

        final Path big = dst.resolve("sizes/big");
        final byte[] b = Files.readAllBytes(big);
        b[b.length / 2] ^= 1;
        final FileTime t = Files.getLastModifiedTime(big);
        Files.write(big, b);
        Files.setLastModifiedTime(big, t);
        Files.setAttribute(dst.resolve("modes/exec.sh"), "unix:mode", 0700);
        Files.setLastModifiedTime(dst.resolve("empty-dir"), FileTime.fromMillis(0));

        final List<String> diffs = TreeComparator.compare(src, dst);
        assertEquals(List.of("content differs: sizes/big", "mode differs: modes/exec.sh 755 vs 700", "mtime differs: empty-dir"),
            diffs.stream().sorted().toList());
    }

    @Test
    void sourceStateDirectoryIsNotCloned() throws IOException
    {
        final Path src = base.resolve("src");
        final Path dst = base.resolve("dst");
        Files.createDirectories(src.resolve(ManifestScanner.STATE_DIR));
        Files.write(src.resolve(ManifestScanner.STATE_DIR).resolve("status"), "old".getBytes(StandardCharsets.UTF_8));
        Files.write(src.resolve("data"), TestFiles.randomBytes(1, 5000));

        new LocalClone(src, dst, small(), 1).run();

        assertEquals(List.of("data"), TestFiles.listAll(dst));
        assertEquals(TestFiles.sha256(TestFiles.randomBytes(1, 5000)), TestFiles.sha256(dst.resolve("data")));
    }

    @Test
    void nonEmptyTargetIsRefusedAndLeftUntouched() throws IOException
    {
        final Path src = base.resolve("src");
        Files.createDirectories(src);
        Files.write(src.resolve("keep.txt"), "from the source".getBytes(StandardCharsets.UTF_8));
        final Path dst = Files.createDirectories(base.resolve("dst"));
        final Path existing = dst.resolve("keep.txt");
        final byte[] precious = "precious bytes".getBytes(StandardCharsets.UTF_8);
        Files.write(existing, precious);
        final FileTime mtime = FileTime.from(Instant.ofEpochSecond(1_234_567_890L, 111_222_333));
        Files.setLastModifiedTime(existing, mtime);
        Files.setAttribute(existing, "unix:mode", 0640);

        final FerryException ex = assertThrows(FerryException.class, () -> new LocalClone(src, dst, small(), 2).run());

        assertEquals(ErrorCode.TARGET_NOT_EMPTY, ex.code(), ex.getMessage());
        assertArrayEquals(precious, Files.readAllBytes(existing));
        assertEquals(mtime.to(TimeUnit.NANOSECONDS), TestFiles.mtimeNanos(existing));
        assertEquals(0640, TestFiles.mode(existing));
        assertEquals(List.of("keep.txt"), TestFiles.listAll(dst), "no marker or other file may appear");
        assertFalse(FileTreeRecipient.isIncomplete(dst));
    }

    @Test
    void targetThatIsAFileIsRefused() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        Files.write(src.resolve("f"), new byte[]{ 1, 2, 3 });
        final Path dst = base.resolve("dst");
        Files.write(dst, new byte[]{ 9, 8, 7 });

        final FerryException ex = assertThrows(FerryException.class, () -> new LocalClone(src, dst, small(), 1).run());

        assertEquals(ErrorCode.TARGET_NOT_EMPTY, ex.code(), ex.getMessage());
        assertArrayEquals(new byte[]{ 9, 8, 7 }, Files.readAllBytes(dst));
    }

    @Test
    void absentTargetAndItsParentsAreCreated() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        final byte[] bytes = TestFiles.randomBytes(7, 3 * CHUNK16 + 11);
        Files.write(src.resolve("f"), bytes);
        final Path dst = base.resolve("a/b/c/dst");

        new LocalClone(src, dst, small(), 3).run();

        assertTrue(Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of("f"), TestFiles.listAll(dst));
        assertArrayEquals(bytes, Files.readAllBytes(dst.resolve("f")));
        assertEquals(List.of(), TreeComparator.compare(src, dst));
    }

    @Test
    void existingEmptyTargetIsAccepted() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        final byte[] bytes = TestFiles.randomBytes(8, 5000);
        Files.write(src.resolve("f"), bytes);
        final Path dst = Files.createDirectories(base.resolve("dst"));

        new LocalClone(src, dst, small(), 1).run();

        assertArrayEquals(bytes, Files.readAllBytes(dst.resolve("f")));
        assertEquals(List.of("f"), TestFiles.listAll(dst));
    }

    @ParameterizedTest(name = "threads={0}")
    @MethodSource("threadCounts")
    void treeWithoutDataIsCloned(final int threads) throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        final Path empty = base.resolve("empty-src");
        Files.createDirectories(empty);
        Files.createDirectories(src.resolve("a/b"));
        Files.write(src.resolve("a/b/zero"), new byte[0]);
        Files.createSymbolicLink(src.resolve("a/link"), Path.of("b/zero"));
        final FileTime t = FileTime.from(Instant.ofEpochSecond(1_700_000_000L, 999_999_999));
        Files.setLastModifiedTime(src.resolve("a/b/zero"), t);
        Files.setLastModifiedTime(src.resolve("a/b"), t);
        Files.setLastModifiedTime(src.resolve("a"), t);

        new LocalClone(src, base.resolve("dst"), small(), threads).run();
        new LocalClone(empty, base.resolve("dst-empty"), small(), threads).run();

        assertEquals(List.of("a", "a/b", "a/b/zero", "a/link"), TestFiles.listAll(base.resolve("dst")));
        assertEquals(List.of(), TreeComparator.compare(src, base.resolve("dst")));
        assertEquals(t.to(TimeUnit.NANOSECONDS), TestFiles.mtimeNanos(base.resolve("dst/a")));
        assertEquals(t.to(TimeUnit.NANOSECONDS), TestFiles.mtimeNanos(base.resolve("dst/a/b/zero")));
        assertEquals(List.of(), TestFiles.listAll(base.resolve("dst-empty")));
        assertTrue(Files.isDirectory(base.resolve("dst-empty"), LinkOption.NOFOLLOW_LINKS));
    }

    static Stream<Integer> threadCounts()
    {
        return Stream.of(1, 4);
    }

    @Test
    void missingSourceFailsWithoutTouchingTheTarget()
    {
        final Path dst = base.resolve("dst");
        final FerryException ex = assertThrows(FerryException.class,
            () -> new LocalClone(base.resolve("no-such-source"), dst, small(), 2).run());
        assertEquals(ErrorCode.IO_ERROR, ex.code(), ex.getMessage());
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS), "the target must not be created");
    }

    @Test
    void zeroThreadsIsRefused()
    {
        final FerryException ex = assertThrows(FerryException.class,
            () -> new LocalClone(base.resolve("src"), base.resolve("dst"), small(), 0));
        assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code());
        assertFalse(Files.exists(base.resolve("dst"), LinkOption.NOFOLLOW_LINKS));
    }

    private static CloneSettings small()
    {
        return new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK16).filesPerChunk(3).smallBlock(1024).sync(false)
            .conclude();
    }

    private static void assertMatches(final Expected expected, final Path dst) throws IOException
    {
        for (final Map.Entry<String, String> e : expected.sha.entrySet())
        {
            final Path p = dst.resolve(e.getKey());
            assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), e.getKey());
            assertEquals(expected.sizes.get(e.getKey()), Files.size(p), e.getKey());
            assertEquals(e.getValue(), TestFiles.sha256(p), "SHA-256 of " + e.getKey());
        }
        for (final Map.Entry<String, Integer> e : expected.modes.entrySet())
        {
            assertEquals(Integer.toOctalString(TestFiles.clonedMode(dst.resolve(e.getKey()), e.getValue())),
                Integer.toOctalString(TestFiles.mode(dst.resolve(e.getKey()))), "mode of " + e.getKey());
        }
        for (final Map.Entry<String, Long> e : expected.mtimes.entrySet())
        {
            assertEquals(e.getValue(), TestFiles.mtimeNanos(dst.resolve(e.getKey())), "mtime of " + e.getKey());
        }
        for (final Map.Entry<String, String> e : expected.links.entrySet())
        {
            final Path p = dst.resolve(e.getKey());
            assertTrue(Files.isSymbolicLink(p), e.getKey() + " must be a symlink");
            assertEquals(e.getValue(), Files.readSymbolicLink(p).toString(), "target of " + e.getKey());
        }
        for (final String d : expected.directories)
        {
            assertTrue(Files.isDirectory(dst.resolve(d), LinkOption.NOFOLLOW_LINKS), d + " must be a real directory");
        }
        assertFalse(Files.isDirectory(dst.resolve("links/dir-link"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of(), TestFiles.listAll(dst.resolve("empty-dir")));
        assertEquals(0, Files.size(dst.resolve("empty-file")));
    }

    /**
     * Build the edge-case tree; returns what was written. Modes are set after contents, mtimes last and deepest first.
     */
    static Expected buildEdgeCaseTree(final Path src) throws IOException
    {
        final Expected x = new Expected();
        Files.createDirectories(src);
        file(x, src, "empty-file", 0, 1);
        dir(x, src, "empty-dir");
        dir(x, src, "d1/d2/d3/d4/d5");
        file(x, src, "d1/d2/d3/d4/d5/deep.txt", 10, 2);
        dir(x, src, "sizes");
        final long[] sizes = {
            1, BLOCK - 1, BLOCK, BLOCK + 1, CHUNK16 - 1, CHUNK16, CHUNK16 + 1, 3 * CHUNK16, CHUNK64 - 1, CHUNK64,
            CHUNK64 + 1, 100_003 };
        final String[] names = {
            "one", "block-minus-1", "block", "block-plus-1", "chunk-minus-1", "chunk", "chunk-plus-1", "three-chunks",
            "chunk64-minus-1", "chunk64", "chunk64-plus-1", "big" };
        for (int i = 0; i < sizes.length; i++)
        {
            file(x, src, "sizes/" + names[i], sizes[i], 100 + i);
        }
        dir(x, src, "many");
        final SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < 40; i++)
        {
            file(x, src, String.format("many/f%02d", i), 1 + r.nextInt(5000), 200 + i);
        }
        dir(x, src, "mix");
        file(x, src, "mix/a-small", 100, 300);
        file(x, src, "mix/b-big", 40_000, 301);
        file(x, src, "mix/c-small", 200, 302);

        dir(x, src, "names");
        final List<String> odd = new ArrayList<>(List.of(
            "with space", "new\nline", "tab\there", "-dash", "--", "back\\slash", ".hidden", "...", "..x",
            "trailing space ", "quote'\"", "star*?[x]"));
        if (UTF8_NAMES)
        {
            odd.addAll(List.of("\u00e9", "\u65e5\u672c", "emoji \ud83d\ude00", "e\u0301-decomposed"));
        }
        for (int i = 0; i < odd.size(); i++)
        {
            file(x, src, "names/" + odd.get(i), 17 * i, 400 + i);
        }
        dir(x, src, "names/dir with space\nand newline");
        file(x, src, "names/dir with space\nand newline/-inner", 5000, 450);

        dir(x, src, "modes");
        file(x, src, "modes/exec.sh", 300, 500);
        file(x, src, "modes/readonly.txt", 5000, 501);
        file(x, src, "modes/none", 20, 502);
        file(x, src, "modes/setuid", 20, 503);
        file(x, src, "modes/setgid", 20, 504);
        file(x, src, "modes/empty-readonly", 0, 505);
        dir(x, src, "ro-dir/sub");
        file(x, src, "ro-dir/inside.txt", 6000, 506);
        file(x, src, "ro-dir/sub/deeper.txt", 70, 507);
        dir(x, src, "sticky");
        file(x, src, "sticky/f", 33, 508);
        dir(x, src, "setgid-dir");
        dir(x, src, "sub/.ferry");
        file(x, src, "sub/.ferry/x", 9, 509);

        dir(x, src, "links");
        link(x, src, "links/rel", "../sizes/one");
        link(x, src, "links/abs", src.resolve("sizes").toAbsolutePath().toString());
        link(x, src, "links/dangling", "does/not/exist");
        link(x, src, "links/abs-dangling", "/nonexistent/ferry/target");
        link(x, src, "links/dir-link", "../d1");
        link(x, src, "links/self-loop", "self-loop");
        link(x, src, "links/odd name\n", "with space\ttab");

        // modes: after contents
        mode(x, src, "modes/exec.sh", 0755);
        mode(x, src, "modes/readonly.txt", 0444);
        mode(x, src, "modes/none", 0);
        mode(x, src, "modes/setuid", 04755);
        mode(x, src, "modes/setgid", 02711);
        mode(x, src, "modes/empty-readonly", 0400);
        mode(x, src, "ro-dir/inside.txt", 0444);
        mode(x, src, "ro-dir/sub", 0555);
        mode(x, src, "ro-dir", 0555);
        mode(x, src, "sticky", 01777);
        mode(x, src, "setgid-dir", 02750);
        mode(x, src, "empty-dir", 0700);

        // mtimes: last, deepest first, every one with a nanosecond part
        final List<Path> all = new ArrayList<>();
        try (Stream<Path> s = Files.walk(src))
        {
            s.filter((p) -> !p.equals(src) && !Files.isSymbolicLink(p)).forEach(all::add);
        }
        all.sort(Comparator.comparingInt(Path::getNameCount).reversed().thenComparing(Path::toString));
        long i = 0;
        for (final Path p : all)
        {
            final long nanos = 100_000_001L + (i * 7_654_321L) % 899_999_998L;
            final FileTime t = FileTime.from(Instant.ofEpochSecond(1_500_000_000L + 3600 * i, nanos));
            Files.setLastModifiedTime(p, t);
            x.mtimes.put(src.relativize(p).toString(), t.to(TimeUnit.NANOSECONDS));
            i++;
        }
        // the source itself must hold what we set, or the test would prove nothing
        for (final Map.Entry<String, Long> e : x.mtimes.entrySet())
        {
            assertEquals(e.getValue(), TestFiles.mtimeNanos(src.resolve(e.getKey())), "source mtime of " + e.getKey());
        }
        for (final Map.Entry<String, Integer> e : x.modes.entrySet())
        {
            assertEquals(e.getValue(), TestFiles.mode(src.resolve(e.getKey())), "source mode of " + e.getKey());
        }
        return x;
    }

    private static void file(final Expected x, final Path root, final String rel, final long size, final long seed)
        throws IOException
    {
        final byte[] bytes = TestFiles.randomBytes(seed, (int)size);
        Files.write(root.resolve(rel), bytes);
        x.sha.put(rel, TestFiles.sha256(bytes));
        x.sizes.put(rel, size);
        x.modes.put(rel, 0644);
        Files.setAttribute(root.resolve(rel), "unix:mode", 0644, LinkOption.NOFOLLOW_LINKS);
    }

    private static void dir(final Expected x, final Path root, final String rel) throws IOException
    {
        Path p = root;
        for (final Path part : Path.of(rel))
        {
            p = p.resolve(part.toString());
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
            {
                Files.createDirectory(p);
                Files.setAttribute(p, "unix:mode", 0755, LinkOption.NOFOLLOW_LINKS);
                final String r = root.relativize(p).toString();
                x.directories.add(r);
                x.modes.put(r, 0755);
            }
        }
    }

    private static void link(final Expected x, final Path root, final String rel, final String target) throws IOException
    {
        Files.createSymbolicLink(root.resolve(rel), Path.of(target));
        x.links.put(rel, target);
    }

    private static void mode(final Expected x, final Path root, final String rel, final int mode) throws IOException
    {
        Files.setAttribute(root.resolve(rel), "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        x.modes.put(rel, mode);
    }
}
