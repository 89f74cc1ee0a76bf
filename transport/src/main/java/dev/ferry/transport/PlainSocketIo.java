package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;

import dev.ferry.core.protocol.ErrorCode;

/**
 * Clear text: reads and writes go straight to the socket, file regions by {@code FileChannel.transferTo} (sendfile:
 * no copy in the JVM).
 * <p>
 * The first bytes received are checked for a TLS ClientHello: a TLS peer at a clear-text side is told so in a clear
 * text error frame ({@link TlsFailure#TLS_PEER}) instead of failing on a frame length of 66 326 bytes or more. A TLS
 * record starts 0x16 (handshake), 0x03 (major version), then a minor version of 1 to 4; read as a frame header that is
 * a length no first frame (a hello, an error frame, a ping) comes near, so the check cannot mistake a clear-text peer.
 * <p>
 * Loop thread only.
 */
final class PlainSocketIo implements SocketIo
{
    private static final int PROBE_LENGTH = 3;
    private static final int CONTENT_HANDSHAKE = 0x16;
    private static final int MAJOR_VERSION = 0x03;
    private static final int MIN_MINOR_VERSION = 0x01;
    private static final int MAX_MINOR_VERSION = 0x04;

    private final SocketChannel channel;
    private final String peer;
    /** The first {@link #PROBE_LENGTH} bytes received, big-endian, while {@link #probed} is below that. */
    private int probe;
    private int probed;
    private long wireBytesRead;
    private long wireBytesWritten;

    PlainSocketIo(final SocketChannel channel, final String peer)
    {
        this.channel = channel;
        this.peer = peer;
    }

    /**
     * A plain seam that does not probe: for a TLS side answering a clear-text peer, whose bytes were already seen.
     */
    static PlainSocketIo withoutProbe(final SocketChannel channel, final String peer)
    {
        final PlainSocketIo io = new PlainSocketIo(channel, peer);
        io.probed = PROBE_LENGTH;
        return io;
    }

    @Override
    public boolean isTls()
    {
        return false;
    }

    @Override
    public String session()
    {
        return null;
    }

    @Override
    public int read(final ByteBuffer dst, final boolean socketAllowed) throws IOException
    {
        if (!socketAllowed)
        {
            return 0;
        }
        final int n = channel.read(dst);
        if (n > 0)
        {
            wireBytesRead += n;
            if (probed < PROBE_LENGTH)
            {
                probe(dst, n);
            }
        }
        return n;
    }

    private void probe(final ByteBuffer dst, final int n) throws ConnectionFailure
    {
        final int end = dst.position();
        for (int i = end - n; i < end && probed < PROBE_LENGTH; i++)
        {
            probe = (probe << 8) | (dst.get(i) & 0xFF);
            probed++;
        }
        if (probed == PROBE_LENGTH)
        {
            final int minor = probe & 0xFF;
            if ((probe >>> 16) == CONTENT_HANDSHAKE && ((probe >>> 8) & 0xFF) == MAJOR_VERSION &&
                minor >= MIN_MINOR_VERSION && minor <= MAX_MINOR_VERSION)
            {
                throw new ConnectionFailure(ErrorCode.CONFIG_MISMATCH, "a TLS handshake arrived from " + peer +
                    ", but TLS is not configured on this side", TlsFailure.TLS_PEER, true, null);
            }
        }
    }

    @Override
    public boolean hasBufferedInput()
    {
        return false;
    }

    @Override
    public int write(final ByteBuffer src) throws IOException
    {
        final int n = channel.write(src);
        wireBytesWritten += n;
        return n;
    }

    @Override
    public long transferFrom(final FileChannel file, final long position, final long count) throws IOException
    {
        final long n = file.transferTo(position, count, channel);
        if (n > 0)
        {
            wireBytesWritten += n;
            return n;
        }
        return position >= file.size() ? END_OF_STREAM : 0;
    }

    @Override
    public boolean flushPending()
    {
        return true;
    }

    @Override
    public boolean hasPendingOutput()
    {
        return false;
    }

    @Override
    public boolean readyForData()
    {
        return true;
    }

    @Override
    public boolean needsHandshakeStep()
    {
        return false;
    }

    @Override
    public boolean discardPendingRegion()
    {
        return false;
    }

    @Override
    public long takeWireBytesRead()
    {
        final long n = wireBytesRead;
        wireBytesRead = 0;
        return n;
    }

    @Override
    public long takeWireBytesWritten()
    {
        final long n = wireBytesWritten;
        wireBytesWritten = 0;
        return n;
    }

    @Override
    public void close()
    {
        // nothing on the wire: the connection closes the socket
    }
}
