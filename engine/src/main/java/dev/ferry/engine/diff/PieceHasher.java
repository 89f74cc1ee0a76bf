package dev.ferry.engine.diff;

import java.nio.ByteBuffer;

import org.agrona.BufferUtil;

import net.openhft.hashing.LongTupleHashFunction;

/**
 * The hash that decides that a piece of a file is unchanged: XXH3-128 (seed 0). 128 bits, so that equal hashes mean
 * equal bytes for any dataset a person will meet (CRC32C stays the wire's integrity check; it is not an identity).
 * Measured by {@code DiffBenchmark} in the jmh module against the JDK's SHA-256. Not thread-safe: one per thread
 * (it keeps its result array).
 */
public final class PieceHasher
{
    private static final LongTupleHashFunction XX128 = LongTupleHashFunction.xx128();

    private final long[] result = new long[2];

    /**
     * Hash {@code length} bytes of the direct {@code buffer} from absolute index {@code offset} (read by address,
     * so no JDK-internal buffer class is needed).
     *
     * @return this; read the hash with {@link #low()} and {@link #high()}.
     */
    public PieceHasher hash(final ByteBuffer buffer, final int offset, final int length)
    {
        if (offset < 0 || length < 0 || offset > buffer.capacity() - length)
        {
            throw new IndexOutOfBoundsException("piece [" + offset + ", +" + length + ") of a buffer of " +
                buffer.capacity());
        }
        XX128.hashMemory(BufferUtil.address(buffer) + offset, length, result);
        return this;
    }

    public long low()
    {
        return result[0];
    }

    public long high()
    {
        return result[1];
    }

    /**
     * @return whether the last hash equals piece {@code piece} of {@code hashes} (two longs per piece, of which the
     *     first {@code pieces} pieces are meaningful).
     */
    public boolean matches(final long[] hashes, final int pieces, final long piece)
    {
        return hashes != null && piece >= 0 && piece < pieces && hashes[(int)piece << 1] == result[0] &&
            hashes[((int)piece << 1) + 1] == result[1];
    }
}
