package dev.ferry.engine.faithful;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        final Path cp = readableClassPath(dir.resolve("cp"));
        final Path work = dir.resolve("work");
        sh("chmod 755 '" + dir + "' && mkdir '" + work + "' && chown 65534:65534 '" + work + "'");
        final Path src = dir.resolve("src");
        final Path dst = work.resolve("dst");
        // the donor runs as root (it must read the mode-000 file); the recipient as uid 65534, who owns the tree
        FaithfulTree.build(src, false);
        sh("chown -R 65534:65534 '" + src + "' && chmod 04755 '" + src.resolve("suid") + "' && chmod 02711 '" +
            src.resolve("sgid") + "'");
        final String classPath = cpString(cp);
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
        return launch(false, jvm, env, classPath, args);
    }

    private static Process startAs(final List<String> jvm, final Map<String, String> env, final String classPath,
        final String... args) throws IOException
    {
        return launch(true, jvm, env, classPath, args);
    }

    private static Process launch(final boolean nobody, final List<String> jvm, final Map<String, String> env,
        final String classPath, final String... args) throws IOException
    {
        final List<String> cmd = new ArrayList<>();
        if (nobody)
        {
            cmd.addAll(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("--add-exports");
        cmd.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        cmd.addAll(jvm);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(FaithfulChild.class.getName());
        cmd.addAll(List.of(args));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        return pb.start();
    }

    private static String assertOk(final Process p) throws Exception
    {
        final byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child did not finish");
        final String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        return text;
    }

    /** This JVM's class path copied where uid 65534 can read it (the Maven repository under /root is not). */
    private static Path readableClassPath(final Path to) throws IOException
    {
        Files.createDirectories(to);
        int n = 0;
        for (final String entry : System.getProperty("java.class.path").split(File.pathSeparator))
        {
            final Path p = Path.of(entry);
            if (Files.isDirectory(p))
            {
                sh("cp -a '" + p + "' '" + to.resolve("d" + n++) + "'");
            }
            else if (Files.isRegularFile(p))
            {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        sh("chmod -R a+rX '" + to + "'");
        return to;
    }

    private static String cpString(final Path cp) throws IOException
    {
        final List<String> parts = new ArrayList<>();
        try (var s = Files.list(cp))
        {
            s.sorted().forEach(p -> parts.add(p.toString()));
        }
        return String.join(File.pathSeparator, parts);
    }

    private static void sh(final String script)
    {
        try
        {
            final Process p = new ProcessBuilder("/bin/sh", "-c", script).redirectErrorStream(true).start();
            final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0)
            {
                throw new AssertionError("sh failed: " + script + "\n" + out);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
    }
}
