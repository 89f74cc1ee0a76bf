package dev.ferry.engine.donor;

import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.TestFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import org.agrona.DirectBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link FileTreeDonor} refuses to ship a torn copy: a file whose size or mtime differs from the snapshot, before or
 * during its copy, fails the copy with {@link ErrorCode#FILE_CHANGED} naming the file (a small file read whole by the
 * native seam is checked right after its one read, so a change after that is after its copy: the snapshot's bytes
 * ship). A control run over an unchanged tree reassembles every file byte for byte from what the donor offered.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class DonorChangeDetectionTest
{
    private static final int BLOCK = 4096;
    private static final int CHUNK = 16 * 1024;
    private static final String VICTIM = "sub/victim file.bin";

    enum Change
    {
        APPEND_BEFORE, APPEND_KEEPING_MTIME_BEFORE, TRUNCATE_BEFORE, MTIME_BEFORE, APPEND_DURING
    }

    @TempDir
    Path base;

    private FileTreeDonor donor;

    @AfterEach
    void close()
    {
        if (donor != null)
        {
            donor.close();
        }
    }

    static Stream<Arguments> cases()
    {
        final Stream.Builder<Arguments> b = Stream.builder();
        for (final Change change : Change.values())
        {
            for (final int size : new int[]{ 100, 3 * BLOCK - 5, 2 * CHUNK + 9 })
            {
                for (final int smallBlock : new int[]{ 0, BLOCK })
                {
                    b.add(Arguments.of(change, size, smallBlock));
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} size={1} smallBlock={2}")
    @MethodSource("cases")
    void changedFileFailsTheCopyNamingIt(final Change change, final int size, final int smallBlock) throws IOException
    {
        final Path src = source(size);
        final Path victim = src.resolve(VICTIM);
        final Locator real = begin(src, smallBlock);
        final int victimIndex = indexOf(VICTIM);
        switch (change)
        {
            case APPEND_BEFORE:
                Files.write(victim, new byte[]{ 42 }, StandardOpenOption.APPEND);
                break;
            case APPEND_KEEPING_MTIME_BEFORE:
            {
                // only the size tells: put the mtime back as it was
                final FileTime before = Files.getLastModifiedTime(victim, LinkOption.NOFOLLOW_LINKS);
                Files.write(victim, new byte[]{ 42 }, StandardOpenOption.APPEND);
                Files.setLastModifiedTime(victim, before);
                break;
            }
            case TRUNCATE_BEFORE:
                try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.WRITE))
                {
                    ch.truncate(size - 1);
                }
                break;
            case MTIME_BEFORE:
            {
                // same size, one nanosecond later
                final FileTime t = Files.getLastModifiedTime(victim, LinkOption.NOFOLLOW_LINKS);
                Files.setLastModifiedTime(victim, FileTime.from(t.to(TimeUnit.NANOSECONDS) + 1, TimeUnit.NANOSECONDS));
                break;
            }
            default:
                break;
        }
        final Collector collector = new Collector(victimIndex, change == Change.APPEND_DURING ? victim : null);
        if (change == Change.APPEND_DURING && size <= smallBlock && NativeFs.instance().isNative())
        {
            // read whole in one native call and checked against its snapshot before it is offered: the append comes
            // after the read, and the copy is the snapshot's bytes
            final byte[] before = Files.readAllBytes(victim);
            drain(real, collector);
            assertEquals(1, collector.victimBlocks);
            assertArrayEquals(before, collector.files.get(victimIndex));
            assertEquals(size + 1, Files.size(victim), "the append did happen");
            return;
        }

        final FerryException ex = assertThrows(FerryException.class, () -> drain(real, collector));

        assertEquals(ErrorCode.name(ErrorCode.FILE_CHANGED), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains("'" + VICTIM + "'"), ex.getMessage());
        if (change == Change.APPEND_KEEPING_MTIME_BEFORE)
        {
            assertTrue(ex.getMessage().contains(size + " to " + (size + 1)), ex.getMessage());
        }
        if (change == Change.APPEND_DURING)
        {
            assertTrue(collector.victimBlocks > 0, "the change happened during the copy");
        }
    }

    @Test
    void deletedFileFailsTheCopyNamingIt() throws IOException
    {
        final Path src = source(5000);
        final Locator real = begin(src, BLOCK);
        Files.delete(src.resolve(VICTIM));
        final FerryException ex = assertThrows(FerryException.class, () -> drain(real, new Collector(-1, null)));
        assertTrue(ex.code() == ErrorCode.FILE_CHANGED || ex.code() == ErrorCode.IO_ERROR, ex.describe());
        assertTrue(ex.getMessage().contains(VICTIM), ex.getMessage());
    }

    @Test
    void aSmallFileReplacedByAFifoFailsTheCopyWithoutBlocking() throws IOException
    {
        org.junit.jupiter.api.Assumptions.assumeTrue(NativeFs.instance().isNative(), "the read that cannot block is native");
        final Path src = source(100);
        final Locator real = begin(src, BLOCK);
        final Path victim = src.resolve(VICTIM);
        Files.delete(victim);
        NativeFs.instance().mkfifo(dev.ferry.engine.fs.PathBytes.cPath(victim), 0644);
        final FerryException ex = assertThrows(FerryException.class, () -> drain(real, new Collector(-1, null)));
        assertEquals(ErrorCode.name(ErrorCode.FILE_CHANGED), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains("'" + VICTIM + "'") && ex.getMessage().contains("no longer a regular file"),
            ex.getMessage());
    }

    @ParameterizedTest(name = "smallBlock={0}")
    @MethodSource("smallBlocks")
    void unchangedTreeIsOfferedByteForByte(final int smallBlock) throws IOException
    {
        final Path src = source(2 * CHUNK + 9);
        final Locator real = begin(src, smallBlock);
        final Collector collector = new Collector(-1, null);
        drain(real, collector);
        int regular = 0;
        for (final Manifest.Entry e : donor.manifest().entries())
        {
            if (e.isRegular())
            {
                regular++;
                final byte[] got = collector.files.getOrDefault(e.index, new byte[0]);
                assertArrayEquals(Files.readAllBytes(src.resolve(e.path())), got, e.path());
            }
        }
        assertEquals(4, regular);
        assertEquals(donor.manifest().totalBytes(), donor.bytesOffered());
        assertEquals(donor.plan().chunkCount(), collector.lastInChunk, "one last-in-chunk flag per chunk");
    }

    static Stream<Integer> smallBlocks()
    {
        return Stream.of(0, 1000, BLOCK);
    }

    // helpers

    private Path source(final int victimSize) throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src/sub"));
        Files.write(src.resolve("a-first.bin"), TestFiles.randomBytes(1, 5000));
        Files.write(src.resolve("victim file.bin"), TestFiles.randomBytes(2, victimSize));
        Files.write(src.resolve("z-last.bin"), TestFiles.randomBytes(3, 3000));
        Files.write(src.getParent().resolve("top.bin"), TestFiles.randomBytes(4, 7000));
        Files.createDirectories(src.getParent().resolve("empty"));
        return src.getParent();
    }

    private Locator begin(final Path src, final int smallBlock)
    {
        final CloneSettings settings = new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK).filesPerChunk(3)
            .smallBlock(smallBlock).checksum(true).conclude();
        donor = new FileTreeDonor(src, settings);
        final Locator real = donor.begin(CloneMode.START,
            Locator.version(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX));
        assertEquals(Locator.KIND_REAL, real.kind());
        return real;
    }

    private int indexOf(final String path)
    {
        for (final Manifest.Entry e : donor.manifest().entries())
        {
            if (e.path().equals(path))
            {
                return e.index;
            }
        }
        return fail("no " + path);
    }

    private void drain(final Locator real, final Collector collector)
    {
        for (int calls = 0; calls < 100_000; calls++)
        {
            if (donor.copy(real, 0, collector) == DonorStorage.COPY_DONE)
            {
                return;
            }
        }
        fail("the donor never finished");
    }

    /**
     * Accepts everything, reassembles each file from the offered blocks and checks each block's CRC; optionally
     * appends to one file when its first block is offered.
     */
    private final class Collector extends OfferedBytes
    {
        final Map<Integer, byte[]> files = new HashMap<>();
        final int victimIndex;
        final Path appendTo;
        int victimBlocks;
        int lastInChunk;

        Collector(final int victimIndex, final Path appendTo)
        {
            this.victimIndex = victimIndex;
            this.appendTo = appendTo;
        }

        @Override
        void onData(final DirectBuffer descriptor, final int offset, final int length, final byte[] bytes,
            final int n)
        {
            d.wrap(descriptor, offset, length);
            assertEquals(ErrorCode.OK, d.validate());
            assertEquals(DescriptorFlyweight.TYPE_DATA, d.type());
            assertEquals(d.dataLength(), n, "bytes offered");
            assertTrue(d.hasCrc());
            final CRC32C crc = new CRC32C();
            crc.update(bytes, 0, n);
            assertEquals((int)crc.getValue(), d.dataCrc(), "CRC of block " + d.dataBlock() + " of chunk " + d.dataChunk());
            if (d.isLastInChunk())
            {
                lastInChunk++;
            }
            final Manifest.Entry e = donor.manifest().entry(d.fileIndex());
            final byte[] file = files.computeIfAbsent(e.index, (i) -> new byte[(int)e.size]);
            System.arraycopy(bytes, 0, file, (int)d.dataPosition(), n);
            if (e.index == victimIndex)
            {
                victimBlocks++;
                if (appendTo != null && victimBlocks == 1)
                {
                    try
                    {
                        Files.write(appendTo, new byte[]{ 7 }, StandardOpenOption.APPEND);
                    }
                    catch (final IOException ex)
                    {
                        throw new UncheckedIOException(ex);
                    }
                }
            }
        }
    }
}
