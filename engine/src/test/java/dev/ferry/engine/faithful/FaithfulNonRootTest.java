package dev.ferry.engine.faithful;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.cli.FerryMain;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 9 as a user who is not root (uid 65534 through setpriv, in a child JVM), cloning from a donor that runs as
 * root here: what cannot be kept is said once, with a count, on stderr and in the final JSON record, and the clone
 * completes (owners of another uid, a {@code trusted.*} xattr the kernel refuses); and with the pure-Java file system
 * ({@code -Dferry.native=false}) a tree of mode-000 and mode-0200 files is forced to disk and completes.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class FaithfulNonRootTest
{
    private static final long MTIME = 1_600_000_000_123_456_789L;

    @TempDir
    Path dir;

    private Path work;
    private String classPath;

    @BeforeEach
    void setUp() throws Exception
    {
        assumeTrue(FaithfulTree.ROOT, "needs root to switch to uid 65534 and to own files as another uid");
        assumeTrue(NativeFs.instance().isNative(), "the source tree's xattrs and times are set natively");
        classPath = ChildJvm.readableClassPath(dir.resolve("cp"));
        work = dir.resolve("work");
        ChildJvm.sh("chmod 755 '" + dir + "' && mkdir '" + work + "' && chown 65534:65534 '" + work + "'");
    }

    @Test
    void ownersNotKeptAndARefusedTrustedXattrAreWarnedOnceAndInTheJsonRecord() throws Exception
    {
        final Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("sub"));
        Files.write(src.resolve("a"), FaithfulTree.random(1, 3000));
        Files.write(src.resolve("sub/b"), FaithfulTree.random(2, 10));
        Files.createSymbolicLink(src.resolve("link"), Path.of("a"));
        Files.write(src.resolve("trusted-file"), FaithfulTree.random(3, 20));
        final NativeFs fs = NativeFs.instance();
        fs.setXattr(PathBytes.cPath(src.resolve("trusted-file")), "trusted.ferry".getBytes(), new byte[] { 0, 1, 2 });
        fs.setXattr(PathBytes.cPath(src.resolve("trusted-file")), "user.kept".getBytes(), "yes".getBytes());
        ChildJvm.sh("chown -hR 1234:5678 '" + src + "'");
        final int entries = 6; // the root, a, sub, sub/b, link, trusted-file: none belongs to 65534:65534
        final Path dst = work.resolve("dst");
        final ChildJvm.Result r;
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(settings())).start())
        {
            r = ChildJvm.run(true, List.of("-Djna.tmpdir=" + work.resolve(".jna")), Map.of("HOME", work.toString()),
                classPath, FerryMain.class.getName(), List.of("clone", "--from", "127.0.0.1:" +
                donor.address().getPort(), "--to", dst.toString(), "--progress=json"));
        }
        r.assertOk();
        // the copy is complete: bytes, the user xattr, owned by whoever cloned
        assertArrayEquals(Files.readAllBytes(src.resolve("a")), Files.readAllBytes(dst.resolve("a")));
        assertArrayEquals("yes".getBytes(), fs.getXattr(PathBytes.cPath(dst.resolve("trusted-file")), "user.kept".getBytes()));
        assertNull(fs.getXattr(PathBytes.cPath(dst.resolve("trusted-file")), "trusted.ferry".getBytes()));
        assertEquals(ChildJvm.NOBODY, fs.stat(PathBytes.cPath(dst.resolve("a"))).uid());
        assertFalse(Files.exists(dst.resolve(".ferry")));
        // stderr: each kind once, with its count
        final String owners = "ferry: warning: owners not kept (not running as root): these entries belong to " +
            "65534:65534: " + entries + " entries (";
        assertEquals(1, count(r.stderr(), "ferry: warning: owners not kept"), r.stderr());
        assertTrue(r.stderr().contains(owners), r.stderr());
        assertEquals(1, count(r.stderr(), "ferry: warning: xattrs not kept"), r.stderr());
        assertTrue(r.stderr().contains("ferry: warning: xattrs not kept (refused by this system): 1 entry " +
            "(trusted-file trusted.ferry: "), r.stderr());
        // stdout: JSON lines only, the last one "done" with the same warnings, JSON-escaped
        final String[] lines = r.stdout().strip().split("\n");
        final String last = lines[lines.length - 1];
        assertTrue(last.startsWith("{\"stage\":\"DONE\",\"state\":\"done\","), last);
        final Matcher m = Pattern.compile(",\"warnings\":\\[(.*)\\]\\}$").matcher(last);
        assertTrue(m.find(), last);
        final String warnings = m.group(1);
        assertTrue(warnings.startsWith("\"owners not kept (not running as root): these entries belong to " +
            "65534:65534: " + entries + " entries ("), warnings);
        assertTrue(warnings.contains("\",\"xattrs not kept (refused by this system): 1 entry (trusted-file " +
            "trusted.ferry: "), warnings);
        assertEquals(2, count(warnings, "\",\"") + 1, "two kinds: " + warnings);
        for (final String line : lines)
        {
            assertTrue(line.startsWith("{") && line.endsWith("}"), "a JSON record per line: " + line);
        }
    }

    @Test
    void pureJavaCloneOfModeZeroAndWriteOnlyFilesIsForcedAndCompletes() throws Exception
    {
        final Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("sub"));
        Files.write(src.resolve("mode-000"), FaithfulTree.random(1, 5000));
        Files.write(src.resolve("mode-200"), FaithfulTree.random(2, 70_000));
        Files.write(src.resolve("sub/mode-000"), FaithfulTree.random(3, 10));
        Files.write(src.resolve("mode-400"), FaithfulTree.random(4, 10));
        ChildJvm.sh("chown -R 65534:65534 '" + src + "' && cd '" + src + "' && chmod 000 mode-000 sub/mode-000 && " +
            "chmod 200 mode-200 && chmod 400 mode-400 && chmod 0500 sub && chmod 0700 .");
        final NativeFs fs = NativeFs.instance();
        for (final String f : List.of("mode-000", "mode-200", "mode-400", "sub/mode-000", "sub", ""))
        {
            fs.setTimes(PathBytes.cPath(src.resolve(f)), NativeFs.TIME_OMIT, MTIME);
        }
        final Path dst = work.resolve("dst");
        final ChildJvm.Result r;
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(settings())).start())
        {
            r = ChildJvm.run(true, List.of("-Dferry.native=false"), Map.of("HOME", work.toString()), classPath,
                FaithfulChild.class.getName(), List.of("clone", String.valueOf(donor.address().getPort()),
                dst.toString()));
        }
        r.assertOk();
        assertTrue(r.stdout().contains("ok"), r.stdout() + r.stderr());
        assertFalse(Files.exists(dst.resolve(".ferry")), "FILE SYNC finished");
        for (final String f : List.of("mode-000", "mode-200", "mode-400", "sub/mode-000", "sub", ""))
        {
            final EntryStat a = fs.stat(PathBytes.cPath(src.resolve(f)));
            final EntryStat b = fs.stat(PathBytes.cPath(dst.resolve(f)));
            assertEquals(a.permissions(), b.permissions(), "mode of '" + f + "'");
            // the fallback sets times through the JDK: microseconds at least
            assertEquals(a.mtimeNanos() / 1000, b.mtimeNanos() / 1000, "mtime of '" + f + "'");
            assertEquals(ChildJvm.NOBODY, b.uid(), f);
        }
        for (final String f : List.of("mode-000", "mode-200", "mode-400", "sub/mode-000"))
        {
            assertArrayEquals(Files.readAllBytes(src.resolve(f)), Files.readAllBytes(dst.resolve(f)), f);
        }
    }

    private static CloneSettings settings()
    {
        return new CloneSettings().blockSize(64 * 1024).chunkSize(1L << 20);
    }

    private static int count(final String text, final String what)
    {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + what.length()))
        {
            n++;
        }
        return n;
    }
}
