package dev.ferry.jmh;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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

import dev.ferry.engine.diff.PieceHasher;

/**
 * The hash that decides whether a piece of a file changed ({@code --update}, {@code --resume} by manifest): XXH3-128
 * through {@link PieceHasher} (what both sides use), against the JDK's SHA-256 (the other 128+-bit choice) and
 * CRC32C (the wire's check, 32 bits: not an identity, here as the speed ceiling). Each operation hashes one 1 MiB
 * block of direct memory piece by piece, as the recipient hashes its copy and the donor its file; the score is
 * blocks per second, so GB/s = score x 1 MiB. Pieces are 16 KiB at the default 1 MiB block (block / 64) and 4 KiB
 * at blocks of 256 KiB and less. One thread; the state is per thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class DiffBenchmark
{
    static final int BLOCK = 1 << 20;

    /** Piece size in bytes. */
    @Param({"16384", "4096"})
    public int piece;

    private final PieceHasher hasher = new PieceHasher();
    private final CRC32C crc = new CRC32C();
    private final byte[] digest = new byte[32];
    private MessageDigest sha256;
    private ByteBuffer block;

    @Setup
    public void setup() throws NoSuchAlgorithmException
    {
        sha256 = MessageDigest.getInstance("SHA-256");
        block = ByteBuffer.allocateDirect(BLOCK);
        final SplittableRandom random = new SplittableRandom(piece);
        while (block.hasRemaining())
        {
            block.put((byte)random.nextInt());
        }
        block.clear();
    }

    /**
     * @return the xor of the pieces' XXH3-128 hashes (both halves).
     */
    @Benchmark
    public long xxh3_128()
    {
        long acc = 0;
        for (int at = 0; at < BLOCK; at += piece)
        {
            hasher.hash(block, at, piece);
            acc ^= hasher.low() ^ hasher.high();
        }
        return acc;
    }

    /**
     * @return the xor of the first byte of each piece's SHA-256 (the digest computed in full).
     */
    @Benchmark
    public long sha256() throws Exception
    {
        long acc = 0;
        for (int at = 0; at < BLOCK; at += piece)
        {
            block.limit(at + piece).position(at);
            sha256.update(block);
            sha256.digest(digest, 0, digest.length);
            acc ^= digest[0];
        }
        block.clear();
        return acc;
    }

    /**
     * @return the xor of the pieces' CRC32C.
     */
    @Benchmark
    public long crc32c()
    {
        long acc = 0;
        for (int at = 0; at < BLOCK; at += piece)
        {
            block.limit(at + piece).position(at);
            crc.reset();
            crc.update(block);
            acc ^= crc.getValue();
        }
        block.clear();
        return acc;
    }
}
