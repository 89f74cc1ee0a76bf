package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

/**
 * Decompresses the zstd body of a DATA block (protocol 3, flag 16) into a direct buffer of one block, for the apply
 * worker that owns it ({@link BlockWriter} keeps one per task number; calls for one task are never concurrent).
 * <p>
 * A hostile donor's bomb is bounded: the output may be at most the bytes the piece mask announces (zstd stops with
 * "destination too small" past them), and anything but exactly that many is refused by the caller.
 */
final class BlockInflater
{
    private final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
    private final ByteBuffer out;
    private final BufferApplyData plain = new BufferApplyData();
    private String error;

    BlockInflater(final int blockSize)
    {
        out = DirectWrites.allocateAligned(blockSize);
    }

    /**
     * Decompress {@code data} into at most {@code expected} bytes.
     *
     * @return the number of bytes it decompressed to, or -1 if zstd refused the frame ({@link #error} says why).
     */
    int inflate(final BufferApplyData data, final int expected)
    {
        if (expected > out.capacity())
        {
            error = "it announces " + expected + " bytes, more than a block";
            return -1;
        }
        // zstd-jni checks ranges against the limits, which CRC32C and writes of these buffers move
        out.clear();
        data.buffer().limit(data.offset() + data.length()).position(data.offset());
        try
        {
            return ctx.decompressDirectByteBuffer(out, 0, expected, data.buffer(), data.offset(), data.length());
        }
        catch (final ZstdException ex)
        {
            error = ex.getMessage();
            return -1;
        }
    }

    /**
     * @return the bytes of the last {@link #inflate}, {@code length} of them.
     */
    BufferApplyData plain(final int length)
    {
        return plain.set(out, 0, length);
    }

    String error()
    {
        return error;
    }

    void close()
    {
        ctx.close();
    }
}
