package dev.ferry.engine.donor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import org.agrona.DirectBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.spi.CopyCallback;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A copy callback for tests that drive a {@link FileTreeDonor} directly: it accepts everything, checks that every
 * descriptor is valid, and hands each DATA body to {@link #onData} as bytes, whether the donor offered a file region
 * (read here, up to the file's end) or a buffer.
 */
abstract class OfferedBytes implements CopyCallback
{
    final DescriptorFlyweight d = new DescriptorFlyweight();

    /**
     * A DATA frame's body: {@code n} bytes of {@code bytes}.
     */
    abstract void onData(DirectBuffer descriptor, int offset, int length, byte[] bytes, int n);

    @Override
    public boolean onDescriptor(final DirectBuffer descriptor, final int offset, final int length)
    {
        d.wrap(descriptor, offset, length);
        assertEquals(ErrorCode.OK, d.validate());
        return true;
    }

    @Override
    public boolean onFileRegion(final DirectBuffer descriptor, final int offset, final int length,
        final FileChannel channel, final long position, final int count)
    {
        final ByteBuffer b = ByteBuffer.allocate(count);
        try
        {
            while (b.hasRemaining() && channel.read(b, position + b.position()) >= 0)
            {
                // read on, up to the file's end
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        onData(descriptor, offset, length, b.array(), b.position());
        return true;
    }

    @Override
    public boolean onBuffer(final DirectBuffer descriptor, final int offset, final int length,
        final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        final byte[] bytes = new byte[dataLength];
        data.getBytes(dataOffset, bytes);
        onData(descriptor, offset, length, bytes, dataLength);
        return true;
    }
}
