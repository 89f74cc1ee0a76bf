package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.clientHello;
import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.frame;
import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.header;
import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.locatorFrame;
import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and broken clients against a live donor, over raw sockets: each is answered with one
 * {@code COM_RES_ERROR} frame (parsed here by hand) carrying the right code and a message, the connection is closed,
 * the donor holds no snapshot for it, and a normal clone from the same donor still succeeds afterwards.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HostileClientTest
{
    private static final int READ_TIMEOUT_MS = 5_000;

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    private static byte[] concat(final byte[]... parts)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final byte[] p : parts)
        {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] empty(final int type)
    {
        return frame(type, new byte[0]);
    }

    private static byte[] versionInit()
    {
        return locatorFrame(FrameType.COM_INIT, Locator.version(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX));
    }

    static Stream<Arguments> hostile()
    {
        final byte[] wrongMagic = clientHello();
        wrongMagic[FrameHeader.HEADER_LENGTH] ^= 0x20;
        final byte[] badKind = versionInit();
        badKind[FrameHeader.HEADER_LENGTH + LocatorCodec.KIND_OFFSET] = 9;
        // name, bytes sent, donor answers HELLO first, expected error code
        return Stream.of(
            Arguments.of("http request", "GET / HTTP/1.1\r\nHost: ferry\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                false, ErrorCode.FRAME_TOO_LARGE),
            Arguments.of("unknown type 77 after HELLO", concat(clientHello(), header(8, 77)), true,
                ErrorCode.UNKNOWN_COMMAND),
            Arguments.of("reserved type 25 after HELLO", concat(clientHello(), header(8, 25)), true,
                ErrorCode.UNKNOWN_COMMAND),
            Arguments.of("COM_EXECUTE before COM_CLONE and COM_INIT", concat(clientHello(), empty(FrameType.COM_EXECUTE)),
                true, ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("COM_EXECUTE before COM_INIT",
                concat(clientHello(), empty(FrameType.COM_CLONE), empty(FrameType.COM_EXECUTE)), true,
                ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("COM_INIT without COM_CLONE", concat(clientHello(), versionInit()), true,
                ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("COM_ACK before COM_EXECUTE",
                concat(clientHello(), empty(FrameType.COM_CLONE), frame(FrameType.COM_ACK, new byte[4])), true,
                ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("COM_CLONE before HELLO", empty(FrameType.COM_CLONE), false, ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("HELLO twice", concat(clientHello(), clientHello()), true, ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("HELLO with donor role", RemoteTestSupport.RawPeer.hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_DONOR), false,
                ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("HELLO with wrong magic", wrongMagic, false, ErrorCode.NOT_FERRY),
            Arguments.of("data frame from a client", concat(clientHello(), frame(FrameType.COM_RES_DATA, new byte[16])),
                true, ErrorCode.UNEXPECTED_COMMAND),
            Arguments.of("COM_EXIT without body", concat(clientHello(), empty(FrameType.COM_EXIT)), true,
                ErrorCode.MALFORMED_FRAME),
            Arguments.of("COM_INIT with locator kind 9", concat(clientHello(), empty(FrameType.COM_CLONE), badKind), true,
                ErrorCode.BAD_LOCATOR),
            Arguments.of("COM_ATTACH to unknown snapshot", concat(clientHello(), empty(FrameType.COM_CLONE),
                locatorFrame(FrameType.COM_ATTACH, Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, 0x1234_5678L, 1,
                Stage.FILE_COPY))), true, ErrorCode.UNKNOWN_SNAPSHOT),
            Arguments.of("frame length 2^31-1", header(Integer.MAX_VALUE, FrameType.HELLO), false,
                ErrorCode.FRAME_TOO_LARGE),
            Arguments.of("frame length 2^31-1 after HELLO", concat(clientHello(), header(Integer.MAX_VALUE,
                FrameType.COM_ACK)), true, ErrorCode.FRAME_TOO_LARGE),
            Arguments.of("control frame at the cap, beyond the receive buffer", concat(clientHello(),
                header(FrameHeader.DEFAULT_MAX_FRAME_LENGTH, FrameType.COM_ACK)), true, ErrorCode.FRAME_TOO_LARGE),
            Arguments.of("frame length 3", header(3, FrameType.HELLO), false, ErrorCode.MALFORMED_FRAME),
            Arguments.of("negative frame length", header(Integer.MIN_VALUE, FrameType.HELLO), false,
                ErrorCode.MALFORMED_FRAME));
    }

    private static DonorService.Options donorOptions()
    {
        return new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK));
    }

    private static CloneClient.Options client(final int threads)
    {
        return new CloneClient.Options().threads(threads).settings(new CloneSettings().sync(false));
    }

    /**
     * Send {@code bytes} on a new connection and check the donor's refusal.
     */
    static void assertRefused(final DonorService donor, final byte[] bytes, final boolean hello, final int code)
        throws IOException
    {
        try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), READ_TIMEOUT_MS))
        {
            peer.send(bytes);
            RemoteTestSupport.Frame f = peer.read();
            if (hello)
            {
                assertNotNull(f, "donor closed without answering HELLO");
                assertEquals(FrameType.HELLO, f.type, "first answer: " + f);
                f = peer.read();
            }
            assertNotNull(f, "donor closed without COM_RES_ERROR");
            assertEquals(FrameType.COM_RES_ERROR, f.type, "answer: " + f);
            assertEquals(ErrorCode.name(code), ErrorCode.name(f.errorCode()), f.errorMessage());
            assertFalse(f.errorMessage().isEmpty(), "the error carries a message");
            assertTrue(peer.closedByPeer(), "donor must close after COM_RES_ERROR");
        }
    }

    private void assertCloneWorks(final DonorService donor, final Path src, final String name, final int threads)
    {
        final Path dst = base.resolve(name);
        final CloneResult r = new CloneClient(donor.address(), dst, client(threads)).run();
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        assertTrue(r.dataBytes() > 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void donorRefusesAndStaysUp(final String name, final byte[] bytes, final boolean hello, final int code)
        throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions()).start())
        {
            assertRefused(donor, bytes, hello, code);
            assertEquals(0, donor.cloneCount(), "no snapshot may be held for a refused client");
            assertCloneWorks(donor, src, "dst", 2);
        }
    }

    @Test
    void everyHostileClientInTurnAgainstOneDonorWhileACloneRuns() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.buildEdgeCaseTree(src, true);
        final ExecutorService pool = Executors.newSingleThreadExecutor();
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions()).start())
        {
            final Path dst = base.resolve("running");
            final Future<CloneResult> running = pool.submit(() -> new CloneClient(donor.address(), dst, client(4)).run());
            for (final Arguments a : hostile().toList())
            {
                final Object[] args = a.get();
                assertRefused(donor, (byte[])args[1], (Boolean)args[2], (Integer)args[3]);
            }
            running.get(40, TimeUnit.SECONDS);
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
            assertCloneWorks(donor, src, "after", 1);
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void clientThatVanishesMidStreamDoesNotHurtTheDonor() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.buildEdgeCaseTree(src, false);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions()).start())
        {
            try (RemoteTestSupport.RawPeer peer = ConcurrentCloneTest.holdCloneSlot(donor))
            {
                peer.send(empty(FrameType.COM_EXECUTE));
                int descriptors = 0;
                for (int i = 0; i < 50; i++)
                {
                    final RemoteTestSupport.Frame f = peer.read();
                    assertNotNull(f);
                    assertTrue(f.type == FrameType.COM_RES_DATA_DESC || f.type == FrameType.COM_RES_DATA, f.toString());
                    descriptors += f.type == FrameType.COM_RES_DATA_DESC ? 1 : 0;
                }
                assertTrue(descriptors > 0);
            }
            // the vanished client may come back with COM_REINIT within the restart window, so its snapshot stays
            assertEquals(1, donor.cloneCount());
            assertCloneWorks(donor, src, "dst", 3);
        }
    }

    @Test
    void donorClosesAConnectionThatStopsMidFrame() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final DonorService.Options options = donorOptions()
            .transport(new TransportSettings().readTimeoutMs(1_000).heartbeatMs(200));
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), options).start();
            RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), READ_TIMEOUT_MS))
        {
            final long start = System.nanoTime();
            final byte[] hello = clientHello();
            peer.send(Arrays.copyOf(hello, 5));
            assertTrue(peer.closedByPeer(), "donor must drop a peer that sends nothing for its read timeout");
            final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ms >= 900 && ms < READ_TIMEOUT_MS, "closed after " + ms + " ms");

            final Path dst = base.resolve("dst");
            new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2)
                .settings(new CloneSettings().sync(false))
                .transport(new TransportSettings().readTimeoutMs(5_000).heartbeatMs(100))).run();
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        }
    }
}
