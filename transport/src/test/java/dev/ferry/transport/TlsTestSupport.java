package dev.ferry.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;

/**
 * Two {@link EventLoop}s on loopback driven by the test thread, a handler that records what arrives, and a sender
 * that plays a donor's send pattern; shared by the TLS transport tests. Not thread-safe: one test thread.
 */
final class TlsTestSupport
{
    static final long DRIVE_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(20);
    static final int BODY_CAPACITY = 1024 * 1024;

    private TlsTestSupport()
    {
    }

    static UnsafeBuffer hello(final String version)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[256]);
        HelloCodec.encode(b, 0, 1, 1, HelloCodec.ROLE_DONOR, 0, version);
        return b;
    }

    static int helloLength(final String version)
    {
        return HelloCodec.VERSION_OFFSET + 2 + version.getBytes(StandardCharsets.UTF_8).length;
    }

    /**
     * Sends a script of frames, buffer bodies and file regions as the socket drains, as a donor session does.
     */
    static final class Sender
    {
        private final ArrayDeque<Object[]> items = new ArrayDeque<>();
        Connection connection;

        void hello(final String version)
        {
            items.add(new Object[] { "hello", version });
        }

        void region(final FileChannel fc, final long position, final int count)
        {
            items.add(new Object[] { "region", fc, position, count });
        }

        void buffer(final DirectBuffer b, final int length)
        {
            buffer(b, 0, length);
        }

        void buffer(final DirectBuffer b, final int offset, final int length)
        {
            items.add(new Object[] { "buffer", b, length, offset });
        }

        void pump(final Connection c)
        {
            if (connection == null)
            {
                return;
            }
            while (!items.isEmpty())
            {
                if (!c.isDrained())
                {
                    c.flush();
                    if (!c.isDrained())
                    {
                        return;
                    }
                }
                final Object[] item = items.peek();
                final boolean queued;
                switch ((String)item[0])
                {
                    case "hello":
                        queued = c.send(FrameType.HELLO, TlsTestSupport.hello((String)item[1]), 0,
                            helloLength((String)item[1]));
                        break;
                    case "region":
                        queued = c.sendRegion(FrameType.COM_RES_DATA, (FileChannel)item[1], (Long)item[2], (Integer)item[3]);
                        break;
                    default:
                        queued = c.send(FrameType.COM_RES_DATA, (DirectBuffer)item[1], (Integer)item[3], (Integer)item[2]);
                        break;
                }
                if (!queued)
                {
                    return;
                }
                items.poll();
                c.flush();
            }
        }
    }

    /**
     * Records what a connection delivers; hands out one reusable body buffer while it has grants.
     */
    static final class Recorder implements ConnectionHandler
    {
        final List<String> events = new ArrayList<>();
        final ByteArrayOutputStream bodies = new ByteArrayOutputStream();
        final ByteBuffer bodyBuffer = ByteBuffer.allocateDirect(BODY_CAPACITY);
        final byte[] copy = new byte[BODY_CAPACITY];
        java.util.function.Consumer<Connection> pump = c -> { };
        int grantBodies = Integer.MAX_VALUE;
        int bodyCount;
        int refused;
        final List<TlsFailure> tlsFailures = new ArrayList<>();
        int closeCode = -1;
        String closeMessage = "";
        String errorMessage = "";

        boolean closed()
        {
            return closeCode >= 0;
        }

        @Override
        public void onFrame(final Connection connection, final int type, final DirectBuffer body, final int offset, final int length)
        {
            if (type == FrameType.COM_RES_ERROR)
            {
                events.add("error:" + ErrorCodec.code(body, offset));
                errorMessage = ErrorCodec.message(body, offset);
                return;
            }
            events.add("frame:" + HelloCodec.softwareVersion(body, offset));
        }

        @Override
        public ByteBuffer acquireBody(final Connection connection, final int length)
        {
            if (bodyCount >= grantBodies)
            {
                refused++;
                return null;
            }
            bodyBuffer.clear();
            return bodyBuffer;
        }

        @Override
        public void onBody(final Connection connection, final ByteBuffer body, final int length)
        {
            body.flip();
            body.get(copy, 0, length);
            bodies.write(copy, 0, length);
            events.add("body:" + length);
            bodyCount++;
        }

        @Override
        public void onWritable(final Connection connection)
        {
            pump.accept(connection);
        }

        @Override
        public void onTick(final Connection connection, final long nowNanos)
        {
            pump.accept(connection);
        }

        @Override
        public void onClose(final Connection connection, final int errorCode, final String message)
        {
            closeCode = errorCode;
            closeMessage = message;
        }

        /**
         * Records the failure and appends {@code [hint FAILURE]}, so a test sees where the owner's words go.
         */
        @Override
        public String tlsHint(final Connection connection, final TlsFailure failure)
        {
            tlsFailures.add(failure);
            return " [hint " + failure + "]";
        }
    }

    /**
     * A server loop with an acceptor and a client loop with one connection to it, both driven by the test thread.
     */
    static final class Pair implements AutoCloseable
    {
        final EventLoop serverLoop;
        final EventLoop clientLoop;
        final Acceptor acceptor;
        final Connection client;
        Connection server;

        Pair(final TransportSettings s, final TransportSettings c, final Recorder serverSide, final Recorder clientSide)
        {
            this(s, c, serverSide, clientSide, null, SystemNanoClock.INSTANCE);
        }

        /**
         * @param clientHost the host name the client connects to (it resolves to 127.0.0.1 without a lookup), or null
         *                   for the literal 127.0.0.1.
         * @param clock      both loops' clock.
         */
        Pair(final TransportSettings s, final TransportSettings c, final Recorder serverSide, final Recorder clientSide,
            final String clientHost, final NanoClock clock)
        {
            serverLoop = new EventLoop("test-server", 1, clock);
            clientLoop = new EventLoop("test-client", 1, clock);
            try
            {
                acceptor = Acceptor.open(serverLoop, new InetSocketAddress("127.0.0.1", 0), ch ->
                {
                    try
                    {
                        server = Connection.register(serverLoop, ch, s, serverSide);
                        server.errorType(FrameType.COM_RES_ERROR);
                        server.bulkType(FrameType.COM_RES_DATA);
                    }
                    catch (final IOException ex)
                    {
                        throw new UncheckedIOException(ex);
                    }
                });
                serverLoop.doWork();
                final InetSocketAddress bound = acceptor.localAddress();
                final SocketChannel ch = Connection.connect(clientHost == null ? bound : new InetSocketAddress(
                    InetAddress.getByAddress(clientHost, bound.getAddress().getAddress()), bound.getPort()), c);
                client = Connection.register(clientLoop, ch, c, clientSide);
                client.bulkType(FrameType.COM_RES_DATA);
            }
            catch (final IOException ex)
            {
                close();
                throw new UncheckedIOException(ex);
            }
        }

        void step()
        {
            try
            {
                serverLoop.doWork();
                clientLoop.doWork();
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }

        void drive(final BooleanSupplier until)
        {
            final long deadline = System.nanoTime() + DRIVE_LIMIT_NANOS;
            while (!until.getAsBoolean())
            {
                if (System.nanoTime() > deadline)
                {
                    throw new AssertionError("condition not reached in time");
                }
                step();
            }
        }

        void driveServerOnly(final BooleanSupplier until)
        {
            final long deadline = System.nanoTime() + DRIVE_LIMIT_NANOS;
            while (!until.getAsBoolean())
            {
                if (System.nanoTime() > deadline)
                {
                    throw new AssertionError("condition not reached in time");
                }
                try
                {
                    serverLoop.doWork();
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            }
        }

        @Override
        public void close()
        {
            if (acceptor != null)
            {
                acceptor.close();
            }
            serverLoop.onClose();
            clientLoop.onClose();
        }
    }
}
