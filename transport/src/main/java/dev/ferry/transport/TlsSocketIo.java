package dev.ferry.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;

/**
 * TLS between a connection's plaintext buffers and its socket: an {@link SSLEngine} and three off-heap buffers made
 * once per connection (ciphertext in, ciphertext out in a {@link CiphertextQueue}, and decrypted bytes that did not
 * fit where the connection wanted them), plus one for file regions, made on the first region.
 * <h2>Receive</h2>
 * {@link #read} decrypts into the caller's buffer (the staging buffer, or a bulk body buffer straight away when a
 * whole record fits in it): first what is already decrypted here, then records already received, then at most one
 * socket read. Decrypted bytes that do not fit stay here until the next call, so the connection must call again after
 * it resumes reading, whether or not the socket has anything new ({@link #hasBufferedInput}).
 * <h2>Send</h2>
 * {@link #write} encrypts plaintext into records in the outgoing ciphertext buffer and writes that to the socket,
 * keeping what the socket did not take. Sendfile cannot encrypt: {@link #transferFrom} reads a file region into a
 * direct buffer with positional reads and encrypts from there. Bytes this seam holds (ciphertext, file bytes read and
 * not yet encrypted) always go out before anything written after them.
 * <h2>Handshake</h2>
 * Driven by the same calls: {@link #read} unwraps handshake records and answers them; {@link #flushPending} wraps
 * what the engine asks for. Delegated tasks run inline on the loop thread. Application data waits until the
 * handshake is done ({@link #readyForData}).
 * <h2>Failures</h2>
 * Thrown as {@link ConnectionFailure}s made by {@link TlsDiagnosis}. The first bytes from the peer must start a TLS
 * record: a server that receives clear text fails with {@link TlsFailure#CLEAR_TEXT_PEER}, asking the connection to
 * answer in clear text; a client that receives clear text reports what the server said. A TCP close without
 * {@code close_notify} is an ordinary end of stream, as in clear text: the protocol above has its own explicit ends.
 * <p>
 * Loop thread only.
 */
final class TlsSocketIo implements SocketIo
{
    /** Ciphertext read from the socket in one call, at most. */
    static final int NET_IN_CAPACITY = 256 * 1024;
    /** Ciphertext encrypted ahead of the socket, at most. */
    static final int NET_OUT_CAPACITY = 256 * 1024;
    /** File bytes read per positional read of a region. */
    static final int REGION_CAPACITY = 256 * 1024;

    /** TLS record header: byte 0 is the content type, byte 1 the major version, 3 for every TLS version. */
    private static final int RECORD_TYPE_OFFSET = 0;
    private static final int RECORD_MAJOR_OFFSET = 1;
    private static final int RECORD_MAJOR = 3;
    private static final int CONTENT_ALERT = 21;
    private static final int CONTENT_HANDSHAKE = 22;
    private static final int UNDERFLOW = -2;
    private static final int MAX_ALERT_WRAPS = 4;

    private final SSLEngine engine;
    private final SocketChannel channel;
    private final String peer;
    private final boolean clientMode;
    private final int packetSize;
    private final ByteBuffer empty = ByteBuffer.allocate(0);
    /** Read mode: [position, limit) received and not yet decrypted. */
    private final ByteBuffer netIn;
    private final CiphertextQueue netOut;
    /** Read mode: decrypted and not yet delivered. Replaced only if the session asks for larger buffers. */
    private ByteBuffer appIn;
    /** Read mode: file bytes read and not yet encrypted. */
    private ByteBuffer regionBuffer;
    private boolean handshakeDone;
    private boolean firstRecordChecked;
    private boolean applicationDataReceived;
    private boolean closed;
    private long wireBytesRead;

    /**
     * @param remote the peer's address; in client mode its host string is what the server's certificate must name.
     */
    TlsSocketIo(final TlsConfig config, final SocketChannel channel, final InetSocketAddress remote, final String peer)
        throws IOException
    {
        this.engine = config.newEngine(remote);
        this.channel = channel;
        this.peer = peer;
        this.clientMode = config.clientMode();
        this.packetSize = engine.getSession().getPacketBufferSize();
        this.netIn = ByteBuffer.allocateDirect(Math.max(NET_IN_CAPACITY, packetSize));
        this.netIn.flip();
        this.netOut = new CiphertextQueue(channel, Math.max(NET_OUT_CAPACITY, 2 * packetSize));
        this.appIn = ByteBuffer.allocateDirect(engine.getSession().getApplicationBufferSize());
        this.appIn.flip();
        engine.beginHandshake();
    }

    @Override
    public boolean isTls()
    {
        return true;
    }

    @Override
    public String session()
    {
        return handshakeDone ? engine.getSession().getProtocol() + " " + engine.getSession().getCipherSuite() : null;
    }

    @Override
    public boolean readyForData()
    {
        return handshakeDone;
    }

    @Override
    public boolean needsHandshakeStep()
    {
        return !handshakeDone && !hasPendingCiphertext();
    }

    @Override
    public boolean hasBufferedInput()
    {
        return appIn.hasRemaining() || netIn.hasRemaining();
    }

    @Override
    public boolean hasPendingOutput()
    {
        return hasPendingCiphertext() || regionPending();
    }

    private boolean hasPendingCiphertext()
    {
        return netOut.hasPending();
    }

    private boolean regionPending()
    {
        return regionBuffer != null && regionBuffer.hasRemaining();
    }

    @Override
    public boolean discardPendingRegion()
    {
        if (!regionPending())
        {
            return false;
        }
        regionBuffer.limit(0);
        return true;
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
        return netOut.takeWritten();
    }

    @Override
    public int read(final ByteBuffer dst, final boolean socketAllowed) throws IOException
    {
        int produced = drainAppIn(dst);
        boolean socketTried = !socketAllowed;
        try
        {
            while (dst.hasRemaining())
            {
                final HandshakeStatus hs = engine.getHandshakeStatus();
                if (hs == HandshakeStatus.NEED_TASK)
                {
                    runTasks();
                    continue;
                }
                if (hs == HandshakeStatus.NEED_WRAP)
                {
                    if (!advanceHandshake() && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP)
                    {
                        break;
                    }
                    continue;
                }
                if (netIn.hasRemaining())
                {
                    if (!firstRecordChecked)
                    {
                        checkFirstRecord();
                    }
                    final int n = unwrap(dst);
                    if (n == END_OF_STREAM)
                    {
                        return produced > 0 ? produced : END_OF_STREAM;
                    }
                    if (n >= 0)
                    {
                        produced += n;
                        continue;
                    }
                }
                if (socketTried)
                {
                    break;
                }
                socketTried = true;
                netIn.compact();
                final int n;
                try
                {
                    n = channel.read(netIn);
                }
                finally
                {
                    netIn.flip();
                }
                if (n < 0)
                {
                    return produced > 0 ? produced : END_OF_STREAM;
                }
                if (n == 0)
                {
                    break;
                }
                wireBytesRead += n;
            }
            final HandshakeStatus after = engine.getHandshakeStatus();
            if (after == HandshakeStatus.NEED_WRAP || after == HandshakeStatus.NEED_TASK)
            {
                advanceHandshake();
            }
        }
        catch (final SSLException ex)
        {
            throw failure(ex);
        }
        return produced;
    }

    private int drainAppIn(final ByteBuffer dst)
    {
        final int n = Math.min(appIn.remaining(), dst.remaining());
        if (n == 0)
        {
            return 0;
        }
        final int limit = appIn.limit();
        appIn.limit(appIn.position() + n);
        dst.put(appIn);
        appIn.limit(limit);
        return n;
    }

    /**
     * Unwrap one record, into {@code dst} when it fits, else into {@link #appIn} and from there what fits.
     *
     * @return bytes placed in {@code dst}, {@link #UNDERFLOW} if no whole record is buffered, or
     * {@link #END_OF_STREAM} when the peer closed TLS.
     */
    private int unwrap(final ByteBuffer dst) throws SSLException
    {
        SSLEngineResult r = engine.unwrap(netIn, dst);
        int placed = r.bytesProduced();
        if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW)
        {
            final int need = engine.getSession().getApplicationBufferSize();
            if (appIn.capacity() < need)
            {
                appIn = ByteBuffer.allocateDirect(need);
            }
            appIn.clear();
            r = engine.unwrap(netIn, appIn);
            appIn.flip();
            placed = drainAppIn(dst);
        }
        if (r.getHandshakeStatus() == HandshakeStatus.FINISHED)
        {
            handshakeDone = true;
        }
        switch (r.getStatus())
        {
            case CLOSED:
                return placed > 0 ? placed : END_OF_STREAM;
            case BUFFER_UNDERFLOW:
                return UNDERFLOW;
            case BUFFER_OVERFLOW:
                throw new SSLException("a record does not fit the application buffer of " + appIn.capacity() + " bytes");
            default:
                if (r.bytesConsumed() == 0 && r.bytesProduced() == 0 && r.getHandshakeStatus() != HandshakeStatus.NEED_TASK &&
                    r.getHandshakeStatus() != HandshakeStatus.NEED_WRAP)
                {
                    return UNDERFLOW;
                }
                if (r.bytesProduced() > 0 && handshakeDone)
                {
                    applicationDataReceived = true;
                }
                return placed;
        }
    }

    /**
     * The first bytes from the peer must start a TLS record (a handshake, or an alert from a server refusing us).
     */
    private void checkFirstRecord() throws ConnectionFailure
    {
        final int p = netIn.position();
        final int type = netIn.get(p + RECORD_TYPE_OFFSET);
        final boolean tlsType = type == CONTENT_HANDSHAKE || (clientMode && type == CONTENT_ALERT);
        if (tlsType && netIn.remaining() <= RECORD_MAJOR_OFFSET)
        {
            return;
        }
        firstRecordChecked = true;
        if (tlsType && netIn.get(p + RECORD_MAJOR_OFFSET) == RECORD_MAJOR)
        {
            return;
        }
        throw clientMode ? TlsDiagnosis.clearTextAnswer(netIn, peer) : TlsDiagnosis.clearTextPeer(peer);
    }

    @Override
    public boolean flushPending() throws IOException
    {
        netOut.write();
        if (hasPendingCiphertext())
        {
            return false;
        }
        if (!advanceHandshake())
        {
            netOut.write();
            return false;
        }
        if (regionPending())
        {
            wrap(regionBuffer);
            netOut.write();
            return !regionPending() && !hasPendingCiphertext();
        }
        return true;
    }

    @Override
    public int write(final ByteBuffer src) throws IOException
    {
        if (!flushPending())
        {
            return 0;
        }
        final int n = wrap(src);
        netOut.write();
        return n;
    }

    @Override
    public long transferFrom(final FileChannel file, final long position, final long count) throws IOException
    {
        if (!flushPending())
        {
            return 0;
        }
        final int n = fillRegion(file, position, count);
        if (n > 0)
        {
            wrap(regionBuffer);
            netOut.write();
        }
        return n;
    }

    /**
     * Run delegated tasks and wrap handshake messages while the engine asks for it, writing them out.
     *
     * @return true if the engine is ready for application data; false while it waits for the peer or the socket.
     */
    private boolean advanceHandshake() throws IOException
    {
        try
        {
            while (true)
            {
                final HandshakeStatus hs = engine.getHandshakeStatus();
                switch (hs)
                {
                    case NEED_TASK:
                        runTasks();
                        break;
                    case NEED_WRAP:
                        if (!netOut.makeRoom(packetSize))
                        {
                            return false;
                        }
                        final SSLEngineResult r = wrapOnce(empty);
                        if (r.getHandshakeStatus() == HandshakeStatus.FINISHED)
                        {
                            handshakeDone = true;
                        }
                        netOut.write();
                        if (r.getStatus() == SSLEngineResult.Status.CLOSED ||
                            (r.bytesProduced() == 0 && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP))
                        {
                            return false;
                        }
                        break;
                    case NEED_UNWRAP:
                    case NEED_UNWRAP_AGAIN:
                        return false;
                    default:
                        handshakeDone = true;
                        return true;
                }
            }
        }
        catch (final SSLException ex)
        {
            throw failure(ex);
        }
    }

    /**
     * Encrypt from {@code src} into the outgoing buffer while both have room.
     *
     * @return plaintext bytes consumed.
     */
    private int wrap(final ByteBuffer src) throws IOException
    {
        int consumed = 0;
        try
        {
            while (src.hasRemaining() && netOut.makeRoom(packetSize))
            {
                final SSLEngineResult r = wrapOnce(src);
                if (r.getStatus() == SSLEngineResult.Status.CLOSED)
                {
                    throw new SSLException("the TLS session is closed");
                }
                if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW)
                {
                    if (!hasPendingCiphertext())
                    {
                        throw new SSLException("a record does not fit the outgoing buffer of " + netOut.capacity() + " bytes");
                    }
                    break;
                }
                consumed += r.bytesConsumed();
                if (r.bytesConsumed() == 0 && r.bytesProduced() == 0)
                {
                    break;
                }
            }
        }
        catch (final SSLException ex)
        {
            throw failure(ex);
        }
        return consumed;
    }

    /**
     * Read up to {@link #REGION_CAPACITY} bytes of a file region to encrypt; only when no region bytes are pending.
     *
     * @return bytes read, or {@link #END_OF_STREAM} if the file ends at {@code position}.
     */
    private int fillRegion(final FileChannel file, final long position, final long remaining) throws IOException
    {
        if (regionBuffer == null)
        {
            regionBuffer = ByteBuffer.allocateDirect(REGION_CAPACITY);
        }
        regionBuffer.clear().limit((int)Math.min(REGION_CAPACITY, remaining));
        int total = 0;
        try
        {
            while (regionBuffer.hasRemaining())
            {
                final int n = file.read(regionBuffer, position + total);
                if (n <= 0)
                {
                    break;
                }
                total += n;
            }
        }
        finally
        {
            regionBuffer.flip();
        }
        return total == 0 ? END_OF_STREAM : total;
    }

    private SSLEngineResult wrapOnce(final ByteBuffer src) throws SSLException
    {
        SSLEngineResult r = engine.wrap(src, netOut.buffer());
        if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK)
        {
            runTasks();
            if (r.bytesProduced() == 0 && r.bytesConsumed() == 0)
            {
                r = engine.wrap(src, netOut.buffer());
            }
        }
        return r;
    }

    private void runTasks()
    {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null)
        {
            task.run();
        }
    }

    /**
     * Send an alert the engine has queued after a failure, and {@code close_notify} if the session is up; once, best
     * effort: the connection is closing anyway.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            engine.closeOutbound();
            for (int i = 0; i < MAX_ALERT_WRAPS && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP; i++)
            {
                if (!netOut.makeRoom(packetSize) || engine.wrap(empty, netOut.buffer()).bytesProduced() == 0)
                {
                    break;
                }
            }
            netOut.write();
        }
        catch (final IOException | RuntimeException ignore)
        {
            // closing: the peer sees the TCP close
        }
    }

    private ConnectionFailure failure(final SSLException ex)
    {
        close();
        return TlsDiagnosis.engineFailed(ex, clientMode, applicationDataReceived, peer);
    }
}
