package dev.ferry.engine.faithful;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.local.LocalClone;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Holes inside one block (protocol 3's piece mask): a 1 MiB block holding 4 KiB data extents with holes between them
 * travels as its data pieces only, and the copy allocates no more than the source (pages of zeros inside a piece are
 * not written either).
 */
class SubBlockHoleTest
{
    @TempDir
    Path dir;

    private static void extent(final FileChannel ch, final long at, final Random r) throws java.io.IOException
    {
        final byte[] b = new byte[4096];
        r.nextBytes(b);
        ch.write(ByteBuffer.wrap(b), at);
    }

    private Path build() throws Exception
    {
        final Path src = Files.createDirectories(dir.resolve("src"));
        final Random r = new Random(3);
        try (FileChannel ch = FileChannel.open(src.resolve("holes-in-a-block"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE))
        {
            extent(ch, 0, r);                       // piece 0 of block 0
            extent(ch, 74 * 4096, r);               // inside block 0, not at a piece boundary
            extent(ch, (1 << 20) + 8192, r);        // inside block 1
            extent(ch, (3L << 20) - 4096, r);       // the last page
        }
        assumeTrue(FaithfulTree.blocks(src.resolve("holes-in-a-block")) <= 4 * 8 + 8,
            "this file system keeps small holes (st_blocks " + FaithfulTree.blocks(src.resolve("holes-in-a-block")) + ")");
        return src;
    }

    @Test
    void remoteCloneSendsDataPiecesOnlyAndAllocatesNoMore() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "SEEK_DATA needs the native seam");
        final Path src = build();
        final Path dst = dir.resolve("dst");
        try (DonorService d = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings())).start())
        {
            final CloneResult r = new CloneClient(d.address(), dst, new CloneClient.Options().threads(1)).run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            // four extents, each in one 16 KiB piece: at most four pieces cross the wire, not the 3 MiB
            assertTrue(r.dataBytes() <= 4 * 16384, "data bytes sent " + r.dataBytes());
        }
        final long source = FaithfulTree.blocks(src.resolve("holes-in-a-block"));
        final long copy = FaithfulTree.blocks(dst.resolve("holes-in-a-block"));
        assertTrue(copy <= source, "copy allocates " + copy + " blocks of 512 bytes, the source " + source);
    }

    @Test
    void localCloneAllocatesNoMore() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative(), "SEEK_DATA needs the native seam");
        final Path src = build();
        final Path dst = dir.resolve("dst");
        new LocalClone(src, dst, new CloneSettings().conclude(), 1).run();
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        final long source = FaithfulTree.blocks(src.resolve("holes-in-a-block"));
        final long copy = FaithfulTree.blocks(dst.resolve("holes-in-a-block"));
        assertTrue(copy <= source, "copy allocates " + copy + " blocks of 512 bytes, the source " + source);
    }
}
