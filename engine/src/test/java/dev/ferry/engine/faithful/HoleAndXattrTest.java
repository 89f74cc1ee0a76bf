package dev.ferry.engine.faithful;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.cli.FerryMain;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.local.LocalClone;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 9: the bytes that were holes are reported (progress, result, the CLI summary and every JSON record carry
 * {@code hole_bytes}), and as root the {@code trusted.*} and {@code security.*} xattrs are cloned, locally and
 * remotely.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HoleAndXattrTest
{
    private static final int BLOCK = 64 * 1024;
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void holeBytesAreReportedByTheResultTheSummaryAndTheJsonRecords() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "st_blocks tells the hole size");
        final Path src = dir.resolve("src");
        Files.createDirectories(src);
        final Path sparse = src.resolve("sparse");
        try (FileChannel ch = FileChannel.open(sparse, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(FaithfulTree.random(1, 1 << 20)), 0);
            ch.write(ByteBuffer.wrap(FaithfulTree.random(2, 4096)), 10L << 20);
        }
        NativeFs.instance().setLength(PathBytes.cPath(sparse), SIZE); // a trailing hole (truncate only shrinks)
        final EntryStat st = NativeFs.instance().stat(PathBytes.cPath(sparse));
        final long hole = SIZE - st.blocks() * 512;
        assertEquals(SIZE, st.size());
        assertTrue(hole > (14L << 20), "the file system made a sparse file: " + st.blocks() + " blocks");
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().blockSize(BLOCK).chunkSize(4L << 20))).start())
        {
            final String from = "127.0.0.1:" + donor.address().getPort();
            final CloneResult r = new CloneClient(donor.address(), dir.resolve("api"), new CloneClient.Options()
                .settings(new CloneSettings().sync(false))).run();
            assertWithinABlock(hole, r.holeBytes(), "CloneResult.holeBytes");
            assertEquals(SIZE, r.dataBytes() + r.holeBytes(), "data and holes make the file");

            final StringWriter out = new StringWriter();
            final StringWriter err = new StringWriter();
            assertEquals(0, FerryMain.run(new String[] { "clone", "--from", from, "--to", dir.resolve("json").toString(),
                "--progress=json", "--no-sync" }, new PrintWriter(out), new PrintWriter(err)), err.toString());
            final String[] lines = out.toString().strip().split("\n");
            for (final String line : lines)
            {
                assertTrue(line.matches("\\{.*\"data_bytes\":\\d+,\"hole_bytes\":\\d+,.*\\}"), line);
            }
            final String last = lines[lines.length - 1];
            assertTrue(last.contains("\"state\":\"done\"") && last.endsWith(",\"warnings\":[]}"), last);
            final Matcher m = Pattern.compile("\"data_bytes\":(\\d+),\"hole_bytes\":(\\d+),").matcher(last);
            assertTrue(m.find(), last);
            assertWithinABlock(hole, Long.parseLong(m.group(2)), "hole_bytes in the final JSON record");
            assertEquals(SIZE, Long.parseLong(m.group(1)) + Long.parseLong(m.group(2)), last);

            final StringWriter summary = new StringWriter();
            assertEquals(0, FerryMain.run(new String[] { "clone", "--from", from, "--to", dir.resolve("cli").toString(),
                "--progress=none", "--no-sync" }, new PrintWriter(summary), new PrintWriter(new StringWriter())));
            final Matcher s = Pattern.compile(", ([0-9.]+ [KMG]?i?B) of holes not sent").matcher(summary.toString());
            assertTrue(s.find(), summary.toString());
        }
        assertArrayEquals(Files.readAllBytes(sparse), Files.readAllBytes(dir.resolve("cli/sparse")));
        // the local clone counts the same holes
        final LocalClone local = new LocalClone(src, dir.resolve("local"), new CloneSettings().blockSize(BLOCK)
            .sync(false).conclude(), 2);
        local.run();
        assertWithinABlock(hole, local.progress().holeBytes(), "local CloneProgress.holeBytes");
        assertEquals(List.of(), local.warnings());
    }

    @Test
    void trustedAndSecurityXattrsAreClonedAsRoot() throws Exception
    {
        assumeTrue(FaithfulTree.ROOT && NativeFs.instance().isNative(), "trusted.* needs root and the native seam");
        final Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("d"));
        Files.write(src.resolve("f"), FaithfulTree.random(1, 100));
        final NativeFs fs = NativeFs.instance();
        final byte[] trusted = { 0, (byte)0xff, 7, 0 };
        final byte[] security = "sec\0value".getBytes();
        try
        {
            fs.setXattr(PathBytes.cPath(src.resolve("f")), "trusted.ferry".getBytes(), trusted);
            fs.setXattr(PathBytes.cPath(src.resolve("d")), "trusted.dir".getBytes(), new byte[0]);
            fs.setXattr(PathBytes.cPath(src.resolve("f")), "security.ferry".getBytes(), security);
        }
        catch (final java.io.IOException ex)
        {
            assumeTrue(false, "this file system refuses trusted.* or security.* xattrs: " + ex);
        }
        final CloneSettings settings = new CloneSettings().blockSize(BLOCK).chunkSize(1L << 20).sync(false);
        final LocalClone local = new LocalClone(src, dir.resolve("local"), settings.conclude(), 2);
        local.run();
        final CloneResult remote;
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(settings)).start())
        {
            remote = new CloneClient(donor.address(), dir.resolve("remote"), new CloneClient.Options().settings(settings))
                .run();
        }
        assertEquals(List.of(), local.warnings());
        assertEquals(List.of(), remote.warnings());
        for (final String copy : List.of("local", "remote"))
        {
            final Path dst = dir.resolve(copy);
            assertArrayEquals(trusted, fs.getXattr(PathBytes.cPath(dst.resolve("f")), "trusted.ferry".getBytes()), copy);
            assertArrayEquals(new byte[0], fs.getXattr(PathBytes.cPath(dst.resolve("d")), "trusted.dir".getBytes()), copy);
            assertArrayEquals(security, fs.getXattr(PathBytes.cPath(dst.resolve("f")), "security.ferry".getBytes()), copy);
        }
    }

    private static void assertWithinABlock(final long expected, final long actual, final String what)
    {
        assertTrue(Math.abs(expected - actual) <= BLOCK, what + ": " + actual + ", the file's holes are " + expected);
    }
}
