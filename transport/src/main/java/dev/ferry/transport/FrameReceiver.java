package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

/**
 * The receive side of a connection: bytes are read through the {@link SocketIo} into an off-heap staging buffer and
 * frames are parsed in place. Only the generic header is checked here (length cap, header sanity; a heartbeat has no
 * body): what a frame means, and whether its body is well formed, is for the handler.
 * <ul>
 * <li>A frame of another type than {@link #bulkType} goes to {@link ConnectionHandler#onFrame} as a view of the
 * staging buffer, valid during the call. It must fit the staging buffer.</li>
 * <li>For the bulk type, the body goes into a buffer the handler provides ({@link ConnectionHandler#acquireBody}):
 * whatever of it is already staged is copied, the rest is read straight into that buffer. When the handler has no
 * buffer, reading stops until {@link #resume}: TCP flow control slows the peer.</li>
 * </ul>
 * <pre>
 *  staging: [ parsed | parsePosition .. position: received, not parsed | free ]
 * </pre>
 * No allocation per frame. Loop thread only.
 */
final class FrameReceiver
{
    /** Socket reads per {@link #receive} call, at most; then only bytes the socket seam already holds. */
    static final int READS_PER_CYCLE = 16;

    private final Connection connection;
    private final ByteBuffer staging;
    private final UnsafeBuffer stagingView;
    private final int maxFrameLength;
    private final String peer;
    private int bulkType = -1;
    private int parsePosition;
    private ByteBuffer body;
    private int bodyLength;
    private int bodyRemaining;
    private boolean waitingForBody;
    private boolean paused;
    private TokenBucket throttle;
    private boolean starved;

    FrameReceiver(final Connection connection, final int stagingCapacity, final int maxFrameLength, final String peer)
    {
        this.connection = connection;
        this.staging = ByteBuffer.allocateDirect(stagingCapacity);
        this.stagingView = new UnsafeBuffer(staging);
        this.maxFrameLength = maxFrameLength;
        this.peer = peer;
    }

    void bulkType(final int type)
    {
        bulkType = type;
    }

    /**
     * @return true if neither paused nor waiting for a body buffer.
     */
    boolean isReading()
    {
        return !paused && !waitingForBody;
    }

    /**
     * @return true if a frame or a bulk body has started and is not complete.
     */
    boolean midFrame()
    {
        return body != null || parsePosition != staging.position();
    }

    /** Frames delivered so far (heartbeats and bulk bodies included): progress for the frame timer. Loop thread. */
    private long framesCompleted;

    long framesCompleted()
    {
        return framesCompleted;
    }

    /**
     * Take tokens from {@code bucket} before each socket read (null: no limit).
     */
    void throttle(final TokenBucket bucket)
    {
        throttle = bucket;
    }

    /**
     * @return true if the last {@link #receive} stopped because the rate limit had no tokens: wait for a tick.
     */
    boolean starved()
    {
        return starved;
    }

    void pause()
    {
        paused = true;
    }

    /**
     * Undo {@link #pause} and a wait for a body buffer.
     *
     * @return false if there was nothing to resume.
     */
    boolean resume()
    {
        if (isReading())
        {
            return false;
        }
        paused = false;
        waitingForBody = false;
        return true;
    }

    /**
     * Read and parse: at most {@link #READS_PER_CYCLE} socket reads, then what the seam already holds (decrypted TLS
     * bytes, bounded by its buffers), since the socket may have nothing more to signal.
     *
     * @return reads that produced bytes.
     * @throws ConnectionFailure {@link ErrorCode#NETWORK} at the end of the stream.
     */
    int receive(final SocketIo io) throws IOException
    {
        int work = 0;
        starved = false;
        for (int i = 0; connection.acceptsFrames() && isReading(); i++)
        {
            final boolean socket = i < READS_PER_CYCLE;
            if (!socket && !io.hasBufferedInput())
            {
                break;
            }
            final int n;
            if (body != null && parsePosition == staging.position())
            {
                n = throttledRead(io, body, socket);
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
                    compact();
                    if (staging.remaining() == 0)
                    {
                        connection.protocolError(ErrorCode.FRAME_TOO_LARGE, "a frame from " + peer +
                            " does not fit the receive buffer of " + staging.capacity() + " bytes");
                        return work;
                    }
                }
                n = throttledRead(io, staging, socket);
                if (n > 0)
                {
                    parse();
                }
            }
            if (n < 0)
            {
                throw new ConnectionFailure(ErrorCode.NETWORK, "peer " + peer + " closed the connection" +
                    (midFrame() ? " in the middle of a frame" : ""));
            }
            if (n == 0)
            {
                break;
            }
            work++;
        }
        return work;
    }

    /**
     * A read of at most the tokens the rate limit grants now; 0 (and {@link #starved}) when it grants none.
     */
    private int throttledRead(final SocketIo io, final ByteBuffer dst, final boolean socket) throws IOException
    {
        if (throttle == null)
        {
            return io.read(dst, socket);
        }
        final int want = dst.remaining();
        final int granted = (int)throttle.acquire(want);
        if (granted < want)
        {
            starved = true;
            if (granted == 0)
            {
                return 0;
            }
        }
        final int limit = dst.limit();
        dst.limit(dst.position() + granted);
        int n = 0;
        try
        {
            n = io.read(dst, socket);
        }
        finally
        {
            dst.limit(limit);
            if (n < granted)
            {
                throttle.refund(granted - Math.max(0, n));
            }
        }
        return n;
    }

    /**
     * Deliver every complete frame staged, until the handler pauses, has no body buffer, or the connection closes.
     */
    void parse()
    {
        while (connection.acceptsFrames() && isReading())
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
            if (available < FrameHeader.HEADER_LENGTH)
            {
                break;
            }
            final int headerResult = FrameHeader.validate(stagingView, parsePosition, maxFrameLength);
            if (headerResult != ErrorCode.OK)
            {
                connection.protocolError(headerResult, "bad frame header from " + peer + " (length " +
                    FrameHeader.frameLength(stagingView, parsePosition) + ", type " +
                    FrameHeader.type(stagingView, parsePosition) + ")");
                return;
            }
            final int length = FrameHeader.frameLength(stagingView, parsePosition);
            final int type = FrameHeader.type(stagingView, parsePosition);
            final int bodyLen = length - FrameHeader.HEADER_LENGTH;
            if (type == bulkType)
            {
                if (!startBody(bodyLen))
                {
                    return;
                }
                continue;
            }
            if (length > staging.capacity())
            {
                connection.protocolError(ErrorCode.FRAME_TOO_LARGE, FrameType.name(type) + " frame of " + length +
                    " bytes from " + peer + " exceeds the receive buffer of " + staging.capacity());
                return;
            }
            if (available < length)
            {
                if (staging.capacity() - parsePosition < length)
                {
                    compact();
                }
                break;
            }
            final int bodyOffset = parsePosition + FrameHeader.HEADER_LENGTH;
            parsePosition += length;
            framesCompleted++;
            if (type == FrameType.PING)
            {
                if (bodyLen != 0)
                {
                    connection.protocolError(ErrorCode.MALFORMED_FRAME, "a heartbeat frame with a body from " + peer);
                    return;
                }
                continue;
            }
            connection.handler().onFrame(connection, type, stagingView, bodyOffset, bodyLen);
        }
        if (connection.acceptsFrames() && !midFrame())
        {
            parsePosition = 0;
            staging.clear();
        }
    }

    /**
     * A bulk frame's header is parsed: ask the handler for a buffer.
     *
     * @return false to stop parsing (no buffer now, or the connection is closing).
     */
    private boolean startBody(final int bodyLen)
    {
        final ByteBuffer b = connection.handler().acquireBody(connection, bodyLen);
        if (!connection.acceptsFrames())
        {
            return false;
        }
        if (b == null)
        {
            waitingForBody = true;
            return false;
        }
        if (b.remaining() < bodyLen)
        {
            connection.protocolError(ErrorCode.FRAME_TOO_LARGE, "a bulk frame body of " + bodyLen + " bytes from " +
                peer + " does not fit the buffer of " + b.remaining() + " bytes its handler gave");
            return false;
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
        return true;
    }

    private void deliverBody()
    {
        final ByteBuffer b = body;
        final int len = bodyLength;
        body = null;
        framesCompleted++;
        connection.handler().onBody(connection, b, len);
    }

    private void compact()
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
}
