package dev.ferry.engine.faithful;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.local.LocalClone;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 9: symlink targets are bytes, and the copy has the same bytes: repeated and trailing '/', "./", ".." and a
 * target that is not UTF-8, which the JDK's {@code Path} would fold ({@code "a//b/"} to {@code "a/b"}). The source
 * links are made by {@code ln -s} and every target is read back by {@code /usr/bin/readlink}, so neither side of the
 * check goes through the code under test.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SymlinkBytesTest
{
    /** Link name (ASCII) to the exact target bytes. */
    private static final Map<String, byte[]> LINKS = new LinkedHashMap<>();

    static
    {
        LINKS.put("double-slash", ascii("a//b"));
        LINKS.put("trailing-slash", ascii("dir/"));
        LINKS.put("dot", ascii("./x"));
        LINKS.put("up-and-double", ascii("../..//y"));
        LINKS.put("both", ascii("a//b/"));
        LINKS.put("absolute", ascii("//etc///passwd/"));
        LINKS.put("not-utf8", new byte[] { 'c', 'a', 'f', (byte)0xe9, '/', '/', (byte)0xff, '/' });
    }

    @TempDir
    Path dir;

    @Test
    void localCloneKeepsTargetBytes() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "the exact bytes need the native seam");
        final Path src = build();
        final Path dst = dir.resolve("dst");
        new LocalClone(src, dst, settings().conclude(), 2).run();
        assertTargets(dst);
        assertEquals(List.of(), TreeComparator.compare(src, dst));
    }

    @Test
    void remoteCloneKeepsTargetBytes() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "the exact bytes need the native seam");
        final Path src = build();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(settings())).start())
        {
            new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2).settings(settings())).run();
        }
        assertTargets(dst);
        assertEquals(List.of(), TreeComparator.compare(src, dst));
    }

    @Test
    void nativeReadlinkIsExactAndThePureJavaFallbackFoldsSlashesAsDocumented() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "compares the native seam with the fallback");
        final Path src = build();
        for (final Map.Entry<String, byte[]> e : LINKS.entrySet())
        {
            assertArrayEquals(e.getValue(), NativeFs.instance().readlink(PathBytes.cPath(src.resolve(e.getKey()))),
                e.getKey());
        }
        final Path pure = dir.resolve("pure");
        NativeFs.pureJava().symlink(ascii("a//b/"), PathBytes.cPath(pure));
        assertArrayEquals(ascii("a/b"), ChildJvm.readlinkBytes(dir, "pure"), "README: the fallback folds '/'");
        final Path exact = dir.resolve("exact");
        NativeFs.instance().symlink(ascii("a//b/"), PathBytes.cPath(exact));
        assertArrayEquals(ascii("a//b/"), ChildJvm.readlinkBytes(dir, "exact"));
    }

    private Path build() throws Exception
    {
        final Path src = dir.resolve("src");
        final StringBuilder script = new StringBuilder("set -e; mkdir '" + src + "'; cd '" + src + "'; mkdir dir; ");
        for (final Map.Entry<String, byte[]> e : LINKS.entrySet())
        {
            script.append("ln -s \"$(printf '").append(printfEscaped(e.getValue())).append("')\" ")
                .append(e.getKey()).append("; ");
        }
        ChildJvm.sh(script.toString());
        for (final Map.Entry<String, byte[]> e : LINKS.entrySet())
        {
            assertArrayEquals(e.getValue(), ChildJvm.readlinkBytes(src, e.getKey()), "source link " + e.getKey());
        }
        return src;
    }

    private static void assertTargets(final Path dst) throws Exception
    {
        for (final Map.Entry<String, byte[]> e : LINKS.entrySet())
        {
            assertArrayEquals(e.getValue(), ChildJvm.readlinkBytes(dst, e.getKey()),
                "target of " + e.getKey() + " in the copy");
        }
    }

    private static CloneSettings settings()
    {
        return new CloneSettings().blockSize(64 * 1024).chunkSize(1L << 20).sync(false);
    }

    private static byte[] ascii(final String s)
    {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Every byte as a printf octal escape: the shell never sees a quote, a '%' or a non-ASCII byte. */
    private static String printfEscaped(final byte[] b)
    {
        final StringBuilder s = new StringBuilder();
        for (final byte x : b)
        {
            s.append('\\').append(String.format("%03o", x & 0xff));
        }
        return s.toString();
    }
}
