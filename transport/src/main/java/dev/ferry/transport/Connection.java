package dev.ferry.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;

/**
 * One framed TCP connection, owned by one {@link EventLoop} thread.
 * <h2>Receive path</h2>
 * Bytes are read into an off-heap staging buffer and frames parsed in place. Control frames are validated and
 * handed to {@link ConnectionHandler#onFrame}. For the bulk frame type ({@link #bulkType}, e.g. data), the body goes
 * into a buffer the handler provides: whatever of it is already staged is copied, the rest is read straight into
 * that buffer. When the handler has no buffer, the connection stops reading: TCP flow control slows the peer.
 * <h2>Send path</h2>
 * Frames are written into an off-heap send buffer ({@link #claim}). A file region ({@link #sendRegion}) follows its
 * header and goes to the socket with {@code FileChannel.transferTo} (sendfile: no copy in the JVM), in calls of at
 * most {@code transferCap} bytes, looping over partial sends. While a region is pending nothing else can be queued;
 * {@link ConnectionHandler#onWritable} says when the send side has drained.
 * <h2>TLS</h2>
 * When the settings carry a {@link TlsConfig}, every byte goes through a {@link TlsChannel} (server or client mode as
 * the config says), with the same API: frames are parsed from decrypted bytes in the same staging buffer, bulk bodies
 * are decrypted straight into the handler's buffers, claimed frames wait in the send buffer until the handshake is
 * done, and a file region, which sendfile cannot encrypt, is read into a direct buffer and encrypted from there.
 * Back-pressure, heartbeats and timeouts work as in clear text; bytes already decrypted are parsed as soon as reading
 * resumes. A TLS server that receives clear text answers with a clear-text error frame ({@link #errorType}) and closes;
 * a clear-text side that receives a TLS ClientHello as its first bytes answers the same way.
 * <h2>Liveness</h2>
 * A PING is sent when nothing was sent for a heartbeat interval; the connection closes with
 * {@link ErrorCode#TIMEOUT} when nothing arrived for the read timeout while it was willing to read.
 * <p>
 * All methods are for the loop thread only, except the counters.
 */
public final class Connection
{
    private static final int READS_PER_CYCLE = 16;
    /** A TLS ClientHello record starts 0x16 (handshake), 0x03 (major version), then a minor version of 1 to 4. */
    private static final int TLS_CONTENT_TYPE_OFFSET = 0;
    private static final int TLS_MAJOR_VERSION_OFFSET = 1;
    private static final int TLS_MINOR_VERSION_OFFSET = 2;
    private static final int TLS_RECORD_PROBE_LENGTH = 3;
    private static final byte TLS_CONTENT_HANDSHAKE = 0x16;
    private static final byte TLS_MAJOR_VERSION = 0x03;
    private static final byte TLS_MIN_MINOR_VERSION = 0x01;
    private static final byte TLS_MAX_MINOR_VERSION = 0x04;

    private final EventLoop loop;
    private final SocketChannel channel;
    private final TransportSettings settings;
    private final FrameValidator validator;
    private final ByteBuffer staging;
    private final UnsafeBuffer stagingView;
    private final ByteBuffer sendBuffer;
    private final UnsafeBuffer sendView;
    private final long readTimeoutNanos;
    private final long heartbeatNanos;
    private final String peer;
    private TlsChannel tls;
    private SelectionKey key;
    private ConnectionHandler handler;
    private int bulkType = -1;
    private int errorType = -1;

    private int parsePosition;
    private ByteBuffer body;
    private int bodyLength;
    private int bodyRemaining;
    private boolean waitingForBody;
    private boolean readPaused;
    private boolean firstFrame = true;

    private int sendIndex;
    private FileChannel region;
    private long regionPosition;
    private long regionRemaining;
    private boolean closeWhenFlushed;
    private int closeCode = ErrorCode.OK;
    private String closeMessage = "closed after flush";
    private boolean closed;

    private long lastReceiveNanos;
    private long frameStartNanos;
    private long lastSendNanos;
    private volatile long bytesIn;
    private volatile long bytesOut;
    private volatile long fileBytesOut;

    private Connection(final EventLoop loop, final SocketChannel channel, final TransportSettings settings)
        throws IOException
    {
        this.loop = loop;
        this.channel = channel;
        this.settings = settings;
        this.validator = new FrameValidator(settings.maxFrameLength());
        this.staging = ByteBuffer.allocateDirect(settings.stagingCapacity());
        this.stagingView = new UnsafeBuffer(staging);
        this.sendBuffer = ByteBuffer.allocateDirect(settings.sendCapacity());
        this.sendView = new UnsafeBuffer(sendBuffer);
        this.readTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(settings.readTimeoutMs());
        this.heartbeatNanos = TimeUnit.MILLISECONDS.toNanos(settings.heartbeatMs());
        String p;
        SocketAddress a;
        try
        {
            a = channel.getRemoteAddress();
            p = a == null ? "?" : a.toString();
        }
        catch (final IOException ex)
        {
            a = null;
            p = "?";
        }
        this.peer = p;
        if (settings.tls() != null)
        {
            tls = new TlsChannel(settings.tls(), channel, a instanceof InetSocketAddress ? (InetSocketAddress)a : null, p);
        }
        lastReceiveNanos = lastSendNanos = System.nanoTime();
    }

    /**
     * Open a TCP connection with a blocking connect bounded by the connect timeout. Called off the loop thread.
     *
     * @throws IOException if the peer cannot be reached in time.
     */
    public static SocketChannel connect(final InetSocketAddress address, final TransportSettings settings) throws IOException
    {
        final SocketChannel ch = SocketChannel.open();
        try
        {
            ch.socket().connect(address, (int)Math.min(Integer.MAX_VALUE, settings.connectTimeoutMs()));
            return ch;
        }
        catch (final IOException ex)
        {
            ch.close();
            throw ex;
        }
    }

    /**
     * Make a connection of a connected socket and register it with the loop; with {@link TransportSettings#tls()}
     * set, the TLS handshake starts: a client's first flight goes out with the first {@link #flush} or loop tick,
     * whichever comes first. Loop thread only, or the thread that starts the loop before it runs.
     *
     * @throws IOException if the socket cannot be configured or the TLS engine cannot start.
     */
    public static Connection register(
        final EventLoop loop, final SocketChannel channel, final TransportSettings settings, final ConnectionHandler handler)
        throws IOException
    {
        channel.configureBlocking(false);
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        final Connection c = new Connection(loop, channel, settings);
        c.handler = handler;
        c.key = channel.register(loop.selector(), SelectionKey.OP_READ, c);
        loop.add(c);
        return c;
    }

    public EventLoop loop()
    {
        return loop;
    }

    public String peer()
    {
        return peer;
    }

    public void handler(final ConnectionHandler handler)
    {
        this.handler = handler;
    }

    /**
     * Frames of this type deliver their body through {@link ConnectionHandler#acquireBody}.
     */
    public void bulkType(final int type)
    {
        bulkType = type;
    }

    /**
     * On a malformed frame, send a frame of this type (error-shaped: code + message) before closing; -1 to just close.
     */
    public void errorType(final int type)
    {
        errorType = type;
    }

    public boolean isClosed()
    {
        return closed;
    }

    /**
     * @return true if this connection is protected by TLS (set in the settings at registration); false for a clear
     * text connection, including a TLS server's connection to a clear-text client that it is refusing.
     */
    public boolean isTls()
    {
        return tls != null;
    }

    /**
     * @return the negotiated protocol and cipher suite (e.g. {@code TLSv1.3 TLS_AES_128_GCM_SHA256}) once the TLS
     * handshake is done; null before it and for clear text.
     */
    public String tlsSession()
    {
        return tls == null || !tls.handshakeDone() ? null : tls.session();
    }

    public long bytesIn()
    {
        return bytesIn;
    }

    public long bytesOut()
    {
        return bytesOut;
    }

    /**
     * @return file-region bytes sent: with transferTo, or read and encrypted under TLS.
     */
    public long fileBytesOut()
    {
        return fileBytesOut;
    }

    /**
     * @return the send buffer, to encode a claimed body into.
     */
    public UnsafeBuffer sendBuffer()
    {
        return sendView;
    }

    /**
     * Reserve room for a frame and write its header.
     *
     * @return the offset in {@link #sendBuffer()} where the body goes, or -1 if there is no room now (or a region is
     * pending, or the connection is closing).
     */
    public int claim(final int type, final int bodyLength)
    {
        if (region != null || closed || closeWhenFlushed)
        {
            return -1;
        }
        return claimInBuffer(type, bodyLength);
    }

    /**
     * Write a header for a frame of {@code bodyLength} into the send buffer, compacting it if needed.
     *
     * @return the body offset, or -1 if the buffer has no room.
     */
    private int claimInBuffer(final int type, final int bodyLength)
    {
        final int need = FrameHeader.HEADER_LENGTH + bodyLength;
        if (sendBuffer.remaining() < need)
        {
            compactSend();
            if (sendBuffer.remaining() < need)
            {
                return -1;
            }
        }
        final int at = sendBuffer.position();
        FrameHeader.write(sendView, at, need, type);
        sendBuffer.position(at + need);
        return at + FrameHeader.HEADER_LENGTH;
    }

    /**
     * @return true if a frame with a body of {@code bodyLength} could be claimed now.
     */
    public boolean canClaim(final int bodyLength)
    {
        if (region != null || closed || closeWhenFlushed)
        {
            return false;
        }
        return sendBuffer.remaining() >= FrameHeader.HEADER_LENGTH + bodyLength ||
            sendBuffer.capacity() - (sendBuffer.position() - sendIndex) >= FrameHeader.HEADER_LENGTH + bodyLength;
    }

    /**
     * @return true if frames totalling {@code bytes} (headers included) can be claimed now, one after the other.
     */
    public boolean hasRoom(final int bytes)
    {
        if (region != null || closed || closeWhenFlushed)
        {
            return false;
        }
        if (sendBuffer.remaining() >= bytes)
        {
            return true;
        }
        if (sendBuffer.capacity() - (sendBuffer.position() - sendIndex) >= bytes)
        {
            compactSend();
            return true;
        }
        return false;
    }

    /**
     * Queue a frame whose body is copied from {@code body}.
     *
     * @return false if there is no room now.
     */
    public boolean send(final int type, final DirectBuffer body, final int offset, final int length)
    {
        final int at = claim(type, length);
        if (at < 0)
        {
            return false;
        }
        if (length > 0)
        {
            sendView.putBytes(at, body, offset, length);
        }
        return true;
    }

    /**
     * Queue a frame of {@code type} whose body is {@code count} bytes of {@code file} from {@code position}, sent
     * with zero copies after everything queued before it. The caller keeps the file open until
     * {@link ConnectionHandler#onWritable} (or the close).
     *
     * @return false if there is no room for the header now or a region is pending.
     */
    public boolean sendRegion(final int type, final FileChannel file, final long position, final long count)
    {
        if (count > Integer.MAX_VALUE - FrameHeader.HEADER_LENGTH)
        {
            throw new IllegalArgumentException("region of " + count + " bytes does not fit one frame");
        }
        final int at = claim(type, 0);
        if (at < 0)
        {
            return false;
        }
        FrameHeader.write(sendView, at - FrameHeader.HEADER_LENGTH, FrameHeader.HEADER_LENGTH + (int)count, type);
        region = file;
        regionPosition = position;
        regionRemaining = count;
        return true;
    }

    /**
     * @return true if nothing is waiting to be sent.
     */
    public boolean isDrained()
    {
        return region == null && sendIndex == sendBuffer.position() && (tls == null || !tls.hasPendingOutput());
    }

    /**
     * Queue a COM_RES_ERROR (or any error-shaped frame) and close once it is sent.
     */
    public void sendErrorAndClose(final int type, final int code, final String message)
    {
        if (closed)
        {
            return;
        }
        final int at = claimEvenIfRegion(type, ErrorCodec.MESSAGE_OFFSET + 2 + ErrorCodec.MAX_MESSAGE_BYTES);
        if (at >= 0)
        {
            final int len = ErrorCodec.encode(sendView, at, code, message);
            // shrink the claimed frame to the real length
            final int frameStart = at - FrameHeader.HEADER_LENGTH;
            FrameHeader.write(sendView, frameStart, FrameHeader.HEADER_LENGTH + len, type);
            sendBuffer.position(at + len);
        }
        closeWhenFlushed = true;
        closeCode = code;
        closeMessage = message;
        flush();
        if (isDrained())
        {
            close(code, message);
        }
    }

    private int claimEvenIfRegion(final int type, final int maxBody)
    {
        if (region != null)
        {
            // a region cannot be interrupted without corrupting the stream: drop it, the peer will see the error
            // only if the region had not started; otherwise just close
            if (regionRemaining > 0 || (tls != null && tls.regionPending()))
            {
                region = null;
                regionRemaining = 0;
                sendIndex = sendBuffer.position();
                if (tls != null)
                {
                    tls.dropRegion();
                }
                return -1;
            }
            region = null;
        }
        return claimInBuffer(type, maxBody);
    }

    private void compactSend()
    {
        if (sendIndex == 0)
        {
            return;
        }
        final int pending = sendBuffer.position() - sendIndex;
        if (pending > 0)
        {
            sendView.putBytes(0, sendView, sendIndex, pending);
        }
        sendBuffer.position(pending);
        sendIndex = 0;
    }

    /**
     * Write as much as the socket takes now.
     *
     * @return bytes written.
     */
    public long flush()
    {
        if (closed)
        {
            return 0;
        }
        long written = 0;
        try
        {
            written = tls != null ? flushTls() : flushPlain();
            if (closed)
            {
                return written;
            }
        }
        catch (final TlsChannel.Failure ex)
        {
            tlsFailed(ex);
            return written;
        }
        catch (final IOException ex)
        {
            close(ErrorCode.NETWORK, "send to " + peer + " failed: " + ex.getMessage());
            return written;
        }
        if (written > 0)
        {
            sent(written);
        }
        updateInterest();
        if (closeWhenFlushed && isDrained())
        {
            close(closeCode, closeMessage);
        }
        return written;
    }

    private void sent(final long n)
    {
        bytesOut += n;
        lastSendNanos = System.nanoTime();
    }

    /**
     * Send buffer, then the region with transferTo (sendfile).
     *
     * @return bytes written.
     */
    private long flushPlain() throws IOException
    {
        long written = 0;
        final int end = sendBuffer.position();
        if (sendIndex < end)
        {
            sendBuffer.limit(end).position(sendIndex);
            final int n = channel.write(sendBuffer);
            sendBuffer.limit(sendBuffer.capacity()).position(end);
            sendIndex += n;
            written += n;
            if (sendIndex == end)
            {
                sendIndex = 0;
                sendBuffer.position(0);
            }
        }
        if (region != null && sendIndex == sendBuffer.position())
        {
            while (regionRemaining > 0)
            {
                final long n = region.transferTo(regionPosition, Math.min(regionRemaining, settings.transferCap()), channel);
                if (n <= 0)
                {
                    if (regionPosition >= region.size())
                    {
                        close(ErrorCode.FILE_CHANGED, "a file being sent was truncated under the donor");
                        return written;
                    }
                    break;
                }
                regionPosition += n;
                regionRemaining -= n;
                written += n;
                fileBytesOut += n;
            }
            if (regionRemaining == 0)
            {
                region = null;
            }
        }
        return written;
    }

    /**
     * Under TLS: write pending ciphertext; advance the handshake; then encrypt the send buffer and the region (read
     * from the file in chunks) record by record, writing as the outgoing buffer fills, until the socket is full or
     * everything is out. Bounded by what is queued, as the clear-text path is.
     *
     * @return socket bytes written.
     */
    private long flushTls() throws IOException
    {
        while (true)
        {
            if (tls.hasPendingOutput())
            {
                tls.writePending();
                if (tls.hasPendingOutput())
                {
                    break;
                }
            }
            if (!tls.advanceHandshake())
            {
                if (tls.hasPendingOutput())
                {
                    continue;
                }
                break;
            }
            final int end = sendBuffer.position();
            if (sendIndex < end)
            {
                sendBuffer.limit(end).position(sendIndex);
                try
                {
                    tls.wrap(sendBuffer);
                }
                finally
                {
                    sendIndex = sendBuffer.position();
                    sendBuffer.limit(sendBuffer.capacity()).position(end);
                }
                if (sendIndex == end)
                {
                    sendIndex = 0;
                    sendBuffer.position(0);
                }
                continue;
            }
            if (region == null)
            {
                break;
            }
            if (!tls.regionPending())
            {
                if (regionRemaining == 0)
                {
                    region = null;
                    continue;
                }
                final int n = tls.fillRegion(region, regionPosition, regionRemaining);
                if (n <= 0)
                {
                    if (regionPosition >= region.size())
                    {
                        close(ErrorCode.FILE_CHANGED, "a file being sent was truncated under the donor");
                        return tls == null ? 0 : tls.takeBytesWritten();
                    }
                    break;
                }
                regionPosition += n;
                regionRemaining -= n;
            }
            fileBytesOut += tls.wrapRegion();
            if (regionRemaining == 0 && !tls.regionPending())
            {
                region = null;
            }
        }
        return tls.takeBytesWritten();
    }

    /**
     * A TLS failure: a clear-text client at this TLS server is answered in clear text (it could not read anything
     * else); anything else closes with the failure's code.
     */
    private void tlsFailed(final TlsChannel.Failure ex)
    {
        final long out = tls.takeBytesWritten();
        if (out > 0)
        {
            sent(out);
        }
        if (ex.clearTextPeer && errorType > 0)
        {
            tls = null;
            region = null;
            sendIndex = 0;
            sendBuffer.position(0);
            sendErrorAndClose(errorType, ex.code, ex.getMessage());
        }
        else
        {
            close(ex.code, ex.getMessage());
        }
    }

    private void updateInterest()
    {
        if (closed || !key.isValid())
        {
            return;
        }
        int ops = 0;
        // under TLS, claimed frames wait for the handshake: ask for OP_WRITE only when bytes can go out
        if (tls == null ? !isDrained() : tls.hasPendingOutput() || (tls.handshakeDone() && !isDrained()))
        {
            ops |= SelectionKey.OP_WRITE;
        }
        if (!readPaused && !waitingForBody && !closeWhenFlushed)
        {
            ops |= SelectionKey.OP_READ;
        }
        if (key.interestOps() != ops)
        {
            key.interestOps(ops);
        }
    }

    /**
     * Stop reading (the handler is behind); {@link #resumeReading} undoes it.
     */
    public void pauseReading()
    {
        readPaused = true;
        updateInterest();
    }

    /**
     * Resume reading after {@link #pauseReading} or after {@link ConnectionHandler#acquireBody} returned null;
     * frames already staged (and, under TLS, bytes already received and decrypted) are parsed at once, whether or not
     * the socket has anything new.
     */
    public void resumeReading()
    {
        if (closed || (!readPaused && !waitingForBody))
        {
            return;
        }
        readPaused = false;
        waitingForBody = false;
        lastReceiveNanos = System.nanoTime();
        parse();
        if (!closed)
        {
            read();
            updateInterest();
        }
    }

    int onReady(final SelectionKey k)
    {
        if (closed || !k.isValid())
        {
            return 0;
        }
        int work = 0;
        if (k.isWritable())
        {
            work += flush() > 0 ? 1 : 0;
            if (!closed && isDrained())
            {
                handler.onWritable(this);
            }
        }
        if (!closed && k.isValid() && k.isReadable())
        {
            work += read();
        }
        return work;
    }

    private int read()
    {
        int work = 0;
        try
        {
            // at most READS_PER_CYCLE socket reads; then, under TLS, what is already received and decrypted (bounded by
            // the TLS buffers): the socket may have nothing more to signal it
            for (int i = 0; !closed && !readPaused && !waitingForBody && !closeWhenFlushed; i++)
            {
                final boolean socket = i < READS_PER_CYCLE;
                if (!socket && (tls == null || !tls.hasBufferedInput()))
                {
                    break;
                }
                final int n;
                if (body != null && parsePosition == staging.position())
                {
                    n = readInto(body, socket);
                    if (n > 0)
                    {
                        bodyRemaining -= n;
                        if (bodyRemaining == 0)
                        {
                            deliverBody();
                            parse();
                        }
                    }
                }
                else
                {
                    if (staging.remaining() == 0)
                    {
                        compactStaging();
                        if (staging.remaining() == 0)
                        {
                            protocolError(ErrorCode.FRAME_TOO_LARGE, "a frame does not fit the receive buffer");
                            return work;
                        }
                    }
                    n = readInto(staging, socket);
                    if (n > 0)
                    {
                        parse();
                    }
                }
                if (n < 0)
                {
                    final boolean midFrame = body != null || parsePosition != staging.position();
                    close(ErrorCode.NETWORK, "peer " + peer + " closed the connection" + (midFrame ? " in the middle of a frame" : ""));
                    return work;
                }
                if (n == 0)
                {
                    break;
                }
                work++;
            }
        }
        catch (final TlsChannel.Failure ex)
        {
            tlsFailed(ex);
        }
        catch (final ClosedChannelException ex)
        {
            close(ErrorCode.NETWORK, "connection to " + peer + " closed");
        }
        catch (final IOException ex)
        {
            close(ErrorCode.NETWORK, "receive from " + peer + " failed: " + ex.getMessage());
        }
        if (!closed)
        {
            if (tls != null && !isDrained())
            {
                // the handshake may have just finished with frames waiting, or produced its next flight
                flush();
            }
            if (!closed)
            {
                updateInterest();
            }
        }
        return work;
    }

    /**
     * Like {@code SocketChannel.read}: clear text straight from the socket, or decrypted under TLS.
     *
     * @param socket false to take only bytes already received (TLS), never the socket.
     */
    private int readInto(final ByteBuffer dst, final boolean socket) throws IOException
    {
        if (tls == null)
        {
            if (!socket)
            {
                return 0;
            }
            final int n = channel.read(dst);
            if (n > 0)
            {
                received(n);
            }
            return n;
        }
        final int n = tls.read(dst, socket);
        final long in = tls.takeBytesRead();
        if (in > 0)
        {
            received(in);
        }
        final long out = tls.takeBytesWritten();
        if (out > 0)
        {
            sent(out);
        }
        return n;
    }

    private void received(final long n)
    {
        bytesIn += n;
        lastReceiveNanos = System.nanoTime();
    }

    private void parse()
    {
        while (!closed && !readPaused && !waitingForBody)
        {
            final int available = staging.position() - parsePosition;
            if (body != null)
            {
                if (available == 0)
                {
                    break;
                }
                final int n = Math.min(available, bodyRemaining);
                stagingView.getBytes(parsePosition, body, n);
                parsePosition += n;
                bodyRemaining -= n;
                if (bodyRemaining == 0)
                {
                    deliverBody();
                }
                continue;
            }
            if (firstFrame && tls == null && available >= TLS_RECORD_PROBE_LENGTH && looksLikeTlsHandshake(parsePosition))
            {
                protocolError(ErrorCode.CONFIG_MISMATCH, "a TLS handshake arrived from " + peer + ", but TLS is not " +
                    "configured on this side (give the donor --tls-cert and --tls-key, or clone without --tls-ca)");
                return;
            }
            if (available < FrameHeader.HEADER_LENGTH)
            {
                break;
            }
            final int headerResult = FrameHeader.validate(stagingView, parsePosition, settings.maxFrameLength());
            if (headerResult != ErrorCode.OK)
            {
                protocolError(headerResult, "bad frame header from " + peer + " (length " +
                    FrameHeader.frameLength(stagingView, parsePosition) + ", type " +
                    FrameHeader.type(stagingView, parsePosition) + ")");
                return;
            }
            final int length = FrameHeader.frameLength(stagingView, parsePosition);
            final int type = FrameHeader.type(stagingView, parsePosition);
            firstFrame = false;
            if (type == bulkType)
            {
                final int bodyLen = length - FrameHeader.HEADER_LENGTH;
                final ByteBuffer b = handler.acquireBody(this, bodyLen);
                if (closed)
                {
                    return;
                }
                if (b == null)
                {
                    waitingForBody = true;
                    updateInterest();
                    break;
                }
                if (b.remaining() < bodyLen)
                {
                    protocolError(ErrorCode.FRAME_TOO_LARGE, "data frame of " + bodyLen + " bytes exceeds the block buffer");
                    return;
                }
                parsePosition += FrameHeader.HEADER_LENGTH;
                b.limit(b.position() + bodyLen);
                body = b;
                bodyLength = bodyLen;
                bodyRemaining = bodyLen;
                if (bodyLen == 0)
                {
                    deliverBody();
                }
                continue;
            }
            if (length > staging.capacity())
            {
                protocolError(ErrorCode.FRAME_TOO_LARGE, FrameType.name(type) + " frame of " + length +
                    " bytes exceeds the receive buffer of " + staging.capacity());
                return;
            }
            if (available < length)
            {
                if (staging.capacity() - parsePosition < length)
                {
                    compactStaging();
                }
                break;
            }
            final int bodyOffset = parsePosition + FrameHeader.HEADER_LENGTH;
            final int bodyLen = length - FrameHeader.HEADER_LENGTH;
            final int bodyResult = validator.validateBody(type, stagingView, bodyOffset, bodyLen);
            if (bodyResult != ErrorCode.OK)
            {
                protocolError(bodyResult, "malformed " + FrameType.name(type) + " frame from " + peer);
                return;
            }
            parsePosition += length;
            if (type != FrameType.PING)
            {
                handler.onFrame(this, type, stagingView, bodyOffset, bodyLen);
            }
        }
        if (!closed && parsePosition == staging.position() && body == null)
        {
            parsePosition = 0;
            staging.clear();
            frameStartNanos = 0;
        }
        else if (!closed && frameStartNanos == 0)
        {
            frameStartNanos = System.nanoTime();
        }
    }

    /**
     * A TLS record header read as a frame header is a length of at least 66 326 bytes (0x16, 0x03, minor >= 1): no
     * first frame (HELLO, COM_RES_ERROR, PING) is that long, so this cannot mistake a Ferry peer.
     */
    private boolean looksLikeTlsHandshake(final int at)
    {
        final byte minor = stagingView.getByte(at + TLS_MINOR_VERSION_OFFSET);
        return stagingView.getByte(at + TLS_CONTENT_TYPE_OFFSET) == TLS_CONTENT_HANDSHAKE &&
            stagingView.getByte(at + TLS_MAJOR_VERSION_OFFSET) == TLS_MAJOR_VERSION &&
            minor >= TLS_MIN_MINOR_VERSION && minor <= TLS_MAX_MINOR_VERSION;
    }

    private void deliverBody()
    {
        frameStartNanos = 0;
        final ByteBuffer b = body;
        final int len = bodyLength;
        body = null;
        handler.onBody(this, b, len);
    }

    private void compactStaging()
    {
        final int pending = staging.position() - parsePosition;
        if (parsePosition > 0)
        {
            if (pending > 0)
            {
                stagingView.putBytes(0, stagingView, parsePosition, pending);
            }
            staging.position(pending);
            parsePosition = 0;
        }
    }

    private void protocolError(final int code, final String message)
    {
        if (errorType > 0)
        {
            sendErrorAndClose(errorType, code, message);
        }
        else
        {
            close(code, message);
        }
    }

    void tick(final long now)
    {
        if (closed)
        {
            return;
        }
        if (tls != null && !tls.handshakeDone() && !tls.hasPendingOutput())
        {
            flush(); // a client's first flight, or a handshake step nobody has flushed yet
            if (closed)
            {
                return;
            }
        }
        if (!readPaused && !waitingForBody && frameStartNanos != 0 && now - frameStartNanos > readTimeoutNanos)
        {
            // a peer that trickles a byte now and then never trips the idle timeout; a frame must complete in time
            close(ErrorCode.TIMEOUT, "a frame from " + peer + " was not completed within " +
                TimeUnit.NANOSECONDS.toMillis(readTimeoutNanos) + " ms");
            return;
        }
        if (!readPaused && !waitingForBody && now - lastReceiveNanos > readTimeoutNanos)
        {
            close(ErrorCode.TIMEOUT, "nothing received from " + peer + " for " +
                TimeUnit.NANOSECONDS.toMillis(now - lastReceiveNanos) + " ms");
            return;
        }
        if (now - lastSendNanos > heartbeatNanos && isDrained() && !closeWhenFlushed)
        {
            if (claim(FrameType.PING, 0) >= 0)
            {
                flush();
            }
        }
        if (!closed)
        {
            handler.onTick(this, now);
        }
    }

    /**
     * Close now; the handler hears {@link ConnectionHandler#onClose} once.
     */
    public void close(final int code, final String message)
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (key != null)
        {
            key.cancel();
        }
        if (tls != null)
        {
            tls.closeQuietly();
        }
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // already broken
        }
        loop.remove(this);
        handler.onClose(this, code, message);
    }

    /**
     * Close after everything queued is sent.
     */
    public void closeAfterFlush()
    {
        closeWhenFlushed = true;
        closeCode = ErrorCode.OK;
        closeMessage = "closed after flush";
        flush();
    }

    @Override
    public String toString()
    {
        return "Connection{" + peer + "}";
    }
}
