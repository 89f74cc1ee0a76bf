package dev.ferry.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.agrona.concurrent.CachedNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.transport.TlsTestSupport.Pair;
import dev.ferry.transport.TlsTestSupport.Recorder;

import static dev.ferry.transport.TlsTestSupport.hello;
import static dev.ferry.transport.TlsTestSupport.helloLength;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Heartbeats and timeouts of real connections on loopback, with both loops on a {@link CachedNanoClock} that only the
 * test moves: {@code doWork} is called until the kernel has delivered what was sent, and time passes only when the
 * test says so. No sleeps; the only real-time bound is the safety deadline of {@link Pair#drive}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConnectionLivenessTest
{
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long READ_TIMEOUT_MS = 1_000;
    private static final long HEARTBEAT_MS = 100;

    private final CachedNanoClock clock = new CachedNanoClock();

    private static TransportSettings settings()
    {
        return new TransportSettings().readTimeoutMs(READ_TIMEOUT_MS).heartbeatMs(HEARTBEAT_MS).conclude();
    }

    private Pair pair(final Recorder serverSide, final Recorder clientSide)
    {
        clock.update(42 * MS);
        final Pair pair = new Pair(settings(), settings(), serverSide, clientSide, null, clock);
        pair.drive(() -> pair.server != null);
        return pair;
    }

    @Test
    void aPingGoesOutAfterTheHeartbeatIntervalAndIsNotDelivered()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = pair(serverSide, clientSide))
        {
            clock.advance(HEARTBEAT_MS * MS);
            steps(pair, 20);
            assertEquals(0, pair.server.bytesOut(), "not before the interval has passed");
            assertEquals(0, pair.client.bytesOut());

            clock.advance(1);
            pair.step();
            assertEquals(FrameHeader.HEADER_LENGTH, pair.server.bytesOut(), "one empty PING");
            assertEquals(FrameHeader.HEADER_LENGTH, pair.client.bytesOut());
            pair.drive(() -> pair.client.bytesIn() == FrameHeader.HEADER_LENGTH &&
                pair.server.bytesIn() == FrameHeader.HEADER_LENGTH);
            steps(pair, 20);
            assertEquals(FrameHeader.HEADER_LENGTH, pair.server.bytesOut(), "one per interval");

            assertTrue(pair.server.send(FrameType.HELLO, hello("busy"), 0, helloLength("busy")));
            pair.server.flush();
            final long afterHello = pair.server.bytesOut();
            clock.advance(HEARTBEAT_MS * MS);
            steps(pair, 20);
            assertEquals(afterHello, pair.server.bytesOut(), "a frame sent restarts the interval");
            clock.advance(1);
            pair.step();
            assertEquals(afterHello + FrameHeader.HEADER_LENGTH, pair.server.bytesOut());

            pair.drive(() -> clientSide.events.size() == 1);
            steps(pair, 20);
            assertEquals(List.of("frame:busy"), clientSide.events, "PINGs are the transport's own");
            assertFalse(serverSide.closed() || clientSide.closed());
        }
    }

    @Test
    void silenceLongerThanTheReadTimeoutClosesWithTimeout()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = pair(serverSide, clientSide))
        {
            // only the server runs: the client sends nothing, not even heartbeats
            clock.advance(READ_TIMEOUT_MS * MS);
            serverSteps(pair, 20);
            assertFalse(serverSide.closed(), "exactly the read timeout is not past it");
            clock.advance(1);
            pair.serverLoop.doWork();
            assertEquals(ErrorCode.TIMEOUT, serverSide.closeCode, serverSide.closeMessage);
            assertTrue(serverSide.closeMessage.contains("nothing received") &&
                serverSide.closeMessage.contains(READ_TIMEOUT_MS + " ms"), serverSide.closeMessage);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    @Test
    void heartbeatsKeepAnIdleConnectionAliveForAnyTime()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = pair(serverSide, clientSide))
        {
            for (int i = 0; i < 100; i++) // 10 s of idle, in heartbeat steps
            {
                clock.advance(HEARTBEAT_MS * MS + 1);
                final long in = pair.client.bytesIn();
                pair.drive(() -> pair.client.bytesIn() > in);
            }
            assertFalse(serverSide.closed(), serverSide.closeMessage);
            assertFalse(clientSide.closed(), clientSide.closeMessage);
        }
    }

    @Test
    void noTimeoutWhilePausedForBackPressure() throws IOException
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = pair(serverSide, clientSide))
        {
            pair.server.pauseReading();
            clock.advance(10 * READ_TIMEOUT_MS * MS);
            serverSteps(pair, 20);
            assertFalse(serverSide.closed(), "paused: the silence is ours: " + serverSide.closeMessage);

            pair.server.resumeReading();
            serverSteps(pair, 20);
            assertFalse(serverSide.closed(), "resumed: the timer starts again: " + serverSide.closeMessage);
            clock.advance(READ_TIMEOUT_MS * MS + 1);
            pair.serverLoop.doWork();
            assertEquals(ErrorCode.TIMEOUT, serverSide.closeCode, serverSide.closeMessage);
        }
    }

    @Test
    void noTimeoutWhileTheHandlerHasNoBufferForABody() throws IOException
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        serverSide.grantBodies = 0;
        try (Pair pair = pair(serverSide, clientSide))
        {
            final UnsafeBuffer body = new UnsafeBuffer(new byte[1000]);
            assertTrue(pair.client.send(FrameType.COM_RES_DATA, body, 0, body.capacity()));
            pair.client.flush();
            pair.drive(() -> serverSide.refused > 0);
            clock.advance(10 * READ_TIMEOUT_MS * MS);
            serverSteps(pair, 20);
            assertFalse(serverSide.closed(), "waiting for a buffer: " + serverSide.closeMessage);

            serverSide.grantBodies = Integer.MAX_VALUE;
            pair.server.resumeReading();
            assertEquals(List.of("body:1000"), serverSide.events);
            serverSteps(pair, 20);
            assertFalse(serverSide.closed(), serverSide.closeMessage);
        }
    }

    @Test
    void aFrameThatTricklesInMustStillCompleteWithinTheReadTimeout() throws IOException
    {
        final EventLoop loop = new EventLoop("test-server", 1, clock);
        final Recorder serverSide = new Recorder();
        final Connection[] server = new Connection[1];
        final TransportSettings s = settings();
        try (Acceptor acceptor = Acceptor.open(loop, new InetSocketAddress("127.0.0.1", 0), ch ->
        {
            try
            {
                server[0] = Connection.register(loop, ch, s, serverSide);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        });
            SocketChannel peer = SocketChannel.open())
        {
            loop.doWork();
            peer.connect(acceptor.localAddress());
            drive(loop, () -> server[0] != null);
            final int length = FrameHeader.HEADER_LENGTH + helloLength("slow");
            final UnsafeBuffer frame = new UnsafeBuffer(new byte[length]);
            FrameHeader.write(frame, 0, length, FrameType.HELLO);
            frame.putBytes(FrameHeader.HEADER_LENGTH, hello("slow"), 0, length - FrameHeader.HEADER_LENGTH);

            peer.write(ByteBuffer.wrap(frame.byteArray(), 0, FrameHeader.HEADER_LENGTH));
            drive(loop, () -> server[0].bytesIn() == FrameHeader.HEADER_LENGTH);
            int sent = FrameHeader.HEADER_LENGTH;
            // a byte every 150 ms: never silent for long, yet the frame is not done when the read timeout has passed
            for (int step = 1; step <= 6; step++)
            {
                clock.advance(150 * MS);
                peer.write(ByteBuffer.wrap(frame.byteArray(), sent++, 1));
                final int expected = sent;
                drive(loop, () -> server[0].bytesIn() == expected);
                assertFalse(serverSide.closed(), "after " + step * 150 + " ms: " + serverSide.closeMessage);
            }
            clock.advance(150 * MS);
            peer.write(ByteBuffer.wrap(frame.byteArray(), sent, 1));
            drive(loop, serverSide::closed);
            assertEquals(ErrorCode.TIMEOUT, serverSide.closeCode, serverSide.closeMessage);
            assertTrue(serverSide.closeMessage.contains("not completed within " + READ_TIMEOUT_MS + " ms"),
                serverSide.closeMessage);
            assertTrue(serverSide.events.isEmpty());
        }
        finally
        {
            loop.onClose();
        }
    }

    private static void steps(final Pair pair, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            pair.step();
        }
    }

    private static void serverSteps(final Pair pair, final int n) throws IOException
    {
        for (int i = 0; i < n; i++)
        {
            pair.serverLoop.doWork();
        }
    }

    private static void drive(final EventLoop loop, final BooleanSupplier until) throws IOException
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
}
