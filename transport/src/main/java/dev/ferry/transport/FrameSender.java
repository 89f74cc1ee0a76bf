package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;

/**
 * The send side of a connection: frames are claimed in an off-heap send buffer ({@link #claim}, then written at the
 * returned offset and, if shorter than claimed, {@link #commit}ted), and a file region ({@link #sendRegion}) follows
 * its header and goes to the socket through {@link SocketIo#transferFrom} ({@code FileChannel.transferTo} in clear
 * text) in calls of at most {@code transferCap} bytes, looping over partial sends. While a region is pending nothing
 * else can be queued.
 * <pre>
 *  send buffer:  [ sent | sendIndex .. position: queued | position .. capacity: free ]
 *  region:       file [regionPosition, regionPosition + regionRemaining) after everything queued before it
 * </pre>
 * No allocation per frame. Loop thread only, except {@link #fileBytes}, readable from any thread.
 */
final class FrameSender
{
    /** {@link #claim} when there is no room now. */
    static final int NO_ROOM = -1;

    private final ByteBuffer buffer;
    private final UnsafeBuffer view;
    private final long transferCap;
    private int sendIndex;
    private int lastFrameOffset = -1;
    private FileChannel region;
    /** Zeros still owed for a region whose file ended early (when {@link #padShortRegions} is on). */
    private long padRemaining;
    private boolean padShortRegions;
    private long paddedRegions;
    private static final java.nio.ByteBuffer ZEROS = java.nio.ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();
    private long regionPosition;
    private long regionRemaining;
    private volatile long fileBytes;
    private TokenBucket throttle;
    private boolean starved;

    FrameSender(final int capacity, final long transferCap)
    {
        this.buffer = ByteBuffer.allocateDirect(capacity);
        this.view = new UnsafeBuffer(buffer);
        this.transferCap = transferCap;
    }

    UnsafeBuffer buffer()
    {
        return view;
    }

    /**
     * @return file-region bytes handed to the socket seam so far.
     */
    long fileBytes()
    {
        return fileBytes;
    }

    /**
     * @return true if nothing is queued: no frame bytes and no region.
     */
    boolean isEmpty()
    {
        return region == null && padRemaining == 0 && sendIndex == buffer.position();
    }

    /**
     * Take tokens from {@code bucket} before any byte goes to the socket seam (null: no limit).
     */
    void throttle(final TokenBucket bucket)
    {
        throttle = bucket;
    }

    /**
     * @return true if the last {@link #flush} stopped because the rate limit had no tokens: wait for a tick.
     */
    boolean starved()
    {
        return starved;
    }

    boolean hasRegion()
    {
        return region != null || padRemaining > 0;
    }

    /**
     * A region whose file ends before the region does (the file was truncated while it was sent) is finished with
     * zeros, so the frame stays whole and the stream stays in step; off (the default), that fails the connection
     * with FILE_CHANGED. The caller learns of it from {@link #paddedRegions}.
     */
    void padShortRegions(final boolean v)
    {
        padShortRegions = v;
    }

    long paddedRegions()
    {
        return paddedRegions;
    }

    /**
     * Reserve room for a frame of {@code bodyLength} and write its header.
     *
     * @return the offset in {@link #buffer()} where the body goes, or {@link #NO_ROOM} if the buffer has no room now or
     * a region is pending.
     */
    int claim(final int type, final int bodyLength)
    {
        if (region != null || padRemaining > 0 || bodyLength < 0)
        {
            return NO_ROOM;
        }
        final int need = FrameHeader.HEADER_LENGTH + bodyLength;
        if (need < 0 || buffer.remaining() < need)
        {
            compact();
            if (need < 0 || buffer.remaining() < need)
            {
                return NO_ROOM;
            }
        }
        final int at = buffer.position();
        FrameHeader.write(view, at, need, type);
        buffer.position(at + need);
        lastFrameOffset = at;
        return at + FrameHeader.HEADER_LENGTH;
    }

    /**
     * Shrink the frame claimed last to the {@code bodyLength} bytes actually written at {@code bodyOffset}.
     *
     * @throws IllegalArgumentException if {@code bodyOffset} is not the last claim's, or the body would grow.
     */
    void commit(final int bodyOffset, final int bodyLength)
    {
        final int frame = bodyOffset - FrameHeader.HEADER_LENGTH;
        if (frame != lastFrameOffset || bodyLength < 0 || bodyOffset + bodyLength > buffer.position())
        {
            throw new IllegalArgumentException("commit(" + bodyOffset + ", " + bodyLength + ") does not shrink the " +
                "frame claimed last");
        }
        FrameHeader.write(view, frame, FrameHeader.HEADER_LENGTH + bodyLength, FrameHeader.type(view, frame));
        buffer.position(bodyOffset + bodyLength);
    }

    /**
     * @return true if frames totalling {@code bytes} (headers included) can be claimed now, one after the other.
     */
    boolean hasRoom(final int bytes)
    {
        if (region != null)
        {
            return false;
        }
        if (buffer.remaining() >= bytes)
        {
            return true;
        }
        if (buffer.capacity() - (buffer.position() - sendIndex) >= bytes)
        {
            compact();
            return true;
        }
        return false;
    }

    /**
     * Queue a frame whose body is copied from {@code body}.
     *
     * @return false if there is no room now.
     */
    boolean send(final int type, final DirectBuffer body, final int offset, final int length)
    {
        final int at = claim(type, length);
        if (at == NO_ROOM)
        {
            return false;
        }
        if (length > 0)
        {
            view.putBytes(at, body, offset, length);
        }
        return true;
    }

    /**
     * Queue a frame whose body is {@code count} bytes of {@code file} from {@code position}.
     *
     * @return false if there is no room for the header now or a region is pending.
     */
    boolean sendRegion(final int type, final FileChannel file, final long position, final long count)
    {
        if (count < 0 || count > Integer.MAX_VALUE - FrameHeader.HEADER_LENGTH)
        {
            throw new IllegalArgumentException("a region of " + count + " bytes does not fit one frame");
        }
        final int at = claim(type, 0);
        if (at == NO_ROOM)
        {
            return false;
        }
        FrameHeader.write(view, at - FrameHeader.HEADER_LENGTH, FrameHeader.HEADER_LENGTH + (int)count, type);
        lastFrameOffset = -1;
        if (count > 0)
        {
            region = file;
            regionPosition = position;
            regionRemaining = count;
        }
        return true;
    }

    /**
     * Forget everything not yet handed to the socket seam, region included: the stream is broken and will be closed.
     */
    void abandon()
    {
        region = null;
        regionRemaining = 0;
        sendIndex = 0;
        buffer.clear();
        lastFrameOffset = -1;
    }

    /**
     * Send what is queued as far as the socket takes it: the buffer, then the region.
     *
     * @throws ConnectionFailure {@link ErrorCode#FILE_CHANGED} if the region's file ends before the region does.
     */
    void flush(final SocketIo io) throws IOException
    {
        starved = false;
        if (!io.flushPending())
        {
            return;
        }
        final int end = buffer.position();
        if (sendIndex < end)
        {
            final int allowed = (int)grant(end - sendIndex);
            if (allowed == 0)
            {
                return;
            }
            final int from = sendIndex;
            buffer.limit(from + allowed).position(from);
            try
            {
                io.write(buffer);
            }
            finally
            {
                sendIndex = buffer.position();
                buffer.limit(buffer.capacity()).position(end);
                unused(allowed, sendIndex - from);
            }
            if (sendIndex < end)
            {
                return;
            }
            sendIndex = 0;
            buffer.position(0);
            lastFrameOffset = -1;
        }
        if (region != null)
        {
            flushRegion(io);
        }
        if (padRemaining > 0)
        {
            flushPad(io);
        }
    }

    private void flushPad(final SocketIo io) throws IOException
    {
        while (padRemaining > 0)
        {
            final long allowed = grant(Math.min(padRemaining, ZEROS.capacity()));
            if (allowed == 0)
            {
                break;
            }
            final java.nio.ByteBuffer z = ZEROS.duplicate();
            z.limit((int)allowed);
            final int n = io.write(z);
            unused(allowed, Math.max(0, n));
            if (n <= 0)
            {
                break;
            }
            padRemaining -= n;
        }
    }

    private void flushRegion(final SocketIo io) throws IOException
    {
        while (regionRemaining > 0)
        {
            final long allowed = grant(Math.min(regionRemaining, transferCap));
            if (allowed == 0)
            {
                break;
            }
            final long n = io.transferFrom(region, regionPosition, allowed);
            unused(allowed, Math.max(0, n));
            if (n == SocketIo.END_OF_STREAM && padShortRegions)
            {
                padRemaining = regionRemaining;
                regionRemaining = 0;
                paddedRegions++;
                break;
            }
            if (n == SocketIo.END_OF_STREAM)
            {
                final long end = regionPosition + regionRemaining;
                region = null;
                throw new ConnectionFailure(ErrorCode.FILE_CHANGED, "a file region being sent ends at " +
                    regionPosition + ", before " + end + ": the file was truncated while it was sent");
            }
            if (n == 0)
            {
                break;
            }
            regionPosition += n;
            regionRemaining -= n;
            fileBytes += n;
        }
        if (regionRemaining == 0)
        {
            region = null;
        }
    }

    /**
     * @return how many of {@code want} bytes the rate limit lets out now; when fewer, the sender is starved until a
     * later flush.
     */
    private long grant(final long want)
    {
        if (throttle == null)
        {
            return want;
        }
        final long granted = throttle.acquire(want);
        if (granted < want)
        {
            starved = true;
        }
        return granted;
    }

    private void unused(final long granted, final long used)
    {
        if (throttle != null && used < granted)
        {
            throttle.refund(granted - used);
        }
    }

    private void compact()
    {
        if (sendIndex == 0)
        {
            return;
        }
        final int pending = buffer.position() - sendIndex;
        if (pending > 0)
        {
            view.putBytes(0, view, sendIndex, pending);
        }
        buffer.position(pending);
        sendIndex = 0;
        lastFrameOffset = -1; // a body offset handed out before this move is stale: commit refuses it
    }
}
