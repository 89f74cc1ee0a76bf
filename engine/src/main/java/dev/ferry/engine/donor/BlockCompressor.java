package dev.ferry.engine.donor;

import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdException;

/**
 * Compresses one block body at a time into a buffer of its own, as one zstd frame (protocol 3, DATA flag 16), for a
 * donor task whose client asked for it ({@code COM_EXECUTE} flag {@code COMPRESS}). Made on the task's first block;
 * owned by the thread of its {@link DonorCursor}; {@link #close} frees the native context.
 * <p>
 * Counts what it did (blocks tried and kept, bytes in and out, nanoseconds spent) for the donor's report.
 */
final class BlockCompressor
{
    private final ZstdCompressCtx ctx = new ZstdCompressCtx();
    private final ByteBuffer out;
    private final UnsafeBuffer outView;
    private long tried;
    private long kept;
    private long bytesIn;
    private long bytesOut;
    private long nanos;

    BlockCompressor(final int level, final int blockSize)
    {
        ctx.setLevel(level);
        ctx.setChecksum(false); // CRC32C covers the wire bytes
        ctx.setContentSize(true);
        out = ByteBuffer.allocateDirect((int)Zstd.compressBound(blockSize));
        outView = new UnsafeBuffer(out);
    }

    /**
     * Compress {@code [from, from + length)} of the direct buffer {@code src}.
     *
     * @return the compressed length in {@link #view()} from 0, or -1 if it would not be shorter than the input (the
     *     block then travels as it is).
     */
    int compress(final ByteBuffer src, final int from, final int length)
    {
        final long t0 = System.nanoTime();
        int n;
        // zstd-jni checks ranges against the limits, which CRC32C and writes of these buffers move
        out.clear();
        if (src.limit() < from + length)
        {
            src.limit(from + length);
        }
        try
        {
            n = ctx.compressDirectByteBuffer(out, 0, out.capacity(), src, from, length);
        }
        catch (final ZstdException ex)
        {
            n = -1; // cannot happen with a bound-sized output; the block goes uncompressed
        }
        nanos += System.nanoTime() - t0;
        tried++;
        bytesIn += length;
        if (n < 0 || n >= length)
        {
            bytesOut += length;
            return -1;
        }
        kept++;
        bytesOut += n;
        return n;
    }

    /**
     * @return the buffer the last compressed body is in.
     */
    UnsafeBuffer view()
    {
        return outView;
    }

    /**
     * @return the same buffer as a {@link ByteBuffer} (for the CRC32C).
     */
    ByteBuffer buffer()
    {
        return out;
    }

    long blocksTried()
    {
        return tried;
    }

    long blocksCompressed()
    {
        return kept;
    }

    long bytesIn()
    {
        return bytesIn;
    }

    /** Bytes that travel for the blocks tried: compressed where that was shorter, else as they were. */
    long bytesOut()
    {
        return bytesOut;
    }

    long nanos()
    {
        return nanos;
    }

    void close()
    {
        ctx.close();
    }
}
