package dev.ferry.engine.recipient;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link DirectWrites}: large files are written with O_DIRECT where runs are aligned, the rest (an unaligned tail)
 * through the page cache, and the copy is byte for byte the source, holes included; {@code --no-sync} writes nothing
 * direct.
 */
class DirectWritesTest
{
    private static final int MIB = 1024 * 1024;

    @TempDir
    Path dir;

    @Test
    void onlyAlignedPrefixesGoDirect()
    {
        assertEquals(8192, DirectWrites.directPrefix(4096, 8192, 8192 + 100));
        assertEquals(0, DirectWrites.directPrefix(4096 + 1, 8192, 8192));
        assertEquals(0, DirectWrites.directPrefix(4096, 8192 + 512, 8192));
        assertEquals(0, DirectWrites.directPrefix(0, 0, 4095));
        assertEquals(1 << 20, DirectWrites.directPrefix(1L << 40, 1L << 20, 1 << 20));
        final ByteBuffer b = DirectWrites.allocateAligned(12345);
        assertEquals(12345, b.capacity());
        assertEquals(0, org.agrona.BufferUtil.address(b) % DirectWrites.ALIGN);
    }

    private Path tree() throws Exception
    {
        final Path src = Files.createDirectories(dir.resolve("src"));
        final Random r = new Random(7);
        final byte[] big = new byte[9 * MIB + 1234]; // an unaligned tail after aligned blocks
        r.nextBytes(big);
        Files.write(src.resolve("unaligned-tail"), big);
        final byte[] text = new byte[12 * MIB]; // compresses well
        for (int i = 0; i < text.length; i++)
        {
            text[i] = (byte)('a' + (i * 7 + i / 4096) % 26);
        }
        Files.write(src.resolve("text"), text);
        try (FileChannel ch = FileChannel.open(src.resolve("sparse"), StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            final byte[] page = new byte[8192];
            r.nextBytes(page);
            ch.write(ByteBuffer.wrap(page), 0);
            ch.write(ByteBuffer.wrap(page), 10L * MIB + 4096); // data, a hole of ~10 MiB, data
            ch.truncate(16L * MIB);
        }
        Files.write(src.resolve("small"), Arrays.copyOf(big, 5000)); // below the threshold: page cache
        return src;
    }

    private CloneResult clone(final Path src, final Path dst, final CloneClient.Options options) throws Exception
    {
        try (DonorService d = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings())).start())
        {
            return new CloneClient(d.address(), dst, options).run();
        }
    }

    private static long blocks(final Path p)
    {
        return dev.ferry.engine.faithful.FaithfulTree.blocks(p);
    }

    @Test
    void largeFilesGoDirectAndTheCopyIsTheSource() throws Exception
    {
        final Path src = tree();
        for (final boolean compress : new boolean[] { false, true })
        {
            final Path dst = dir.resolve("dst-" + compress);
            final long before = DirectWrites.bytesWritten();
            final CloneClient.Options o = new CloneClient.Options().threads(2);
            if (compress)
            {
                o.compress(1);
            }
            clone(src, dst, o);
            final long direct = DirectWrites.bytesWritten() - before;
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            // all of the 9 MiB file but its unaligned tail, all of the text, the sparse file's two data extents
            final long expected = (9L * MIB + 1234) / 4096 * 4096 + 12L * MIB + 2 * 8192;
            assertTrue(direct >= expected, "compress " + compress + ": " + direct + " bytes went direct, expected " +
                "at least " + expected);
            assertTrue(blocks(dst.resolve("sparse")) <= blocks(src.resolve("sparse")), "the copy of the sparse file " +
                "allocates " + blocks(dst.resolve("sparse")) + " blocks, the source " + blocks(src.resolve("sparse")));
        }
    }

    @Test
    void noSyncLeavesThePageCacheInCharge() throws Exception
    {
        final Path src = tree();
        final Path dst = dir.resolve("dst");
        final long before = DirectWrites.bytesWritten();
        final CloneClient.Options o = new CloneClient.Options().threads(2);
        o.settings().sync(false);
        clone(src, dst, o);
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        assertEquals(0, DirectWrites.bytesWritten() - before, "--no-sync wrote direct");
    }
}
