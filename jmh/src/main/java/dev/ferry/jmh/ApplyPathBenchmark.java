package dev.ferry.jmh;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import dev.ferry.engine.recipient.BufferApplyData;

/**
 * The recipient's apply of one 1 MiB block from a direct buffer, as an apply worker does it through
 * {@link BufferApplyData}: CRC32C of the bytes, compared with the donor's, then positional writes of at most
 * {@link BufferApplyData#WRITE_SLICE} bytes. The target is a 64 MiB file in {@code java.io.tmpdir}, written in full
 * in setup (so no block is sparse) and overwritten at rotating 1 MiB offsets; it is deleted at the end of the trial.
 * <ul>
 *   <li>{@code applyBlock}: {@code crc32c()} + {@code writeTo()}, the whole per-block cost of an apply worker.</li>
 *   <li>{@code writeToSliced}: {@code writeTo()} alone, in slices.</li>
 *   <li>{@code singleWrite}: the same 1 MiB with one {@code FileChannel.write}, for comparison.</li>
 * </ul>
 * The score is blocks per second; bytes per second = score x 1 MiB. The file stays in the page cache (nothing is
 * forced), so this measures the copy into the page cache plus the checksum, the ceiling an apply thread can reach
 * before the disk is involved. One thread; the state is per thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class ApplyPathBenchmark
{
    /** Bytes in one block. */
    static final int BLOCK_SIZE = 1024 * 1024;
    /** Bytes in the target file; offsets rotate through it. */
    static final long FILE_SIZE = 64L * BLOCK_SIZE;

    private final BufferApplyData applyData = new BufferApplyData();
    private ByteBuffer block;
    private int expectedCrc;
    private Path file;
    private FileChannel channel;
    private long position;

    @Setup(Level.Trial)
    public void setup() throws IOException
    {
        block = ByteBuffer.allocateDirect(BLOCK_SIZE);
        final SplittableRandom random = new SplittableRandom(BLOCK_SIZE);
        while (block.hasRemaining())
        {
            block.put((byte)random.nextInt());
        }
        expectedCrc = applyData.set(block, 0, BLOCK_SIZE).crc32c();

        file = Files.createTempFile("ferry-jmh-apply-", ".bin");
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        for (long at = 0; at < FILE_SIZE; at += BLOCK_SIZE)
        {
            applyData.set(block, 0, BLOCK_SIZE).writeTo(channel, at);
        }
        if (channel.size() != FILE_SIZE)
        {
            throw new IllegalStateException("target file is " + channel.size() + " bytes, expected " + FILE_SIZE);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        try
        {
            if (channel != null)
            {
                channel.close();
            }
        }
        finally
        {
            if (file != null)
            {
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * An apply worker's work for one block: check the CRC32C, then write the block at its offset.
     *
     * @return the CRC32C of the block.
     */
    @Benchmark
    public int applyBlock() throws IOException
    {
        final BufferApplyData data = applyData.set(block, 0, BLOCK_SIZE);
        final int crc = data.crc32c();
        if (crc != expectedCrc)
        {
            throw new IllegalStateException("CRC32C " + Integer.toHexString(crc) + ", expected " +
                Integer.toHexString(expectedCrc));
        }
        final long at = nextPosition();
        data.writeTo(channel, at);
        return crc;
    }

    /**
     * {@link BufferApplyData#writeTo} alone: the block in slices of {@link BufferApplyData#WRITE_SLICE}.
     *
     * @return the offset written at.
     */
    @Benchmark
    public long writeToSliced() throws IOException
    {
        final long at = nextPosition();
        applyData.set(block, 0, BLOCK_SIZE).writeTo(channel, at);
        return at;
    }

    /**
     * The same bytes with one 1 MiB {@code FileChannel.write} (looping only if the write is partial).
     *
     * @return the offset after the block.
     */
    @Benchmark
    public long singleWrite() throws IOException
    {
        long at = nextPosition();
        block.clear();
        while (block.hasRemaining())
        {
            at += channel.write(block, at);
        }
        return at;
    }

    private long nextPosition()
    {
        final long at = position;
        position = at + BLOCK_SIZE == FILE_SIZE ? 0 : at + BLOCK_SIZE;
        return at;
    }
}
