package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.Socket;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.transport.EventLoop;
import dev.ferry.transport.TransportSettings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connection floods and slow peers against a live donor: the connection cap holds under a flood of idle sockets,
 * the ones over it are refused with TOO_MANY_CLONES, the ones under it are dropped by the handshake timeout, and
 * once the flood is gone the donor serves an honest clone. A peer that trickles a HELLO byte by byte is dropped
 * within the read timeout although bytes keep arriving, and one that says HELLO and then only PINGs is dropped by
 * the handshake timeout although it is never silent.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FloodTest
{
    private static final int CAP = 64;
    private static final int FLOOD = 1_000;
    private static final long HANDSHAKE_MS = 1_500;

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    private static DonorService.Options options()
    {
        return new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK));
    }

    private void assertHonestCloneWorks(final DonorService donor, final Path src, final String name)
    {
        final Path dst = base.resolve(name);
        final CloneResult r = new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2)
            .settings(new CloneSettings().sync(false))).run();
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        assertTrue(r.dataBytes() > 0);
    }

    /**
     * Connections the donor's event loops hold right now (sampled from another thread: a recent value).
     */
    @SuppressWarnings("unchecked")
    private static int registeredConnections(final DonorService donor) throws ReflectiveOperationException
    {
        final Field f = DonorService.class.getDeclaredField("loops");
        f.setAccessible(true);
        int n = 0;
        for (final EventLoop loop : (List<EventLoop>)f.get(donor))
        {
            n += loop.connectionCount();
        }
        return n;
    }

    /**
     * What one flood socket received, read by one selector thread for all of them.
     */
    static final class Received
    {
        final SocketChannel channel;
        final long connectedNanos;
        byte[] bytes = new byte[256];
        int n;
        long closedNanos;
        boolean reset;

        Received(final SocketChannel channel, final long connectedNanos)
        {
            this.channel = channel;
            this.connectedNanos = connectedNanos;
        }
    }

    @Test
    void floodOfIdleConnectionsIsCappedRefusedTimedOutAndForgotten() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final AtomicLong refusalsLogged = new AtomicLong();
        final DonorService.Options options = options().maxConnections(CAP).handshakeTimeoutMs(HANDSHAKE_MS)
            // the read timeout is longer than the handshake timeout: an idle socket must be dropped by the latter
            .transport(new TransportSettings().readTimeoutMs(4_000).heartbeatMs(500))
            .log((ex) -> refusalsLogged.incrementAndGet());
        final List<Received> all = new CopyOnWriteArrayList<>();
        final ConcurrentLinkedQueue<Received> toRegister = new ConcurrentLinkedQueue<>();
        final AtomicInteger open = new AtomicInteger();
        try (DonorService donor = new DonorService(src, RemoteTestSupport.loopbackAnyPort(), options).start();
            Selector selector = Selector.open())
        {
            final AtomicInteger maxRegistered = new AtomicInteger();
            final AtomicInteger maxCounted = new AtomicInteger();
            final List<Throwable> threadFailures = new CopyOnWriteArrayList<>();
            final long floodStart = System.nanoTime();
            final Thread monitor = new Thread(() ->
            {
                try
                {
                    while (!Thread.currentThread().isInterrupted())
                    {
                        maxRegistered.accumulateAndGet(registeredConnections(donor), Math::max);
                        maxCounted.accumulateAndGet(LiveFuzzTest.openConnections(donor), Math::max);
                        Thread.sleep(0, 200_000);
                    }
                }
                catch (final InterruptedException ex)
                {
                    // done
                }
                catch (final Throwable t)
                {
                    threadFailures.add(t);
                }
            }, "flood-monitor");
            monitor.start();
            final Thread reader = new Thread(() -> readAll(selector, toRegister, open, threadFailures), "flood-reader");
            reader.start();
            final List<Thread> connectors = new ArrayList<>();
            for (int t = 0; t < 4; t++)
            {
                final Thread c = new Thread(() ->
                {
                    try
                    {
                        for (int i = 0; i < FLOOD / 4; i++)
                        {
                            final SocketChannel ch = SocketChannel.open(donor.address());
                            final Received rec = new Received(ch, System.nanoTime());
                            ch.configureBlocking(false);
                            all.add(rec);
                            open.incrementAndGet();
                            toRegister.add(rec);
                            selector.wakeup();
                            // spread the flood over about 2.5 s, longer than the handshake timeout
                            Thread.sleep(10);
                        }
                    }
                    catch (final Throwable ex)
                    {
                        threadFailures.add(ex);
                    }
                }, "flood-connector-" + t);
                connectors.add(c);
                c.start();
            }
            for (final Thread c : connectors)
            {
                c.join(30_000);
                assertFalse(c.isAlive());
            }
            // every socket, refused or held, is closed by the donor: held ones after the handshake timeout
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (open.get() > 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(20);
            }
            final long floodMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - floodStart);
            monitor.interrupt();
            monitor.join(5_000);
            reader.interrupt();
            selector.wakeup();
            reader.join(5_000);
            assertEquals(List.of(), threadFailures);
            assertEquals(FLOOD, all.size());
            assertEquals(0, open.get(), "sockets the donor never closed");

            // what each socket got: refused at once, or held then dropped by the handshake timeout
            final Map<String, Integer> outcomes = new TreeMap<>();
            int refused = 0;
            int timedOut = 0;
            long minHeldMs = Long.MAX_VALUE;
            long maxHeldMs = 0;
            for (final Received rec : all)
            {
                final List<String> problems = new ArrayList<>();
                final List<FuzzSupport.Parsed> frames = FuzzSupport.parseStream(rec.bytes, rec.n, problems);
                assertEquals(List.of(), problems);
                int code = -1;
                String message = "";
                for (final FuzzSupport.Parsed f : frames)
                {
                    assertTrue(f.type == FrameType.PING || f.type == FrameType.COM_RES_ERROR,
                        "an idle socket got " + FrameType.name(f.type));
                    assertEquals(-1, code, "frames after COM_RES_ERROR");
                    if (f.type == FrameType.COM_RES_ERROR)
                    {
                        code = FuzzSupport.errorCode(rec.bytes, f);
                        message = FuzzSupport.errorMessage(rec.bytes, f);
                    }
                }
                final long heldMs = TimeUnit.NANOSECONDS.toMillis(rec.closedNanos - rec.connectedNanos);
                outcomes.merge(code == -1 ? "closed" + (rec.reset ? " (reset)" : "") : ErrorCode.name(code), 1, Integer::sum);
                if (code == ErrorCode.TOO_MANY_CLONES)
                {
                    refused++;
                    assertTrue(message.contains(String.valueOf(CAP)), message);
                    assertTrue(heldMs < 1_000, "a refused socket was held " + heldMs + " ms");
                }
                else if (code == ErrorCode.TIMEOUT)
                {
                    timedOut++;
                    assertTrue(message.contains("did not reach COM_INIT"), message);
                    minHeldMs = Math.min(minHeldMs, heldMs);
                    maxHeldMs = Math.max(maxHeldMs, heldMs);
                }
            }
            System.out.printf("FloodTest: %d connects in %d ms; outcomes %s; max held by the loops %d, max counted %d; " +
                "held sockets dropped after %d..%d ms; %d refusals logged%n", FLOOD, floodMs, outcomes,
                maxRegistered.get(), maxCounted.get(), minHeldMs, maxHeldMs, refusalsLogged.get());
            assertTrue(maxRegistered.get() <= CAP, "the donor's loops held " + maxRegistered.get() + " connections");
            assertTrue(maxRegistered.get() >= CAP / 2, "the flood never filled the donor: " + maxRegistered.get());
            assertEquals(FLOOD, refused + timedOut, "every socket is refused or times out: " + outcomes);
            assertTrue(timedOut >= CAP, "held sockets: " + timedOut);
            assertTrue(refused >= FLOOD / 2, "refused sockets: " + refused);
            assertTrue(minHeldMs >= HANDSHAKE_MS - 100, "a held socket was dropped after " + minHeldMs + " ms");
            assertTrue(maxHeldMs < 4_000, "a held socket was dropped only after " + maxHeldMs + " ms (read timeout?)");
            for (final Received rec : all)
            {
                rec.channel.close();
            }

            // the flood is gone: no slot is still counted, and an honest clone works
            final long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (LiveFuzzTest.openConnections(donor) != 0 && System.nanoTime() < settle)
            {
                Thread.sleep(10);
            }
            assertEquals(0, LiveFuzzTest.openConnections(donor), "connection slots still counted after the flood");
            assertHonestCloneWorks(donor, src, "after-flood");
        }
    }

    private static void readAll(final Selector selector, final ConcurrentLinkedQueue<Received> toRegister,
        final AtomicInteger open, final List<Throwable> failures)
    {
        try
        {
            final ByteBuffer buffer = ByteBuffer.allocate(4096);
            while (!Thread.currentThread().isInterrupted())
            {
                Received r;
                while ((r = toRegister.poll()) != null)
                {
                    r.channel.register(selector, SelectionKey.OP_READ, r);
                }
                selector.select(20);
                for (final SelectionKey key : selector.selectedKeys())
                {
                    final Received rec = (Received)key.attachment();
                    buffer.clear();
                    int got;
                    boolean reset = false;
                    try
                    {
                        got = rec.channel.read(buffer);
                    }
                    catch (final IOException ex)
                    {
                        got = -1;
                        reset = true;
                    }
                    if (got > 0)
                    {
                        if (rec.n + got > rec.bytes.length)
                        {
                            rec.bytes = Arrays.copyOf(rec.bytes, Math.max(rec.bytes.length * 2, rec.n + got));
                        }
                        buffer.flip();
                        buffer.get(rec.bytes, rec.n, got);
                        rec.n += got;
                    }
                    else if (got < 0)
                    {
                        rec.closedNanos = System.nanoTime();
                        rec.reset = reset;
                        key.cancel();
                        rec.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                        rec.channel.close();
                        open.decrementAndGet();
                    }
                }
                selector.selectedKeys().clear();
            }
        }
        catch (final Throwable t)
        {
            failures.add(t);
        }
    }

    /**
     * A HELLO trickled one byte every 200 ms: each byte resets nothing, because a frame must be complete within the
     * read timeout (1 s here), so the donor drops the peer about 1 s after the first byte, mid-frame.
     */
    @Test
    void slowLorisSendingOneByteOfHelloEvery200MsIsDroppedWithinTheReadTimeout() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final DonorService.Options options = options().transport(new TransportSettings().readTimeoutMs(1_000).heartbeatMs(200));
        try (DonorService donor = new DonorService(src, RemoteTestSupport.loopbackAnyPort(), options).start())
        {
            final byte[] hello = FuzzSupport.clientHello();
            final AtomicLong closedAt = new AtomicLong();
            final AtomicReference<byte[]> got =
                new AtomicReference<>(new byte[0]);
            try (Socket s = new Socket())
            {
                s.connect(donor.address(), 5_000);
                s.setTcpNoDelay(true);
                final InputStream in = s.getInputStream();
                final Thread reader = new Thread(() ->
                {
                    try
                    {
                        got.set(in.readAllBytes());
                    }
                    catch (final IOException ex)
                    {
                        // reset: closed as well
                    }
                    closedAt.set(System.nanoTime());
                }, "slow-loris-reader");
                reader.start();
                final OutputStream out = s.getOutputStream();
                final long start = System.nanoTime();
                int sent = 0;
                try
                {
                    while (sent < hello.length && closedAt.get() == 0)
                    {
                        out.write(hello[sent]);
                        out.flush();
                        sent++;
                        Thread.sleep(200);
                    }
                }
                catch (final SocketException ex)
                {
                    // the donor closed: the next byte cannot be written
                }
                reader.join(5_000);
                assertFalse(reader.isAlive(), "the donor never closed the slow peer");
                final long ms = TimeUnit.NANOSECONDS.toMillis(closedAt.get() - start);
                System.out.printf("FloodTest: slow loris dropped after %d ms, %d of %d HELLO bytes sent%n", ms, sent,
                    hello.length);
                assertTrue(ms >= 900 && ms < 2_500, "dropped after " + ms + " ms");
                assertTrue(sent >= 5 && sent < hello.length, "bytes sent before the drop: " + sent);
                final List<String> problems = new ArrayList<>();
                for (final FuzzSupport.Parsed f : FuzzSupport.parseStream(got.get(), got.get().length, problems))
                {
                    assertEquals(FrameType.name(FrameType.PING), FrameType.name(f.type),
                        "a peer that never completed HELLO gets heartbeats at most");
                }
                assertEquals(List.of(), problems);
            }
            assertHonestCloneWorks(donor, src, "after-slow-loris");
        }
    }

    /**
     * A peer that completes HELLO (and, in one variant, COM_CLONE) and then sends only PINGs every 200 ms is never
     * silent for the 1 s read timeout, but it never reaches COM_INIT: the handshake timeout drops it.
     */
    @ParameterizedTest(name = "after {0} handshake frames")
    @ValueSource(ints = { 1, 2 })
    void peerThatOnlyPingsAfterHelloIsDroppedByTheHandshakeTimeout(final int frames) throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final DonorService.Options options = options().handshakeTimeoutMs(HANDSHAKE_MS)
            .transport(new TransportSettings().readTimeoutMs(1_000).heartbeatMs(200));
        try (DonorService donor = new DonorService(src, RemoteTestSupport.loopbackAnyPort(), options).start())
        {
            final long start = System.nanoTime();
            try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
            {
                peer.send(FuzzSupport.clientHello());
                if (frames == 2)
                {
                    peer.send(FuzzSupport.empty(FrameType.COM_CLONE));
                }
                // PINGs every 200 ms from their own thread, for as long as the donor lets them through
                final AtomicInteger pingsSent = new AtomicInteger();
                final Thread pinger = new Thread(() ->
                {
                    try
                    {
                        while (!Thread.currentThread().isInterrupted())
                        {
                            peer.send(FuzzSupport.ping());
                            pingsSent.incrementAndGet();
                            Thread.sleep(200);
                        }
                    }
                    catch (final IOException | InterruptedException ex)
                    {
                        // the donor closed, or the test is done
                    }
                }, "pinger");
                pinger.start();
                RemoteTestSupport.Frame answer = null;
                boolean sawHello = false;
                try
                {
                    while (TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 8_000)
                    {
                        final RemoteTestSupport.Frame f = peer.read();
                        if (f == null)
                        {
                            break;
                        }
                        if (f.type == FrameType.HELLO)
                        {
                            sawHello = true;
                            continue;
                        }
                        answer = f;
                        break;
                    }
                }
                catch (final IOException ex)
                {
                    // reset or silence: judged below
                }
                final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                pinger.interrupt();
                pinger.join(2_000);
                final int pings = pingsSent.get();
                System.out.printf("FloodTest: PING-only peer (%d handshake frames) dropped after %d ms and %d PINGs%n",
                    frames, ms, pings);
                assertTrue(sawHello, "the donor answers HELLO");
                assertTrue(answer != null, "the donor closed without COM_RES_ERROR");
                assertEquals(ErrorCode.name(ErrorCode.TIMEOUT), ErrorCode.name(answer.errorCode()), answer.errorMessage());
                assertTrue(answer.errorMessage().contains("did not reach COM_INIT"), answer.errorMessage());
                assertTrue(peer.closedByPeer(), "the donor closes after the error");
                assertTrue(ms >= HANDSHAKE_MS - 100 && ms < HANDSHAKE_MS + 1_500, "dropped after " + ms + " ms");
                assertTrue(pings >= 5, "PINGs sent: " + pings);
            }
            assertHonestCloneWorks(donor, src, "after-pings");
        }
    }
}
