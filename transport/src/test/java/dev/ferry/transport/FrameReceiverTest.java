package dev.ferry.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.transport.TlsTestSupport.Recorder;

import static dev.ferry.transport.TlsTestSupport.hello;
import static dev.ferry.transport.TlsTestSupport.helloLength;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receive side of a clear-text {@link Connection}, fed by a raw socket that writes exactly the bytes a test
 * wants: frames split at any byte, what the transport checks (the header, an empty heartbeat, the receive buffer, the
 * handler's body buffer) and what it leaves to the handler (the body of a frame), and that nothing is delivered after
 * a protocol error. The connection has an error frame type, so every refusal is also read back from the wire.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FrameReceiverTest
{
    private static final int STAGING = 64 * 1024;

    @Test
    void framesSplitAtEveryByteArriveWholeAndInOrder() throws IOException
    {
        try (Peer peer = new Peer())
        {
            final byte[] stream = concat(frame(FrameType.HELLO, hello("one"), helloLength("one")),
                frame(FrameType.PING, null, 0), frame(FrameType.COM_RES_DATA, new UnsafeBuffer(new byte[3000]), 3000),
                frame(FrameType.HELLO, hello("two"), helloLength("two")));
            for (final byte b : stream)
            {
                peer.write(new byte[] { b });
                final long expected = peer.server.bytesIn() + 1;
                peer.drive(() -> peer.server.bytesIn() == expected);
            }
            assertEquals(List.of("frame:one", "body:3000", "frame:two"), peer.handler.events, "the PING is not delivered");
        }
    }

    @Test
    void aBodyTheHandlerCannotReadIsTheHandlersToRefuse() throws IOException
    {
        try (Peer peer = new Peer())
        {
            final UnsafeBuffer junk = new UnsafeBuffer(new byte[] { 1, 2, 3 });
            peer.write(frame(FrameType.COM_RES_ERROR, junk, 3));
            peer.drive(() -> !peer.handler.events.isEmpty() || peer.handler.closed());
            assertTrue(peer.handler.events.get(0).startsWith("error:"), "delivered, not judged: " + peer.handler.events);
        }
    }

    @Test
    void aBadHeaderIsRefusedOnTheWireAndNothingAfterItIsDelivered() throws IOException
    {
        assertRefused(concat(frame(FrameType.HELLO, hello("before"), helloLength("before")), header(3, FrameType.HELLO),
            frame(FrameType.HELLO, hello("after"), helloLength("after"))), ErrorCode.MALFORMED_FRAME, "bad frame header",
            List.of("frame:before"));
    }

    @Test
    void aFrameLongerThanTheCapIsRefused() throws IOException
    {
        assertRefused(header(FrameHeader.DEFAULT_MAX_FRAME_LENGTH + 1, FrameType.HELLO), ErrorCode.FRAME_TOO_LARGE,
            "bad frame header", List.of());
    }

    @Test
    void aControlFrameLongerThanTheReceiveBufferIsRefused() throws IOException
    {
        assertRefused(header(STAGING + 1, FrameType.HELLO), ErrorCode.FRAME_TOO_LARGE, "exceeds the receive buffer",
            List.of());
    }

    @Test
    void aHeartbeatWithABodyIsRefused() throws IOException
    {
        assertRefused(frame(FrameType.PING, new UnsafeBuffer(new byte[4]), 4), ErrorCode.MALFORMED_FRAME, "heartbeat",
            List.of());
    }

    @Test
    void aBulkBodyLargerThanTheHandlersBufferIsRefused() throws IOException
    {
        assertRefused(header(FrameHeader.HEADER_LENGTH + TlsTestSupport.BODY_CAPACITY + 1, FrameType.COM_RES_DATA),
            ErrorCode.FRAME_TOO_LARGE, "does not fit the buffer", List.of());
    }

    private static void assertRefused(final byte[] stream, final int code, final String says, final List<String> delivered)
        throws IOException
    {
        try (Peer peer = new Peer())
        {
            peer.write(stream);
            peer.drive(peer.handler::closed);
            assertEquals(code, peer.handler.closeCode, peer.handler.closeMessage);
            assertTrue(peer.handler.closeMessage.contains(says), peer.handler.closeMessage);
            assertEquals(delivered, peer.handler.events);
            final UnsafeBuffer answer = new UnsafeBuffer(peer.readToEnd());
            assertEquals(FrameType.COM_RES_ERROR, FrameHeader.type(answer, 0), "the peer is told");
            assertEquals(code, ErrorCodec.code(answer, FrameHeader.HEADER_LENGTH));
            assertEquals(peer.handler.closeMessage, ErrorCodec.message(answer, FrameHeader.HEADER_LENGTH));
        }
    }

    private static byte[] header(final int length, final int type)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[FrameHeader.HEADER_LENGTH]);
        FrameHeader.write(b, 0, length, type);
        return b.byteArray();
    }

    private static byte[] frame(final int type, final UnsafeBuffer body, final int length)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[FrameHeader.HEADER_LENGTH + length]);
        FrameHeader.write(b, 0, FrameHeader.HEADER_LENGTH + length, type);
        if (length > 0)
        {
            b.putBytes(FrameHeader.HEADER_LENGTH, body, 0, length);
        }
        return b.byteArray();
    }

    private static byte[] concat(final byte[]... parts)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final byte[] p : parts)
        {
            out.write(p, 0, p.length);
        }
        return out.toByteArray();
    }

    /**
     * A server connection on a loop the test drives, and a raw blocking socket as its peer.
     */
    private static final class Peer implements AutoCloseable
    {
        final EventLoop loop = new EventLoop("test-server", 1);
        final Recorder handler = new Recorder();
        final Acceptor acceptor;
        final SocketChannel raw;
        Connection server;

        Peer() throws IOException
        {
            final TransportSettings settings = new TransportSettings().stagingCapacity(STAGING).conclude();
            acceptor = Acceptor.open(loop, new InetSocketAddress("127.0.0.1", 0), ch ->
            {
                try
                {
                    server = Connection.register(loop, ch, settings, handler).errorType(FrameType.COM_RES_ERROR);
                    server.bulkType(FrameType.COM_RES_DATA);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            });
            loop.doWork();
            raw = SocketChannel.open(acceptor.localAddress());
            drive(() -> server != null);
        }

        void write(final byte[] bytes) throws IOException
        {
            final ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining())
            {
                raw.write(b);
            }
        }

        /**
         * @return everything the server sent until it closed (call after it did).
         */
        byte[] readToEnd() throws IOException
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteBuffer b = ByteBuffer.allocate(4096);
            while (raw.read(b) >= 0)
            {
                out.write(b.array(), 0, b.position());
                b.clear();
            }
            return out.toByteArray();
        }

        void drive(final BooleanSupplier until) throws IOException
        {
            final long deadline = System.nanoTime() + TlsTestSupport.DRIVE_LIMIT_NANOS;
            while (!until.getAsBoolean())
            {
                if (System.nanoTime() > deadline)
                {
                    throw new AssertionError("condition not reached in time");
                }
                loop.doWork();
            }
        }

        @Override
        public void close() throws IOException
        {
            raw.close();
            acceptor.close();
            loop.onClose();
        }
    }
}
