package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

import org.agrona.IoUtil;

import dev.ferry.core.spi.ApplyData;

/**
 * {@link ApplyData} over a region of a donor file, used by local clone: the bytes move from file to file inside the
 * kernel ({@code FileChannel.transferTo}), never through the JVM, in calls of at most {@code transferCap} bytes.
 * Not thread-safe: one per task.
 */
public final class RegionApplyData implements ApplyData
{
    private final long transferCap;
    private final CRC32C crc = new CRC32C();
    private FileChannel source;
    private long position;
    private int length;

    public RegionApplyData(final long transferCap)
    {
        this.transferCap = transferCap;
    }

    public RegionApplyData set(final FileChannel source, final long position, final int length)
    {
        this.source = source;
        this.position = position;
        this.length = length;
        return this;
    }

    @Override
    public int length()
    {
        return length;
    }

    @Override
    public int crc32c()
    {
        try
        {
            final MappedByteBuffer map = source.map(FileChannel.MapMode.READ_ONLY, position, length);
            try
            {
                crc.reset();
                crc.update(map);
                return (int)crc.getValue();
            }
            finally
            {
                IoUtil.unmap(map);
            }
        }
        catch (final IOException ex)
        {
            return ~0;
        }
    }

    private java.nio.ByteBuffer probe;

    /**
     * Reads the bytes from the donor file to tell (used for sparse files only, page by page).
     */
    @Override
    public boolean isZero(final int from, final int count)
    {
        if (probe == null || probe.capacity() < count)
        {
            probe = java.nio.ByteBuffer.allocateDirect(Math.max(4096, count));
        }
        probe.clear().limit(count);
        try
        {
            while (probe.hasRemaining())
            {
                if (source.read(probe, position + from + probe.position()) < 0)
                {
                    return false;
                }
            }
        }
        catch (final IOException ex)
        {
            return false; // written, and the write reports what is wrong
        }
        return dev.ferry.engine.diff.Zeros.isZero(probe, 0, count);
    }

    @Override
    public void writeTo(final FileChannel target, final long targetPosition) throws IOException
    {
        writeTo(target, targetPosition, 0, length);
    }

    @Override
    public void writeTo(final FileChannel target, final long targetPosition, final int from, final int count)
        throws IOException
    {
        target.position(targetPosition);
        long done = 0;
        while (done < count)
        {
            final long n = source.transferTo(position + from + done, Math.min(transferCap, count - done), target);
            if (n <= 0)
            {
                throw new IOException("donor file ended at offset " + (position + from + done) + " of a block of " +
                    length);
            }
            done += n;
        }
    }
}
