package dev.ferry.jmh;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link CRC32C} over a direct {@link ByteBuffer} of one block: what the recipient computes before it writes every
 * block (and the donor over a memory map when it sends one, and {@code ferry verify} on both sides). Sizes are the
 * small-file batching limit (64 KiB) and the default block size (1 MiB).
 * <p>
 * The score is blocks per second; bytes per second = score x {@code size}. At a few GB/s per core the check must
 * stay well above the network rate (a 10 GbE link is 1.25 GB/s) or it becomes the apply workers' bottleneck.
 * One thread; the state is per thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class Crc32cBenchmark
{
    /** Block size in bytes. */
    @Param({"65536", "1048576"})
    public int size;

    private final CRC32C crc = new CRC32C();
    private ByteBuffer block;

    @Setup
    public void setup()
    {
        block = ByteBuffer.allocateDirect(size);
        final SplittableRandom random = new SplittableRandom(size);
        while (block.hasRemaining())
        {
            block.put((byte)random.nextInt());
        }
        block.clear();
    }

    /**
     * @return the CRC32C of the whole block.
     */
    @Benchmark
    public long crc32c()
    {
        block.clear();
        crc.reset();
        crc.update(block);
        return crc.getValue();
    }
}
