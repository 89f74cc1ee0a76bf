package dev.ferry.engine.faithful;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import java.net.InetSocketAddress;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 9 in child JVMs: a remote clone with donor and client under {@code LC_ALL=C LANG=C} (non-ASCII and non-UTF-8
 * names, link targets), and a non-root clone (uid 65534 through setpriv) of a tree with mode-000 and mode-0200 files,
 * whose mtimes must be set although the owner cannot open them.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class FaithfulChildTest
{
    private static final Map<String, String> C_LOCALE = Map.of("LC_ALL", "C", "LANG", "C");

    @TempDir
    Path dir;

    @Test
    void remoteCloneUnderTheCLocale() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        FaithfulTree.build(src, FaithfulTree.ROOT);
        final Path portFile = dir.resolve("port");
        final Process donor = start(List.of(), C_LOCALE, System.getProperty("java.class.path"), "donor",
            src.toString(), portFile.toString());
        try
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(portFile) && System.nanoTime() < deadline && donor.isAlive())
            {
                Thread.sleep(50);
            }
            assertTrue(Files.exists(portFile), "donor child did not start");
            final Process client = start(List.of(), C_LOCALE, System.getProperty("java.class.path"), "clone",
                Files.readString(portFile), dst.toString());
            assertOk(client);
        }
        finally
        {
            donor.destroy();
            donor.waitFor(10, TimeUnit.SECONDS);
        }
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        FaithfulCloneTest.assertFaithful(src, dst);
    }

    @Test
    void nonRootCloneOfModeZeroAndWriteOnlyFiles() throws Exception
    {
        assumeTrue(FaithfulTree.ROOT, "needs root to switch to uid 65534");
        final String classPath = ChildJvm.readableClassPath(dir.resolve("cp"));
        final Path work = dir.resolve("work");
        sh("chmod 755 '" + dir + "' && mkdir '" + work + "' && chown 65534:65534 '" + work + "'");
        final Path src = dir.resolve("src");
        final Path dst = work.resolve("dst");
        // the donor runs as root (it must read the mode-000 file); the recipient as uid 65534, who owns the tree
        FaithfulTree.build(src, false);
        sh("chown -R 65534:65534 '" + src + "' && chmod 04755 '" + src.resolve("suid") + "' && chmod 02711 '" +
            src.resolve("sgid") + "'");
        final Map<String, String> env = Map.of("HOME", work.toString());
        final List<String> jvm = List.of("-Djna.tmpdir=" + work.resolve(".jna"));
        final String out;
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().blockSize(64 * 1024).chunkSize(1L << 20))).start())
        {
            out = assertOk(startAs(jvm, env, classPath, "clone", String.valueOf(donor.address().getPort()),
                dst.toString()));
        }
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        final NativeFs fs = NativeFs.instance();
        for (final String f : List.of("mode-000", "mode-200"))
        {
            final EntryStat a = fs.stat(PathBytes.cPath(src.resolve(f)));
            final EntryStat b = fs.stat(PathBytes.cPath(dst.resolve(f)));
            assertEquals(a.permissions(), b.permissions(), f);
            assertEquals(a.mtimeNanos(), b.mtimeNanos(), f);
            assertEquals(65534, b.uid(), f);
        }
        assertEquals(0700, fs.stat(PathBytes.cPath(dst)).permissions());
        assertEquals(FaithfulTree.ROOT_MTIME, fs.stat(PathBytes.cPath(dst)).mtimeNanos());
        assertTrue(out.contains("ok"), out);
    }

    private static Process start(final List<String> jvm, final Map<String, String> env, final String classPath,
        final String... args) throws IOException
    {
        return ChildJvm.start(false, jvm, env, classPath, FaithfulChild.class.getName(), List.of(args));
    }

    private static Process startAs(final List<String> jvm, final Map<String, String> env, final String classPath,
        final String... args) throws IOException
    {
        return ChildJvm.start(true, jvm, env, classPath, FaithfulChild.class.getName(), List.of(args));
    }

    private static String assertOk(final Process p) throws Exception
    {
        return ChildJvm.finish(p).assertOk().stdout();
    }

    private static void sh(final String script)
    {
        ChildJvm.sh(script);
    }
}
