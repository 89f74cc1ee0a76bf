package dev.ferry.engine.layout;

import dev.ferry.engine.recipient.BufferApplyData;
import dev.ferry.engine.recipient.RegionApplyData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link ChunkPlan} arithmetic on synthetic manifests (no real files), including sizes around 2 GiB and beyond, under
 * several chunk/block/batch settings; plus the two {@link dev.ferry.core.spi.ApplyData} implementations on real temp
 * files, {@link RegionApplyData} with a per-call transfer cap far below the block length.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ChunkPlanTest
{
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GIB = 1024 * MIB;

    @TempDir
    Path dir;

    static Stream<Arguments> settings()
    {
        // chunkSize, blockSize, filesPerChunk
        return Stream.of(
            Arguments.of(64 * MIB, (int)MIB, 4096),
            Arguments.of(16 * KIB, 4096, 3),
            Arguments.of(64 * KIB, 4096, 1),
            Arguments.of(4 * GIB, (int)(64 * MIB), 2),
            Arguments.of(64 * MIB, (int)(64 * MIB), 5));
    }

    @ParameterizedTest(name = "chunk={0} block={1} filesPerChunk={2}")
    @MethodSource("settings")
    void edgeSizesAreCutExactly(final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        new CloneSettings().chunkSize(chunkSize).blockSize(blockSize).filesPerChunk(filesPerChunk).smallBlock(0)
            .maxFrameLength(blockSize + 4096).conclude();
        final long[] sizes = {
            0, 1, blockSize - 1, blockSize, blockSize + 1, chunkSize - 1, chunkSize, chunkSize + 1,
            2 * GIB - 1, 2 * GIB, 2 * GIB + 1, 5 * GIB + 3, 0x7FFF_F000L, 0x7FFF_F000L + 1, 1, 0, 2 };
        final Manifest m = manifest(sizes, 0);
        final ChunkPlan plan = ChunkPlan.build(m, chunkSize, blockSize, filesPerChunk);
        checkPlan(m, plan, chunkSize, blockSize, filesPerChunk);
    }

    @ParameterizedTest(name = "chunk={0} block={1} filesPerChunk={2}")
    @MethodSource("settings")
    void manySmallFilesAreBatched(final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        final SplittableRandom r = new SplittableRandom(chunkSize ^ blockSize ^ filesPerChunk);
        final long[] sizes = new long[3000];
        for (int i = 0; i < sizes.length; i++)
        {
            switch (r.nextInt(6))
            {
                case 0: sizes[i] = 0; break;
                case 1: sizes[i] = 1 + r.nextInt(100); break;
                case 2: sizes[i] = 1 + r.nextLong(chunkSize - 1); break;
                case 3: sizes[i] = blockSize + r.nextInt(3) - 1; break;
                case 4: sizes[i] = chunkSize / 2 + r.nextInt(3) - 1; break;
                default: sizes[i] = 1 + r.nextInt(blockSize); break;
            }
        }
        sizes[1000] = 3 * chunkSize + 7;
        final Manifest m = manifest(sizes, 50);
        final ChunkPlan plan = ChunkPlan.build(m, chunkSize, blockSize, filesPerChunk);
        checkPlan(m, plan, chunkSize, blockSize, filesPerChunk);
    }

    @Test
    void filesPerChunkAndChunkSizeBoundBatches()
    {
        final long[] ones = new long[10_000];
        Arrays.fill(ones, 1);
        final Manifest m = manifest(ones, 0);
        final ChunkPlan plan = ChunkPlan.build(m, 64 * MIB, (int)MIB, 4096);
        assertEquals(3, plan.chunkCount());
        assertEquals(4096, plan.segmentCount(0));
        assertEquals(4096, plan.segmentCount(1));
        assertEquals(10_000 - 8192, plan.segmentCount(2));
        assertEquals(4096, plan.chunkBlocks(0));
        assertEquals(4096L, plan.chunkBytes(0));
        checkPlan(m, plan, 64 * MIB, (int)MIB, 4096);

        // three files of 6 KiB: two fit a 16 KiB chunk, the third opens a new one
        final Manifest m2 = manifest(new long[]{ 6 * KIB, 6 * KIB, 6 * KIB }, 0);
        final ChunkPlan p2 = ChunkPlan.build(m2, 16 * KIB, 4096, 100);
        assertEquals(2, p2.chunkCount());
        assertEquals(12 * KIB, p2.chunkBytes(0));
        assertEquals(4, p2.chunkBlocks(0), "each 6 KiB file takes two blocks of its own: blocks never span files");
        assertEquals(2, p2.segmentFirstBlock(1));
        checkPlan(m2, p2, 16 * KIB, 4096, 100);
    }

    @Test
    void bigFileBetweenSmallFilesKeepsChunkSegmentsContiguous()
    {
        final long cs = 16 * KIB;
        // small, big, small, small
        final Manifest m = manifest(new long[]{ 100, 3 * cs + 5, 200, 300 }, 0);
        final ChunkPlan plan = ChunkPlan.build(m, cs, 4096, 4096);
        checkPlan(m, plan, cs, 4096, 4096);
        final List<List<String>> chunks = new ArrayList<>();
        for (int c = 0; c < plan.chunkCount(); c++)
        {
            final List<String> files = new ArrayList<>();
            for (int s = plan.firstSegment(c); s < plan.firstSegment(c) + plan.segmentCount(c); s++)
            {
                files.add(m.entry(plan.segmentFile(s)).path() + "@" + plan.segmentOffset(s));
            }
            chunks.add(files);
        }
        final String big = "d/f1";
        assertEquals(List.of(
            List.of("d/f0@0"), List.of(big + "@0"), List.of(big + "@" + cs), List.of(big + "@" + 2 * cs),
            List.of(big + "@" + 3 * cs), List.of("d/f2@0", "d/f3@0")), chunks);
        assertEquals(1, m.entry(fileIndex(m, "d/f1")).firstChunk());
        assertEquals(4, m.entry(fileIndex(m, "d/f1")).chunkSpan());
        assertEquals(5, m.entry(fileIndex(m, "d/f3")).firstChunk());
    }

    @Test
    void blocksHelperRoundsUp()
    {
        assertEquals(0, ChunkPlan.blocks(0, 4096));
        assertEquals(1, ChunkPlan.blocks(1, 4096));
        assertEquals(1, ChunkPlan.blocks(4096, 4096));
        assertEquals(2, ChunkPlan.blocks(4097, 4096));
        assertEquals(2048, ChunkPlan.blocks(2 * GIB, (int)MIB));
        assertEquals(2049, ChunkPlan.blocks(2 * GIB + 1, (int)MIB));
        assertEquals(Integer.MAX_VALUE, ChunkPlan.blocks(4096L * Integer.MAX_VALUE, 4096));
    }

    // ApplyData

    @Test
    void regionApplyDataLoopsOverATinyTransferCap() throws IOException
    {
        final byte[] source = TestFiles.randomBytes(11, 200_000);
        final Path from = Files.write(dir.resolve("from"), source);
        final byte[] filler = new byte[150_000];
        Arrays.fill(filler, (byte)0x5A);
        final Path to = Files.write(dir.resolve("to"), filler);
        final int position = 12_345;
        final int length = 100_000;
        final int at = 777;
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
            FileChannel out = FileChannel.open(to, StandardOpenOption.WRITE))
        {
            out.position(5000); // writeTo must not depend on where the channel happens to be
            final RegionApplyData region = new RegionApplyData(7).set(in, position, length);
            assertEquals(length, region.length());
            assertEquals(crc(source, position, length), region.crc32c());
            region.writeTo(out, at);
        }
        final byte[] expected = filler.clone();
        System.arraycopy(source, position, expected, at, length);
        final byte[] actual = Files.readAllBytes(to);
        assertEquals(150_000, actual.length);
        assertEquals(TestFiles.sha256(expected), TestFiles.sha256(actual));
        assertArrayEquals(expected, actual);
    }

    @Test
    void regionApplyDataPastTheEndOfTheDonorFileFails() throws IOException
    {
        final byte[] source = TestFiles.randomBytes(12, 20_000);
        final Path from = Files.write(dir.resolve("from"), source);
        final Path to = dir.resolve("to");
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
            FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            final RegionApplyData region = new RegionApplyData(4096).set(in, 15_000, 10_000);
            final IOException ex = assertThrows(IOException.class, () -> region.writeTo(out, 0));
            assertTrue(ex.getMessage().contains("ended"), ex.getMessage());
        }
        assertArrayEquals(Arrays.copyOfRange(source, 15_000, 20_000), Files.readAllBytes(to));
    }

    @Test
    void bufferApplyDataWritesItsSliceOnly() throws IOException
    {
        final byte[] bytes = TestFiles.randomBytes(13, 10_000);
        final ByteBuffer b = ByteBuffer.allocateDirect(bytes.length);
        b.put(bytes).flip();
        final BufferApplyData data = new BufferApplyData().set(b, 1234, 5000);
        assertEquals(5000, data.length());
        assertEquals(crc(bytes, 1234, 5000), data.crc32c());
        assertEquals(crc(bytes, 1234, 5000), data.crc32c(), "computing the CRC twice gives the same answer");
        final Path to = dir.resolve("to");
        try (FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            data.writeTo(out, 100);
        }
        final byte[] expected = new byte[5100];
        System.arraycopy(bytes, 1234, expected, 100, 5000);
        assertArrayEquals(expected, Files.readAllBytes(to));
    }

    // helpers

    /**
     * A manifest with a directory "d", then one regular file per size named d/f0, d/f1..., and {@code extras}
     * symlinks and directories interleaved every 7 files.
     */
    /**
     * A growing plan (a streamed manifest) laid out entry by entry ends equal to the plan built at once, and at every
     * step its closed chunks are exactly those no later entry can change: each closed chunk already has its final
     * tables, and the one left open is a batch below both caps.
     */
    @ParameterizedTest(name = "chunk={0} block={1} filesPerChunk={2}")
    @MethodSource("settings")
    void aGrowingPlanEqualsTheBuiltOneAtEveryClosedChunk(final long chunkSize, final int blockSize,
        final int filesPerChunk)
    {
        final SplittableRandom r = new SplittableRandom(chunkSize * 31 + filesPerChunk);
        final long[] sizes = new long[2000];
        for (int i = 0; i < sizes.length; i++)
        {
            final int k = r.nextInt(8);
            sizes[i] = k == 0 ? 0 : k == 1 ? chunkSize * (1 + r.nextInt(3)) + r.nextInt(3) - 1 : k == 2 ? chunkSize :
                k == 3 ? chunkSize / 2 : 1 + r.nextInt((int)Math.min(blockSize * 3L, Integer.MAX_VALUE - 1));
        }
        final Manifest whole = manifest(sizes, 40);
        final ChunkPlan built = ChunkPlan.build(whole, chunkSize, blockSize, filesPerChunk);
        final Manifest.Builder b = new Manifest.Builder();
        final Manifest live = b.live();
        final ChunkPlan growing = ChunkPlan.growing(live, chunkSize, blockSize, filesPerChunk);
        int closedBefore = 0;
        for (int i = 0; i < whole.size(); i++)
        {
            b.add(whole.entry(i));
            growing.append(i);
            final int closed = growing.closedChunks();
            assertTrue(closed >= closedBefore, "closed chunks never go back");
            assertTrue(closed == growing.chunkCount() || closed == growing.chunkCount() - 1);
            for (int c = closedBefore; c < closed; c++)
            {
                assertEquals(built.chunkBlocks(c), growing.chunkBlocks(c), "chunk " + c + " closed with its final blocks");
                assertEquals(built.chunkBytes(c), growing.chunkBytes(c));
                assertEquals(built.segmentCount(c), growing.segmentCount(c));
                assertEquals(built.firstSegment(c), growing.firstSegment(c));
            }
            if (closed < growing.chunkCount())
            {
                final int open = closed;
                assertTrue(growing.segmentCount(open) < filesPerChunk && growing.chunkBytes(open) < chunkSize,
                    "only a batch below both caps stays open");
            }
            closedBefore = closed;
        }
        growing.finish();
        live.finish(b.build(0, List.of()));
        assertEquals(built.chunkCount(), growing.chunkCount());
        assertEquals(built.chunkCount(), growing.closedChunks());
        assertArrayEquals(built.order(), growing.order());
        for (int c = 0; c < built.chunkCount(); c++)
        {
            for (int s = built.firstSegment(c); s < built.firstSegment(c) + built.segmentCount(c); s++)
            {
                assertEquals(built.segmentFile(s), growing.segmentFile(s));
                assertEquals(built.segmentFirstBlock(s), growing.segmentFirstBlock(s));
                assertEquals(built.segmentOffset(s), growing.segmentOffset(s));
                assertEquals(built.segmentLength(s), growing.segmentLength(s));
            }
        }
        for (int i = 0; i < whole.size(); i++)
        {
            assertEquals(whole.firstChunk(i), live.firstChunk(i));
            assertEquals(whole.chunkSpan(i), live.chunkSpan(i));
        }
        assertEquals(whole.totalBytes(), live.totalBytes());
        assertTrue(live.isComplete());
    }

    static Manifest manifest(final long[] sizes, final int extras)
    {
        final List<Manifest.Entry> entries = new ArrayList<>();
        entries.add(new Manifest.Entry(0, "d", DescriptorFlyweight.FILE_DIRECTORY, 0, 0755, 0, null));
        int extra = 0;
        for (int i = 0; i < sizes.length; i++)
        {
            if (extra < extras && i % 7 == 3)
            {
                final boolean link = (extra & 1) == 0;
                entries.add(new Manifest.Entry(entries.size(), "d/x" + extra, link ? DescriptorFlyweight.FILE_SYMLINK :
                    DescriptorFlyweight.FILE_DIRECTORY, 0, link ? 0777 : 0755, 0, link ? "f0" : null));
                extra++;
            }
            entries.add(new Manifest.Entry(entries.size(), "d/f" + i, DescriptorFlyweight.FILE_REGULAR, sizes[i], 0644,
                i, null));
        }
        return new Manifest(entries, 0);
    }

    private static int fileIndex(final Manifest m, final String path)
    {
        for (final Manifest.Entry e : m.entries())
        {
            if (e.path().equals(path))
            {
                return e.index;
            }
        }
        return fail("no " + path);
    }

    /**
     * Check every invariant of a plan against its manifest by brute force.
     */
    static void checkPlan(
        final Manifest m, final ChunkPlan plan, final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        assertEquals(blockSize, plan.blockSize());
        // the counter a recipient runs while entries arrive agrees with the plan, entry by entry
        final ChunkPlan.Counter counter = new ChunkPlan.Counter(chunkSize, filesPerChunk);
        long counted = 0;
        for (final Manifest.Entry e : m.entries())
        {
            final long before = counted;
            counted = counter.add(e.isRegular(), e.size);
            assertTrue(counted >= before, "the count never goes down");
            if (e.isRegular() && e.size > 0)
            {
                assertEquals(e.firstChunk() + e.chunkSpan(), counted, "chunks laid out up to " + e.path());
            }
        }
        assertEquals(plan.chunkCount(), counted, "ChunkPlan.Counter and ChunkPlan.build disagree");
        final int n = m.size();
        final List<List<long[]>> ranges = new ArrayList<>();
        for (int i = 0; i < n; i++)
        {
            ranges.add(new ArrayList<>());
        }
        long totalBytes = 0;
        int expectedSegment = 0;
        for (int c = 0; c < plan.chunkCount(); c++)
        {
            final int chunk = c;
            check(expectedSegment == plan.firstSegment(c), () -> "segments of chunk " + chunk + " do not follow the previous chunk's");
            final int count = plan.segmentCount(c);
            check(count >= 1, () -> "chunk " + chunk + " is empty");
            expectedSegment += count;
            long bytes = 0;
            int blocks = 0;
            final long[] blockLengths = new long[Math.max(0, plan.chunkBlocks(c))];
            int nb = 0;
            for (int s = plan.firstSegment(c); s < plan.firstSegment(c) + count; s++)
            {
                final int seg = s;
                final Manifest.Entry e = m.entry(plan.segmentFile(s));
                final long off = plan.segmentOffset(s);
                final long len = plan.segmentLength(s);
                check(e.isRegular() && e.size > 0, () -> "segment " + seg + " of non-regular or empty " + e);
                check(off >= 0 && len > 0 && off + len <= e.size, () -> "segment " + seg + " outside " + e);
                check(c >= e.firstChunk() && c < e.firstChunk() + e.chunkSpan(), () -> "chunk " + chunk + " outside " + e);
                check(blocks == plan.segmentFirstBlock(s), () -> "first block of segment " + seg);
                final int sb = plan.segmentBlocks(s);
                check((len + blockSize - 1) / blockSize == sb, () -> "block count of segment " + seg);
                for (int j = 0; j < sb; j++)
                {
                    final long blen = Math.min(blockSize, len - (long)j * blockSize);
                    if (blen <= 0 || blen > blockSize)
                    {
                        fail("block " + j + " of segment " + s + " has " + blen + " bytes");
                    }
                    if (nb >= blockLengths.length)
                    {
                        fail("chunk " + c + " has more blocks than chunkBlocks");
                    }
                    blockLengths[nb++] = blen;
                    final int found = plan.segmentOf(c, blocks + j);
                    if (found != s)
                    {
                        fail("segmentOf(" + c + ", " + (blocks + j) + ") = " + found + ", expected " + s);
                    }
                }
                if (e.size >= chunkSize)
                {
                    check(count == 1, () -> "a big file's chunk holds only that file: " + e);
                    check((long)(c - e.firstChunk()) * chunkSize == off, () -> "offset of segment " + seg);
                    check(Math.min(chunkSize, e.size - off) == len, () -> "length of segment " + seg);
                }
                else
                {
                    check(off == 0 && len == e.size, () -> "a batched file is one whole segment: " + e);
                    check(e.chunkSpan() == 1, () -> "a batched file spans one chunk: " + e);
                }
                ranges.get(e.index).add(new long[]{ off, len });
                blocks += sb;
                bytes += len;
            }
            final long b0 = bytes;
            final int n0 = blocks;
            check(bytes == plan.chunkBytes(c), () -> "bytes of chunk " + chunk + ": " + plan.chunkBytes(chunk) + " vs " + b0);
            check(blocks == plan.chunkBlocks(c), () -> "blocks of chunk " + chunk + ": " + plan.chunkBlocks(chunk) + " vs " + n0);
            check(bytes <= chunkSize, () -> "chunk " + chunk + " holds " + b0);
            check(count <= filesPerChunk || count == 1, () -> "chunk " + chunk + " batches " + count + " files");
            long suffix = 0;
            for (int b = blocks; b >= 0; b--)
            {
                if (b < blocks)
                {
                    suffix += blockLengths[b];
                }
                final long from = plan.bytesFrom(c, b);
                if (from != suffix)
                {
                    fail("bytesFrom(" + c + ", " + b + ") = " + from + ", expected " + suffix);
                }
            }
            check(plan.bytesFrom(c, -1) == bytes, () -> "bytesFrom(" + chunk + ", -1)");
            totalBytes += bytes;
        }
        assertEquals(m.totalBytes(), totalBytes);

        for (final Manifest.Entry e : m.entries())
        {
            final List<long[]> rs = ranges.get(e.index);
            if (!e.isRegular() || e.size == 0)
            {
                assertEquals(0, rs.size(), () -> "no segments for " + e);
                assertEquals(0, e.chunkSpan(), () -> "no chunks for " + e);
                continue;
            }
            rs.sort((a, b) -> Long.compare(a[0], b[0]));
            long at = 0;
            for (final long[] r : rs)
            {
                if (at != r[0])
                {
                    fail("gap or overlap in " + e + " at " + at + ": next segment starts at " + r[0]);
                }
                at += r[1];
            }
            assertEquals(e.size, at, () -> "coverage of " + e);
            assertEquals(e.size >= chunkSize ? (e.size + chunkSize - 1) / chunkSize : 1, e.chunkSpan(), () -> "span of " + e);
        }

        final int[] order = plan.order();
        assertEquals(plan.chunkCount(), order.length);
        final boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++)
        {
            if (order[i] < 0 || order[i] >= order.length || seen[order[i]])
            {
                fail("order is not a permutation at " + i);
            }
            seen[order[i]] = true;
            if (i > 0)
            {
                final long prev = plan.chunkBytes(order[i - 1]);
                final long cur = plan.chunkBytes(order[i]);
                if (!(prev > cur || (prev == cur && order[i - 1] < order[i])))
                {
                    fail("order is not largest first at " + i);
                }
            }
        }
        if (order.length > 0)
        {
            order[0] = -1;
            assertTrue(plan.order()[0] != -1, "order() must return a copy");
        }
    }

    private static void check(final boolean ok, final Supplier<String> message)
    {
        if (!ok)
        {
            fail(message.get());
        }
    }

    private static int crc(final byte[] bytes, final int offset, final int length)
    {
        final CRC32C c = new CRC32C();
        c.update(bytes, offset, length);
        return (int)c.getValue();
    }
}
