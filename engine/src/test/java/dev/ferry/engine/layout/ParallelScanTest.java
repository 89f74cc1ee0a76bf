package dev.ferry.engine.layout;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scan reads directories and probes entries on several threads ahead of the walk; the manifest must be the one a
 * walk on one thread makes, entry for entry (order, hard links, symlinks, xattrs, skipped sockets and the recipient's
 * state directory, warnings), and a failure deep in the tree must be the same one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelScanTest
{
    @TempDir
    Path root;

    @Test
    void anyThreadCountMakesTheSameManifest() throws Exception
    {
        // wide and deep: 6 x 5 directories with 3 levels, files, links across directories
        for (int a = 0; a < 6; a++)
        {
            for (int b = 0; b < 5; b++)
            {
                final Path dir = Files.createDirectories(root.resolve("a" + a).resolve("b" + b).resolve("c"));
                for (int f = 0; f < 40; f++)
                {
                    Files.write(dir.resolve("f" + f), ("file " + a + b + f).getBytes(StandardCharsets.UTF_8));
                }
                Files.write(root.resolve("a" + a).resolve("b" + b).resolve("top-" + b), new byte[b * 100]);
            }
        }
        Files.createLink(root.resolve("a5/b4/c/hard"), root.resolve("a0/b0/c/f0"));
        Files.createLink(root.resolve("a3/hard"), root.resolve("a0/b0/c/f0"));
        Files.createSymbolicLink(root.resolve("a1/link"), Path.of("../a0/b0/c/f1"));
        Files.createDirectories(root.resolve(".ferry/sub"));
        Files.write(root.resolve(".ferry/sub/state"), new byte[10]);
        Files.write(root.resolve("x"), new byte[] { 1 });
        try
        {
            Files.getFileAttributeView(root.resolve("x"), UserDefinedFileAttributeView.class)
                .write("ferry.test", ByteBuffer.wrap(new byte[] { 0, (byte)0xff }));
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            // a file system without user xattrs: the rest still compares
        }
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            s.bind(UnixDomainSocketAddress.of(root.resolve("a2/sock")));
        }
        new ProcessBuilder("mkfifo", root.resolve("a4/fifo").toString()).start().waitFor();
        // nothing written within the racy window, so the RECENT flags agree whatever time each scan reads
        final FileTime past = FileTime.fromMillis(System.currentTimeMillis() - 3_600_000);
        try (var s = Files.walk(root))
        {
            for (final Path p : (Iterable<Path>)s::iterator)
            {
                // not the FIFO (the JDK opens a file to set its time, and a FIFO's open waits for a writer)
                if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) ||
                    Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                {
                    Files.setLastModifiedTime(p, past);
                }
            }
        }
        Thread.sleep(2 * ManifestScanner.RACY_WINDOW_NANOS / 1_000_000);

        final Manifest one = ManifestScanner.scan(root, 1);
        assertTrue(one.size() > 1_300, "entries " + one.size());
        assertEquals(2, one.skipped(), "the socket and .ferry");
        for (final int threads : new int[] { 2, 4, 8 })
        {
            final Manifest many = ManifestScanner.scan(root, threads);
            assertEquals(one.size(), many.size(), threads + " threads");
            assertEquals(one.skipped(), many.skipped());
            assertEquals(one.warnings(), many.warnings());
            int links = 0;
            for (int i = 0; i < one.size(); i++)
            {
                final Manifest.Entry e = one.entry(i);
                final Manifest.Entry f = many.entry(i);
                final String at = threads + " threads, entry " + i + " " + e.path();
                assertArrayEquals(e.pathBytes, f.pathBytes, at);
                assertEquals(e.type, f.type, at);
                assertEquals(e.size, f.size, at);
                assertEquals(e.mode, f.mode, at);
                assertEquals(e.mtimeNanos, f.mtimeNanos, at);
                assertArrayEquals(e.linkTargetBytes, f.linkTargetBytes, at);
                assertEquals(e.uid, f.uid, at);
                assertEquals(e.gid, f.gid, at);
                assertEquals(e.flags, f.flags, at);
                assertEquals(e.linkIndex, f.linkIndex, at);
                assertEquals(e.xattrCount, f.xattrCount, at);
                assertArrayEquals(e.xattrs, f.xattrs, at);
                links += e.type == DescriptorFlyweight.FILE_HARDLINK ? 1 : 0;
            }
            assertEquals(2, links, "two later names of one inode are links to the first");
        }
    }

    @Test
    void aFailureDeepInTheTreeIsTheOneAWalkOnOneThreadMeets() throws Exception
    {
        // a file with more xattrs than the protocol carries, several levels down, after directories the read-ahead
        // reaches first, and a second bad file later in the walk: both scans fail at the first one
        for (int i = 0; i < 20; i++)
        {
            Files.write(Files.createDirectories(root.resolve("d" + i + "/e/f")).resolve("ok"), new byte[] { 1 });
        }
        final Path bad = Files.write(root.resolve("d7/e/f/bad"), new byte[] { 2 });
        final Path later = Files.write(root.resolve("d9/later"), new byte[] { 3 });
        for (final Path p : new Path[] { bad, later })
        {
            final UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
            try
            {
                for (int x = 0; x <= DescriptorFlyweight.MAX_XATTRS; x++)
                {
                    view.write("x" + x, ByteBuffer.wrap(new byte[] { (byte)x }));
                }
            }
            catch (final IOException | UnsupportedOperationException ex)
            {
                org.junit.jupiter.api.Assumptions.assumeTrue(false, "no user xattrs here: " + ex);
            }
        }
        final FerryException a = assertThrows(FerryException.class, () -> ManifestScanner.scan(root, 1));
        final FerryException b = assertThrows(FerryException.class, () -> ManifestScanner.scan(root, 4));
        assertEquals(a.code(), b.code());
        assertEquals(a.getMessage(), b.getMessage());
        assertTrue(a.getMessage().contains("d7/e/f/bad") && a.getMessage().contains("xattrs"), a.getMessage());
    }
}
