package dev.ferry.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

/**
 * One framed TCP connection, owned by one {@link EventLoop} thread: the facade its handler and the loop use, composed
 * of a {@link FrameReceiver} (staging buffer, in-place parsing, bulk bodies into handler buffers, back-pressure), a
 * {@link FrameSender} (send buffer, claim/commit, file regions), a {@link SocketIo} (clear text, or TLS when the
 * settings carry a {@link TlsConfig}) and a {@link LivenessTracker} (heartbeats and timeouts on the loop's clock).
 * <p>
 * It speaks of frames and bytes only: the handler decides what a frame means and validates its body. What the
 * transport finds wrong (a bad header, a timeout, a TLS mismatch) closes the connection with an
 * {@link ErrorCode}; when an error frame type is set ({@link #errorType}) the peer is told first. A TLS server that
 * receives clear text answers with a clear-text error frame and closes; a clear-text side that receives a TLS
 * ClientHello as its first bytes answers the same way. {@link ConnectionHandler#tlsHint} lets the handler add advice
 * to a TLS failure's message before it is sent or reported.
 * <p>
 * All methods are for the loop thread only (or the thread that registers the connection before its loop runs), except
 * the byte counters, readable from any thread.
 */
public final class Connection
{
    private final EventLoop loop;
    private final SocketChannel channel;
    private final NanoClock clock;
    private final String peer;
    private final FrameReceiver receiver;
    private final FrameSender sender;
    private final LivenessTracker liveness;
    private SocketIo io;
    private SelectionKey key;
    private ConnectionHandler handler;
    private int errorType = -1;

    private boolean closeWhenFlushed;
    private int closeCode = ErrorCode.OK;
    private String closeMessage = "closed after flush";
    private boolean closed;

    private volatile long bytesIn;
    private volatile long bytesOut;

    private Connection(final EventLoop loop, final SocketChannel channel, final TransportSettings settings)
        throws IOException
    {
        this.loop = loop;
        this.channel = channel;
        this.clock = loop.clock();
        SocketAddress remote;
        try
        {
            remote = channel.getRemoteAddress();
        }
        catch (final IOException ex)
        {
            remote = null;
        }
        this.peer = remote == null ? "?" : remote.toString();
        this.receiver = new FrameReceiver(this, settings.stagingCapacity(), settings.maxFrameLength(), peer);
        this.sender = new FrameSender(settings.sendCapacity(), settings.transferCap());
        this.io = settings.tls() == null ? new PlainSocketIo(channel, peer) :
            new TlsSocketIo(settings.tls(), channel, remote instanceof InetSocketAddress ? (InetSocketAddress)remote : null, peer);
        this.liveness = new LivenessTracker(TimeUnit.MILLISECONDS.toNanos(settings.readTimeoutMs()),
            TimeUnit.MILLISECONDS.toNanos(settings.heartbeatMs()), clock.nanoTime());
    }

    /**
     * Open a TCP connection with a blocking connect bounded by the connect timeout. Called off the loop thread.
     *
     * @param address in client mode under TLS, its host string (name or literal) is what the server's certificate
     *                must name.
     * @throws IOException if the peer cannot be reached in time.
     */
    public static SocketChannel connect(final InetSocketAddress address, final TransportSettings settings) throws IOException
    {
        final SocketChannel ch = SocketChannel.open();
        try
        {
            SocketBuffers.apply(ch, settings); // before connect: the window scale is negotiated for it
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

    /**
     * @return the remote address as text, for messages.
     */
    public String peer()
    {
        return peer;
    }

    public void handler(final ConnectionHandler handler)
    {
        this.handler = handler;
    }

    ConnectionHandler handler()
    {
        return handler;
    }

    /**
     * Share a rate limit: every byte this connection sends or receives takes tokens from {@code bucket} first (null:
     * no limit). When the bucket is empty the connection stops writing and reading (no selector interest, so the loop
     * does not spin) and tries again on its loop's next tick. Loop thread only.
     */
    public void throttle(final TokenBucket bucket)
    {
        sender.throttle(bucket);
        receiver.throttle(bucket);
    }

    /**
     * Finish a file region whose file was truncated while it was sent with zeros instead of failing (a live clone,
     * which copies such a file again); see {@link #paddedRegions()}. Loop thread only.
     */
    public void padShortRegions(final boolean v)
    {
        sender.padShortRegions(v);
    }

    /**
     * @return regions finished with zeros because their file ended early.
     */
    public long paddedRegions()
    {
        return sender.paddedRegions();
    }

    /**
     * Frames of this type deliver their body through {@link ConnectionHandler#acquireBody}.
     */
    public void bulkType(final int type)
    {
        receiver.bulkType(type);
    }

    /**
     * When the transport or the handler finds a protocol error ({@link #protocolError}), send a frame of this type
     * (error-shaped: code + message, {@link ErrorCodec}) before closing; -1 (the default) to just close.
     */
    public Connection errorType(final int type)
    {
        errorType = type;
        return this;
    }

    public boolean isClosed()
    {
        return closed;
    }

    /**
     * @return true if frames are still delivered: not closed, and no close after flush decided.
     */
    boolean acceptsFrames()
    {
        return !closed && !closeWhenFlushed;
    }

    /**
     * @return true if this connection is protected by TLS (set in the settings at registration); false for a clear
     * text connection, including a TLS server's connection to a clear-text client that it is refusing.
     */
    public boolean isTls()
    {
        return io.isTls();
    }

    /**
     * @return the negotiated protocol and cipher suite (e.g. {@code TLSv1.3 TLS_AES_128_GCM_SHA256}) once the TLS
     * handshake is done; null before it and for clear text.
     */
    public String tlsSession()
    {
        return io.session();
    }

    /**
     * @return bytes received from the socket (ciphertext under TLS). Any thread.
     */
    public long bytesIn()
    {
        return bytesIn;
    }

    /**
     * @return bytes written to the socket (ciphertext under TLS). Any thread.
     */
    public long bytesOut()
    {
        return bytesOut;
    }

    /**
     * @return file-region bytes sent: with transferTo, or read to be encrypted under TLS. Any thread.
     */
    public long fileBytesOut()
    {
        return sender.fileBytes();
    }

    /**
     * @return the send buffer, to encode a claimed body into.
     */
    public UnsafeBuffer sendBuffer()
    {
        return sender.buffer();
    }

    /**
     * Reserve room for a frame and write its header.
     *
     * @return the offset in {@link #sendBuffer()} where the body goes, or -1 if there is no room now (or a region is
     * pending, or the connection is closing).
     */
    public int claim(final int type, final int bodyLength)
    {
        return acceptsFrames() ? sender.claim(type, bodyLength) : FrameSender.NO_ROOM;
    }

    /**
     * Finish the frame claimed last with the {@code bodyLength} bytes actually written at {@code bodyOffset}, when
     * that is less than was claimed.
     *
     * @throws IllegalArgumentException if {@code bodyOffset} is not the last claim's or the body would grow.
     */
    public void commit(final int bodyOffset, final int bodyLength)
    {
        sender.commit(bodyOffset, bodyLength);
    }

    /**
     * @return true if frames totalling {@code bytes} (headers included) can be claimed now, one after the other.
     */
    public boolean hasRoom(final int bytes)
    {
        return acceptsFrames() && sender.hasRoom(bytes);
    }

    /**
     * Queue a frame whose body is copied from {@code body}.
     *
     * @return false if there is no room now.
     */
    public boolean send(final int type, final DirectBuffer body, final int offset, final int length)
    {
        return acceptsFrames() && sender.send(type, body, offset, length);
    }

    /**
     * Queue a frame of {@code type} whose body is {@code count} bytes of {@code file} from {@code position}, sent
     * with zero copies in clear text, after everything queued before it. The caller keeps the file open until
     * {@link ConnectionHandler#onWritable} (or the close).
     *
     * @return false if there is no room for the header now or a region is pending.
     */
    public boolean sendRegion(final int type, final FileChannel file, final long position, final long count)
    {
        return acceptsFrames() && sender.sendRegion(type, file, position, count);
    }

    /**
     * @return true if nothing is waiting to be sent.
     */
    public boolean isDrained()
    {
        return sender.isEmpty() && !io.hasPendingOutput();
    }

    /**
     * Queue an error-shaped frame ({@link ErrorCodec}: code + message) and close once it is sent. If a file region is
     * part way out the stream cannot carry another frame: what is unsent is dropped and the connection just closes.
     */
    public void sendErrorAndClose(final int type, final int code, final String message)
    {
        if (closed)
        {
            return;
        }
        final boolean regionCut = sender.hasRegion() | io.discardPendingRegion();
        if (regionCut)
        {
            sender.abandon();
        }
        else
        {
            final int at = sender.claim(type, ErrorCodec.MESSAGE_OFFSET + 2 + ErrorCodec.MAX_MESSAGE_BYTES);
            if (at != FrameSender.NO_ROOM)
            {
                sender.commit(at, ErrorCodec.encode(sender.buffer(), at, code, message));
            }
        }
        closeWhenFlushed = true;
        closeCode = code;
        closeMessage = message;
        flush();
        if (!closed && isDrained())
        {
            close(code, message);
        }
    }

    /**
     * A protocol error found by the transport or by the handler: with an error frame type set, tell the peer and
     * close once that is sent; otherwise close now.
     */
    public void protocolError(final int code, final String message)
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

    /**
     * Write as much as the socket takes now.
     *
     * @return socket bytes written.
     */
    public long flush()
    {
        if (closed)
        {
            return 0;
        }
        try
        {
            sender.flush(io);
        }
        catch (final ConnectionFailure ex)
        {
            failed(ex);
        }
        catch (final IOException ex)
        {
            close(ErrorCode.NETWORK, "send to " + peer + " failed: " + ex.getMessage());
        }
        final long written = account();
        if (closed)
        {
            return written;
        }
        updateInterest();
        if (closeWhenFlushed && isDrained())
        {
            close(closeCode, closeMessage);
        }
        return written;
    }

    /**
     * Take the wire bytes the socket seam moved into the counters and the liveness tracker.
     *
     * @return bytes written.
     */
    private long account()
    {
        final long in = io.takeWireBytesRead();
        final long out = io.takeWireBytesWritten();
        if (in > 0 || out > 0)
        {
            final long now = clock.nanoTime();
            if (in > 0)
            {
                bytesIn += in;
                liveness.onReceived(now);
            }
            if (out > 0)
            {
                bytesOut += out;
                liveness.onSent(now);
            }
        }
        return out;
    }

    /**
     * A failure of the socket seam or the sender: answer a clear-text peer in clear text when asked to and an error
     * frame type is set, else close with the failure's code.
     */
    private void failed(final ConnectionFailure ex)
    {
        account();
        String message = ex.getMessage();
        if (ex.tlsFailure != null)
        {
            message += handler.tlsHint(this, ex.tlsFailure);
        }
        if (ex.answerPeer && errorType > 0)
        {
            if (io.isTls())
            {
                io = PlainSocketIo.withoutProbe(channel, peer); // the peer could not read anything else
                sender.abandon();
            }
            sendErrorAndClose(errorType, ex.code, message);
        }
        else
        {
            close(ex.code, message);
        }
    }

    private void updateInterest()
    {
        if (closed || !key.isValid())
        {
            return;
        }
        int ops = 0;
        // claimed frames wait for a handshake: ask for OP_WRITE only when bytes can go out
        if (io.hasPendingOutput() || (io.readyForData() && !sender.isEmpty() && !sender.starved()))
        {
            ops |= SelectionKey.OP_WRITE;
        }
        if (receiver.isReading() && !receiver.starved() && !closeWhenFlushed)
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
        receiver.pause();
        updateInterest();
    }

    /**
     * Resume reading after {@link #pauseReading} or after {@link ConnectionHandler#acquireBody} returned null;
     * frames already staged (and, under TLS, bytes already received and decrypted) are parsed at once, whether or not
     * the socket has anything new.
     */
    public void resumeReading()
    {
        if (closed || !receiver.resume())
        {
            return;
        }
        liveness.onReadingResumed(clock.nanoTime());
        receiver.parse();
        if (!closed)
        {
            read();
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
            work = receiver.receive(io);
        }
        catch (final ConnectionFailure ex)
        {
            failed(ex);
        }
        catch (final ClosedChannelException ex)
        {
            close(ErrorCode.NETWORK, "connection to " + peer + " closed");
        }
        catch (final IOException ex)
        {
            close(ErrorCode.NETWORK, "receive from " + peer + " failed: " + ex.getMessage());
        }
        account();
        if (!closed)
        {
            liveness.onParsed(receiver.midFrame(), receiver.framesCompleted(), clock.nanoTime());
            if (!isDrained())
            {
                flush(); // a handshake may have just finished with frames waiting, or produced its next flight
            }
            if (!closed)
            {
                updateInterest();
            }
        }
        return work;
    }

    void tick(final long now)
    {
        if (closed)
        {
            return;
        }
        if (io.needsHandshakeStep())
        {
            flush(); // a client's first flight, or a handshake step nobody has flushed yet
            if (closed)
            {
                return;
            }
        }
        if (sender.starved())
        {
            flush(); // the rate limit may have tokens again
            if (closed)
            {
                return;
            }
            if (isDrained())
            {
                handler.onWritable(this);
                if (closed)
                {
                    return;
                }
            }
        }
        if (receiver.starved() && receiver.isReading())
        {
            read();
            if (closed)
            {
                return;
            }
        }
        switch (liveness.check(now, receiver.isReading(), isDrained() && !closeWhenFlushed))
        {
            case LivenessTracker.FRAME_TIMEOUT:
                close(ErrorCode.TIMEOUT, "a frame from " + peer + " was not completed within " +
                    TimeUnit.NANOSECONDS.toMillis(liveness.readTimeoutNanos()) + " ms");
                return;
            case LivenessTracker.IDLE_TIMEOUT:
                close(ErrorCode.TIMEOUT, "nothing received from " + peer + " for " +
                    TimeUnit.NANOSECONDS.toMillis(liveness.silentNanos(now)) + " ms");
                return;
            case LivenessTracker.SEND_HEARTBEAT:
                if (sender.claim(FrameType.PING, 0) != FrameSender.NO_ROOM)
                {
                    flush();
                }
                break;
            default:
                break;
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
        io.close();
        account();
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
