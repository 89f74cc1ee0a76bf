package dev.ferry.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.transport.TlsTestSupport.Pair;
import dev.ferry.transport.TlsTestSupport.Recorder;
import dev.ferry.transport.TlsTestSupport.Sender;

import static dev.ferry.transport.TlsTestSupport.hello;
import static dev.ferry.transport.TlsTestSupport.helloLength;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Connection} over TLS (and, for comparison, in clear text) between two {@link EventLoop}s driven by the test
 * thread ({@code doWork} in turn, so every step is deterministic up to the kernel): frames, bulk bodies from buffers
 * and from file regions arrive intact and in order; back-pressure with data already decrypted; heartbeats and
 * timeouts; and every mismatch a person can make (clear text against TLS either way, untrusted certificates, a
 * missing client certificate, a certificate for another host) fails fast with a code and a message that say so.
 * Certificates are made by {@link TestPki} at test time; sockets bind 127.0.0.1 port 0.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsConnectionTest
{
    @TempDir
    static Path pkiDir;

    @TempDir
    Path dir;

    private static TestPki.Identity server;
    private static TestPki.Identity rsaServer;
    private static TestPki.Identity client;
    private static TestPki.Identity stranger;
    private static TestPki.Identity ca;
    private static TestPki.Identity leaf;
    private static TestPki.Identity elsewhere;
    private static TestPki.Identity noSan;

    @BeforeAll
    static void certificates() throws IOException
    {
        final TestPki pki = new TestPki(pkiDir);
        server = pki.selfSigned("server", "EC", "ip:127.0.0.1,dns:localhost");
        rsaServer = pki.selfSigned("rsa-server", "RSA", "ip:127.0.0.1");
        client = pki.selfSigned("client", "RSA", null);
        stranger = pki.selfSigned("stranger", "EC", "ip:127.0.0.1");
        ca = pki.ca("ca");
        leaf = pki.signedBy(ca, "leaf", "RSA", "ip:127.0.0.1,dns:localhost");
        elsewhere = pki.selfSigned("elsewhere", "EC", "dns:elsewhere.invalid");
        noSan = pki.selfSigned("nosan", "EC", null);
    }

    private static TransportSettings plain()
    {
        return new TransportSettings().readTimeoutMs(5_000).heartbeatMs(100).conclude();
    }

    private static TransportSettings tlsServer(final TestPki.Identity id, final Path clientCa)
    {
        return new TransportSettings().readTimeoutMs(5_000).heartbeatMs(100)
            .tls(TlsConfig.server(id.cert, id.key, clientCa)).requireTls(true).conclude();
    }

    private static TransportSettings tlsClient(final Path trusted, final TestPki.Identity own)
    {
        return new TransportSettings().readTimeoutMs(5_000).heartbeatMs(100)
            .tls(TlsConfig.client(trusted, own == null ? null : own.cert, own == null ? null : own.key)).conclude();
    }

    // ------------------------------------------------------------------------------------------------ data path

    @ParameterizedTest(name = "tls={0}")
    @ValueSource(booleans = { true, false })
    void framesBuffersAndFileRegionsArriveIntactAndInOrder(final boolean tls) throws IOException
    {
        final SplittableRandom random = new SplittableRandom(7);
        final byte[] fileBytes = new byte[8 * 1024 * 1024 + 123];
        random.nextBytes(fileBytes);
        final Path file = Files.write(dir.resolve("data.bin"), fileBytes);
        final byte[] small = new byte[70_000];
        random.nextBytes(small);
        final UnsafeBuffer smallBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(small.length));
        smallBuffer.putBytes(0, small);

        // a script: control frames, bodies copied from a buffer, and file regions of awkward sizes
        final Sender sender = new Sender();
        final List<String> expectedEvents = new ArrayList<>();
        final ByteArrayOutputStream expectedBodies = new ByteArrayOutputStream();
        final int[] regionSizes = { 1, 100, 16_383, 16_384, 16_385, 65_536, 1024 * 1024, 333_333, 1024 * 1024 - 1 };
        long position = 0;
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ))
        {
            for (int round = 0; round < 3; round++)
            {
                final String version = "round " + round;
                sender.hello(version);
                expectedEvents.add("frame:" + version);
                for (final int size : regionSizes)
                {
                    sender.region(fc, position, size);
                    expectedEvents.add("body:" + size);
                    expectedBodies.write(fileBytes, (int)position, size);
                    position += size;
                    final int bufferSize = 1 + random.nextInt(small.length);
                    sender.buffer(smallBuffer, bufferSize);
                    expectedEvents.add("body:" + bufferSize);
                    expectedBodies.write(small, 0, bufferSize);
                }
            }
            assertTrue(position <= fileBytes.length);

            final Recorder serverSide = new Recorder();
            serverSide.pump = sender::pump;
            final Recorder clientSide = new Recorder();
            try (Pair pair = new Pair(tls ? tlsServer(server, null) : plain(), tls ? tlsClient(server.cert, null) : plain(),
                serverSide, clientSide))
            {
                pair.drive(() -> pair.server != null);
                sender.connection = pair.server;
                sender.pump(pair.server);
                pair.drive(() -> clientSide.events.size() == expectedEvents.size() || clientSide.closed());
                assertEquals(expectedEvents, clientSide.events);
                assertArrayEquals(expectedBodies.toByteArray(), clientSide.bodies.toByteArray());
                assertFalse(clientSide.closed(), clientSide.closeMessage);
                assertFalse(serverSide.closed(), serverSide.closeMessage);
                assertEquals(tls, pair.server.isTls());
                assertEquals(tls, pair.client.isTls());
                assertEquals(tls ? "TLSv1.3 TLS_AES_128_GCM_SHA256" : null, pair.client.tlsSession());
                assertEquals(pair.client.tlsSession(), pair.server.tlsSession());
                assertTrue(pair.client.bytesIn() >= expectedBodies.size(), "bytes in counts the wire");
                assertEquals(position, pair.server.fileBytesOut(), "file-region bytes sent");
            }
        }
    }

    @ParameterizedTest(name = "tls={0}")
    @ValueSource(booleans = { true, false })
    void bodiesAlreadyReceivedAreDeliveredWhenReadingResumesWithoutNewBytes(final boolean tls)
    {
        final int count = 60;
        final int size = 1000;
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        clientSide.grantBodies = 1;
        try (Pair pair = new Pair(tls ? tlsServer(rsaServer, null) : plain(), tls ? tlsClient(rsaServer.cert, null) : plain(),
            serverSide, clientSide))
        {
            pair.drive(() -> pair.server != null && (!tls || pair.client.bytesIn() > 0));
            final UnsafeBuffer body = new UnsafeBuffer(new byte[size]);
            for (int i = 0; i < count; i++)
            {
                body.putInt(0, i);
                assertTrue(pair.server.send(FrameType.COM_RES_DATA, body, 0, size));
            }
            pair.server.flush();
            pair.drive(() -> pair.server.isDrained() && clientSide.refused > 0);
            for (int i = 0; i < 50; i++)
            {
                pair.step();
            }
            assertEquals(1, clientSide.bodyCount, "only one body had a buffer");

            // everything has left the server; the rest is in the client's buffers (and maybe its socket)
            clientSide.grantBodies = Integer.MAX_VALUE;
            pair.client.resumeReading();
            pair.drive(() -> clientSide.bodyCount == count || clientSide.closed());
            assertEquals(count, clientSide.bodyCount);
            final byte[] all = clientSide.bodies.toByteArray();
            for (int i = 0; i < count; i++)
            {
                assertEquals(i, new UnsafeBuffer(all).getInt(i * size), "body " + i + " in order");
            }

            // pauseReading / resumeReading with frames queued behind
            pair.client.pauseReading();
            for (int i = 0; i < 20; i++)
            {
                assertTrue(pair.server.send(FrameType.HELLO, hello("paused " + i), 0, helloLength("paused " + i)));
            }
            pair.server.flush();
            pair.drive(pair.server::isDrained);
            for (int i = 0; i < 50; i++)
            {
                pair.step();
            }
            final int before = clientSide.events.size();
            pair.client.resumeReading();
            pair.drive(() -> clientSide.events.size() == before + 20);
            assertEquals("frame:paused 19", clientSide.events.get(clientSide.events.size() - 1));
            assertFalse(clientSide.closed(), clientSide.closeMessage);
        }
    }

    @Test
    void heartbeatsKeepAnIdleTlsConnectionAliveAndSilenceTimesOut()
    {
        final TransportSettings s = new TransportSettings().readTimeoutMs(400).heartbeatMs(50)
            .tls(TlsConfig.server(server.cert, server.key, null)).conclude();
        final TransportSettings c = new TransportSettings().readTimeoutMs(400).heartbeatMs(50)
            .tls(TlsConfig.client(server.cert, null, null)).conclude();
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(s, c, serverSide, clientSide))
        {
            final long idleUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1200);
            pair.drive(() -> System.nanoTime() > idleUntil);
            assertFalse(serverSide.closed(), serverSide.closeMessage);
            assertFalse(clientSide.closed(), clientSide.closeMessage);

            // the client goes silent (its loop stops): the server times out
            final long start = System.nanoTime();
            pair.driveServerOnly(serverSide::closed);
            assertEquals(ErrorCode.TIMEOUT, serverSide.closeCode, serverSide.closeMessage);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
        }
    }

    // ------------------------------------------------------------------------------------------------ mismatches

    @Test
    void clearTextClientAtTlsServerIsAnsweredInClearTextAndClosed()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(tlsServer(server, null), plain(), serverSide, clientSide))
        {
            assertTrue(pair.client.send(FrameType.HELLO, hello("plain"), 0, helloLength("plain")));
            pair.client.flush();
            // the server closes once its answer is out (as after any error frame); the client reads the answer
            pair.drive(() -> serverSide.closed() && clientSide.closed());
            assertEquals(List.of("error:" + ErrorCode.CONFIG_MISMATCH), clientSide.events);
            assertTrue(clientSide.errorMessage.contains("requires TLS") && clientSide.errorMessage.contains("--tls-ca"),
                clientSide.errorMessage);
        }
    }

    @Test
    void tlsClientAtClearTextServerFailsFastSayingSo()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(plain(), tlsClient(server.cert, null), serverSide, clientSide))
        {
            pair.drive(clientSide::closed);
            assertEquals(ErrorCode.CONFIG_MISMATCH, clientSide.closeCode, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.contains("clear text") && clientSide.closeMessage.contains("TLS"),
                clientSide.closeMessage);
            pair.drive(serverSide::closed);
            assertTrue(serverSide.events.isEmpty(), "a ClientHello is not a frame: " + serverSide.events);
        }
    }

    @Test
    void tlsClientReportsAClearTextRefusalSentBeforeAnyHandshake() throws IOException
    {
        // what DonorService does when it has too many connections: a clear-text COM_RES_ERROR, then close
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)))
        {
            final EventLoop loop = new EventLoop("test-client", 1);
            final Recorder clientSide = new Recorder();
            try
            {
                final TransportSettings c = tlsClient(server.cert, null);
                Connection.register(loop, Connection.connect((InetSocketAddress)listener.getLocalAddress(), c), c, clientSide);
                try (SocketChannel accepted = listener.accept())
                {
                    final UnsafeBuffer frame = new UnsafeBuffer(new byte[256]);
                    final int len = ErrorCodec.encode(frame, FrameHeader.HEADER_LENGTH, ErrorCode.TOO_MANY_CLONES, "busy");
                    FrameHeader.write(frame, 0, FrameHeader.HEADER_LENGTH + len, FrameType.COM_RES_ERROR);
                    accepted.write(ByteBuffer.wrap(frame.byteArray(), 0, FrameHeader.HEADER_LENGTH + len));
                    final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!clientSide.closed() && System.nanoTime() < deadline)
                    {
                        loop.doWork();
                    }
                }
                assertEquals(ErrorCode.TOO_MANY_CLONES, clientSide.closeCode, clientSide.closeMessage);
                assertTrue(clientSide.closeMessage.contains("clear text") && clientSide.closeMessage.contains("busy"),
                    clientSide.closeMessage);
            }
            finally
            {
                loop.onClose();
            }
        }
    }

    @Test
    void clientThatDoesNotTrustTheServerFails()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(tlsServer(server, null), tlsClient(stranger.cert, null), serverSide, clientSide))
        {
            pair.drive(() -> clientSide.closed() && serverSide.closed());
            assertEquals(ErrorCode.AUTH_FAILED, clientSide.closeCode, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.contains("--tls-ca"), clientSide.closeMessage);
            assertNotEquals(ErrorCode.OK, serverSide.closeCode, serverSide.closeMessage);
            assertTrue(clientSide.events.isEmpty());
        }
    }

    @Test
    void caSignedChainIsTrustedThroughItsCa()
    {
        assertConnects(tlsServer(leaf, null), tlsClient(ca.cert, null));
    }

    @Test
    void certificateWithoutSubjectAltNamesIsAcceptedOnItsChain()
    {
        assertConnects(tlsServer(noSan, null), tlsClient(noSan.cert, null));
    }

    @Test
    void certificateForAnotherHostIsRefused()
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(tlsServer(elsewhere, null), tlsClient(elsewhere.cert, null), serverSide, clientSide))
        {
            pair.drive(clientSide::closed);
            assertEquals(ErrorCode.AUTH_FAILED, clientSide.closeCode, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.contains("dns:elsewhere.invalid") &&
                clientSide.closeMessage.contains("127.0.0.1"), clientSide.closeMessage);
        }
    }

    @Test
    void mutualTlsAcceptsTheClientCertificateAndRefusesAClientWithout()
    {
        assertConnects(tlsServer(server, client.cert), tlsClient(server.cert, client));

        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(tlsServer(server, client.cert), tlsClient(server.cert, null), serverSide, clientSide))
        {
            assertTrue(pair.client.send(FrameType.HELLO, hello("no cert"), 0, helloLength("no cert")));
            pair.client.flush();
            pair.drive(() -> clientSide.closed() && serverSide.closed());
            assertEquals(ErrorCode.AUTH_FAILED, serverSide.closeCode, serverSide.closeMessage);
            assertEquals(ErrorCode.AUTH_FAILED, clientSide.closeCode, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.contains("--tls-cert"), clientSide.closeMessage);
            assertTrue(serverSide.events.isEmpty(), "no frame from a client without a certificate: " + serverSide.events);
        }

        // a certificate the server does not know is refused too
        final Recorder s2 = new Recorder();
        final Recorder c2 = new Recorder();
        try (Pair pair = new Pair(tlsServer(server, client.cert), tlsClient(server.cert, stranger), s2, c2))
        {
            pair.drive(() -> c2.closed() && s2.closed());
            assertEquals(ErrorCode.AUTH_FAILED, s2.closeCode, s2.closeMessage);
            assertEquals(ErrorCode.AUTH_FAILED, c2.closeCode, c2.closeMessage);
        }
    }

    private void assertConnects(final TransportSettings s, final TransportSettings c)
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(s, c, serverSide, clientSide))
        {
            assertTrue(pair.client.send(FrameType.HELLO, hello("ping"), 0, helloLength("ping")));
            pair.client.flush();
            pair.drive(() -> !serverSide.events.isEmpty() || serverSide.closed());
            assertEquals(List.of("frame:ping"), serverSide.events, serverSide.closeMessage);
            assertTrue(pair.server.send(FrameType.HELLO, hello("pong"), 0, helloLength("pong")));
            pair.server.flush();
            pair.drive(() -> !clientSide.events.isEmpty() || clientSide.closed());
            assertEquals(List.of("frame:pong"), clientSide.events, clientSide.closeMessage);
            pair.client.closeAfterFlush();
            pair.drive(serverSide::closed);
            assertEquals(ErrorCode.NETWORK, serverSide.closeCode, "an orderly close is an end of stream: " +
                serverSide.closeMessage);
        }
    }
}
