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

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

/**
 * TLS between one {@link Connection}'s plaintext buffers and its socket: an {@link SSLEngine} and three off-heap
 * buffers made once per connection (ciphertext in, ciphertext out, and decrypted bytes that did not fit where the
 * connection wanted them), plus one for file regions, made on the first region.
 * <h2>Receive</h2>
 * {@link #read} behaves like {@code SocketChannel.read}: it decrypts into the caller's buffer (the staging buffer, or
 * a bulk body buffer straight away when a whole record fits in it), first what is already buffered here, then records
 * already received, then at most one socket read. Decrypted bytes that do not fit stay here until the next call, so
 * the connection must call again after it resumes reading, whether or not the socket has anything new
 * ({@link #hasBufferedInput}).
 * <h2>Send</h2>
 * {@link #wrap} encrypts plaintext (the connection's send buffer) into records in the outgoing ciphertext buffer, and
 * {@link #writePending} writes that to the socket, keeping what the socket did not take. Sendfile cannot encrypt: a
 * file region is read into a direct buffer with positional reads ({@link #fillRegion}) and encrypted from there
 * ({@link #wrapRegion}).
 * <h2>Handshake</h2>
 * Driven by the selector through the same calls: {@link #read} unwraps handshake records and {@link #advanceHandshake}
 * wraps the answers; delegated tasks run inline on the loop thread. Application data waits in the connection's send
 * buffer until the handshake is done.
 * <h2>Failures</h2>
 * Thrown as {@link Failure}, with an error code: a handshake that fails (untrusted certificate, a client certificate
 * missing or refused) is {@link ErrorCode#AUTH_FAILED}; a peer that answers in clear text is
 * {@link ErrorCode#CONFIG_MISMATCH} (a Ferry peer without TLS) or {@link ErrorCode#NOT_FERRY}; a TLS error after
 * application data has flowed is {@link ErrorCode#NETWORK}, so the clone can restart. A TCP close without
 * {@code close_notify} is an ordinary end of stream, as in clear text: the Ferry protocol has its own explicit ends.
 * <p>
 * Loop thread only.
 */
final class TlsChannel
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
    private static final int END_OF_STREAM = -1;
    private static final int MAX_ALERT_WRAPS = 4;

    /**
     * A TLS failure with the Ferry error code it maps to. {@link #clearTextPeer} is set when a TLS server received
     * clear text: the connection may then answer in clear text before it closes.
     */
    static final class Failure extends IOException
    {
        private static final long serialVersionUID = 1L;

        final int code;
        final boolean clearTextPeer;

        Failure(final int code, final String message, final boolean clearTextPeer, final Throwable cause)
        {
            super(message, cause);
            this.code = code;
            this.clearTextPeer = clearTextPeer;
        }
    }

    private final SSLEngine engine;
    private final SocketChannel channel;
    private final String peer;
    private final boolean clientMode;
    private final int packetSize;
    private final ByteBuffer empty = ByteBuffer.allocate(0);
    /** Read mode: [position, limit) received and not yet decrypted. */
    private final ByteBuffer netIn;
    /** Write mode: [netOutIndex, position) encrypted and not yet written. */
    private final ByteBuffer netOut;
    private int netOutIndex;
    /** Read mode: decrypted and not yet delivered. Replaced only if the session asks for larger buffers. */
    private ByteBuffer appIn;
    /** Read mode: file bytes read and not yet encrypted. */
    private ByteBuffer regionBuffer;
    private boolean handshakeDone;
    private boolean firstRecordChecked;
    private boolean applicationDataReceived;
    private boolean closed;
    private long bytesRead;
    private long bytesWritten;

    TlsChannel(final TlsConfig config, final SocketChannel channel, final InetSocketAddress remote, final String peer)
        throws IOException
    {
        this.engine = config.newEngine(remote);
        this.channel = channel;
        this.peer = peer;
        this.clientMode = config.clientMode();
        this.packetSize = engine.getSession().getPacketBufferSize();
        this.netIn = ByteBuffer.allocateDirect(Math.max(NET_IN_CAPACITY, packetSize));
        this.netIn.flip();
        this.netOut = ByteBuffer.allocateDirect(Math.max(NET_OUT_CAPACITY, 2 * packetSize));
        this.appIn = ByteBuffer.allocateDirect(engine.getSession().getApplicationBufferSize());
        this.appIn.flip();
        engine.beginHandshake();
    }

    boolean clientMode()
    {
        return clientMode;
    }

    boolean handshakeDone()
    {
        return handshakeDone;
    }

    String session()
    {
        return engine.getSession().getProtocol() + " " + engine.getSession().getCipherSuite();
    }

    /**
     * @return socket bytes read since the last call.
     */
    long takeBytesRead()
    {
        final long n = bytesRead;
        bytesRead = 0;
        return n;
    }

    /**
     * @return socket bytes written since the last call.
     */
    long takeBytesWritten()
    {
        final long n = bytesWritten;
        bytesWritten = 0;
        return n;
    }

    /**
     * @return true if bytes were received and not yet delivered: {@link #read} may produce data without the socket.
     */
    boolean hasBufferedInput()
    {
        return appIn.hasRemaining() || netIn.hasRemaining();
    }

    /**
     * @return true if ciphertext waits for the socket.
     */
    boolean hasPendingOutput()
    {
        return netOutIndex < netOut.position();
    }

    /**
     * @return true if file bytes were read and not yet encrypted.
     */
    boolean regionPending()
    {
        return regionBuffer != null && regionBuffer.hasRemaining();
    }

    /**
     * Forget file bytes read and not yet encrypted (the region is abandoned).
     */
    void dropRegion()
    {
        if (regionBuffer != null)
        {
            regionBuffer.limit(0);
        }
    }

    /**
     * Decrypt into {@code dst}, as {@code SocketChannel.read} would read into it: buffered plaintext first, then
     * records already received, then at most one socket read (none unless {@code socketAllowed}). Handshake records
     * are processed on the way.
     *
     * @return bytes placed in {@code dst} (0 if none now), or -1 at the end of the stream.
     * @throws Failure on a TLS failure or a clear-text peer.
     */
    int read(final ByteBuffer dst, final boolean socketAllowed) throws IOException
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
                bytesRead += n;
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
     * The first bytes from the peer must start a TLS record (handshake, or an alert from a server refusing us).
     */
    private void checkFirstRecord() throws Failure
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
        if (!clientMode)
        {
            throw new Failure(ErrorCode.CONFIG_MISMATCH, "this donor requires TLS, but the client at " + peer +
                " connected in clear text (clone with --tls-ca FILE naming the CA that signed the donor's certificate)",
                true, null);
        }
        throw clearTextServer();
    }

    /**
     * A server answered our ClientHello in clear text: report what it said if it is a Ferry error frame.
     */
    private Failure clearTextServer()
    {
        final int p = netIn.position();
        final int available = netIn.remaining();
        final UnsafeBuffer view = new UnsafeBuffer(netIn);
        if (available >= FrameHeader.HEADER_LENGTH &&
            FrameHeader.validate(view, p, FrameHeader.DEFAULT_MAX_FRAME_LENGTH) == ErrorCode.OK)
        {
            final int length = FrameHeader.frameLength(view, p);
            final int bodyLength = length - FrameHeader.HEADER_LENGTH;
            if (FrameHeader.type(view, p) == FrameType.COM_RES_ERROR && length <= available &&
                ErrorCodec.validate(view, p + FrameHeader.HEADER_LENGTH, bodyLength) == ErrorCode.OK)
            {
                final int code = ErrorCodec.code(view, p + FrameHeader.HEADER_LENGTH);
                return new Failure(code == ErrorCode.OK ? ErrorCode.CONFIG_MISMATCH : code, "the donor at " + peer +
                    " answered the TLS handshake in clear text: " + ErrorCode.name(code) + ": " +
                    ErrorCodec.message(view, p + FrameHeader.HEADER_LENGTH), false, null);
            }
            return new Failure(ErrorCode.CONFIG_MISMATCH, "the donor at " + peer + " does not use TLS: it answered " +
                "the TLS handshake with a clear-text Ferry frame (start the donor with --tls-cert and --tls-key, or " +
                "clone without --tls-ca)", false, null);
        }
        return new Failure(ErrorCode.NOT_FERRY, "the peer at " + peer + " does not speak TLS: it answered the TLS " +
            "handshake with bytes that are not a TLS record", false, null);
    }

    /**
     * Run delegated tasks and wrap handshake messages while the engine asks for it, writing them out.
     *
     * @return true if the engine is ready for application data; false while it waits for the peer or the socket.
     */
    boolean advanceHandshake() throws IOException
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
                        if (!makeRoom())
                        {
                            return false;
                        }
                        final SSLEngineResult r = wrapOnce(empty);
                        if (r.getHandshakeStatus() == HandshakeStatus.FINISHED)
                        {
                            handshakeDone = true;
                        }
                        writePending();
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
     * Encrypt from {@code src} into the outgoing buffer while both have room. Handshake first.
     *
     * @return plaintext bytes consumed.
     */
    int wrap(final ByteBuffer src) throws IOException
    {
        int consumed = 0;
        try
        {
            while (src.hasRemaining() && makeRoom())
            {
                final SSLEngineResult r = wrapOnce(src);
                if (r.getStatus() == SSLEngineResult.Status.CLOSED)
                {
                    throw new SSLException("the TLS session is closed");
                }
                if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW)
                {
                    if (!hasPendingOutput())
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
     * Read up to {@link #REGION_CAPACITY} bytes of a file region to encrypt. Only when {@link #regionPending()} is
     * false.
     *
     * @return bytes read, or -1 at the end of the file.
     */
    int fillRegion(final FileChannel file, final long position, final long remaining) throws IOException
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
        return total == 0 ? -1 : total;
    }

    /**
     * @return region bytes encrypted by this call.
     */
    int wrapRegion() throws IOException
    {
        return wrap(regionBuffer);
    }

    /**
     * Write pending ciphertext as far as the socket takes it.
     *
     * @return bytes written.
     */
    int writePending() throws IOException
    {
        final int end = netOut.position();
        if (netOutIndex == end)
        {
            return 0;
        }
        netOut.limit(end).position(netOutIndex);
        final int n;
        try
        {
            n = channel.write(netOut);
        }
        finally
        {
            netOut.limit(netOut.capacity()).position(end);
        }
        netOutIndex += n;
        bytesWritten += n;
        if (netOutIndex == end)
        {
            netOutIndex = 0;
            netOut.position(0);
        }
        return n;
    }

    /**
     * Make room for one more record in the outgoing buffer: compact it, or write to the socket.
     *
     * @return false if there is no room (the socket is full).
     */
    private boolean makeRoom() throws IOException
    {
        if (netOut.remaining() >= packetSize)
        {
            return true;
        }
        writePending();
        if (netOut.remaining() >= packetSize)
        {
            return true;
        }
        if (netOutIndex > 0)
        {
            final int pending = netOut.position() - netOutIndex;
            netOut.limit(netOut.position()).position(netOutIndex);
            netOut.compact();
            netOut.limit(netOut.capacity()).position(pending);
            netOutIndex = 0;
        }
        return netOut.remaining() >= packetSize;
    }

    private SSLEngineResult wrapOnce(final ByteBuffer src) throws SSLException
    {
        SSLEngineResult r = engine.wrap(src, netOut);
        if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK)
        {
            runTasks();
            if (r.bytesProduced() == 0 && r.bytesConsumed() == 0)
            {
                r = engine.wrap(src, netOut);
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
    void closeQuietly()
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
                if (!makeRoom() || engine.wrap(empty, netOut).bytesProduced() == 0)
                {
                    break;
                }
            }
            writePending();
        }
        catch (final IOException | RuntimeException ignore)
        {
            // closing: the peer sees the TCP close
        }
    }

    private Failure failure(final SSLException ex)
    {
        closeQuietly();
        final String why = String.valueOf(ex.getMessage());
        if (applicationDataReceived)
        {
            return new Failure(ErrorCode.NETWORK, "TLS failed on the connection with " + peer + ": " + why, false, ex);
        }
        return new Failure(ErrorCode.AUTH_FAILED, "TLS handshake with " + peer + " failed: " + why + hint(why), false, ex);
    }

    private String hint(final String why)
    {
        if (clientMode)
        {
            if (why.contains("PKIX") || why.contains("certification path"))
            {
                return " (the donor's certificate is not signed by a CA in --tls-ca)";
            }
            if (why.contains("bad_certificate") || why.contains("certificate_required"))
            {
                return " (the donor requires a client certificate signed by its --tls-client-ca: pass --tls-cert and " +
                    "--tls-key)";
            }
            if (why.contains("certificate_unknown"))
            {
                return " (the donor does not trust this client's certificate)";
            }
            return "";
        }
        if (why.contains("Empty client certificate chain"))
        {
            return " (the client presented no certificate signed by --tls-client-ca; it needs --tls-cert and " +
                "--tls-key with such a certificate)";
        }
        if (why.contains("PKIX") || why.contains("certification path"))
        {
            return " (the client's certificate is not signed by a CA in --tls-client-ca)";
        }
        if (why.contains("certificate_unknown") || why.contains("bad_certificate"))
        {
            return " (the client does not trust this donor's certificate: check its --tls-ca)";
        }
        return "";
    }
}
