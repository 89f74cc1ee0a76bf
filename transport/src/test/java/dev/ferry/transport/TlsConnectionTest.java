package dev.ferry.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.SystemNanoClock;
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
    private static TestPki.Identity dnsOnly;
    private static TestPki.Identity wildcard;

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
        dnsOnly = pki.selfSigned("dns-only", "EC", "dns:localhost");
        wildcard = pki.selfSigned("wildcard", "EC", "dns:*.ferry.test");
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
        return tlsClient(trusted, own, List.of());
    }

    private static TransportSettings tlsClient(final Path trusted, final TestPki.Identity own, final List<String> pins)
    {
        return new TransportSettings().readTimeoutMs(5_000).heartbeatMs(100)
            .tls(TlsConfig.client(trusted, own == null ? null : own.cert, own == null ? null : own.key, pins)).conclude();
    }

    private static String fingerprint(final TestPki.Identity id) throws Exception
    {
        return PeerIdentityTrustManager.fingerprint(PemFiles.readCertificates(id.cert, "test")[0]);
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
            assertTrue(clientSide.errorMessage.contains("requires TLS") && clientSide.errorMessage.contains("clear text"),
                clientSide.errorMessage);
            assertEquals(List.of(TlsFailure.CLEAR_TEXT_PEER), serverSide.tlsFailures);
            assertTrue(clientSide.errorMessage.endsWith("[hint CLEAR_TEXT_PEER]"), "the server's owner adds its " +
                "advice to what the peer is told: " + clientSide.errorMessage);
            assertFalse(pair.server.isTls(), "the refusal went out in clear text");
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
            assertEquals(List.of(TlsFailure.TLS_PEER), serverSide.tlsFailures);
            assertTrue(clientSide.closeMessage.contains("[hint TLS_PEER]"), "the server's refusal, with its owner's " +
                "advice, is what the client reports: " + clientSide.closeMessage);
            assertEquals(List.of(), clientSide.tlsFailures, "an error frame speaks for itself");
        }
    }

    @Test
    void tlsClientReportsAClearTextRefusalSentBeforeAnyHandshake() throws IOException
    {
        // what DonorService does when it has too many connections: a clear-text COM_RES_ERROR, then close
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[256]);
        final int len = ErrorCodec.encode(frame, FrameHeader.HEADER_LENGTH, ErrorCode.TOO_MANY_CLONES, "busy");
        FrameHeader.write(frame, 0, FrameHeader.HEADER_LENGTH + len, FrameType.COM_RES_ERROR);
        final Recorder clientSide = answerClientHelloWith(frame, FrameHeader.HEADER_LENGTH + len);
        assertEquals(ErrorCode.TOO_MANY_CLONES, clientSide.closeCode, clientSide.closeMessage);
        assertTrue(clientSide.closeMessage.contains("clear text") && clientSide.closeMessage.contains("busy"),
            clientSide.closeMessage);
        assertEquals(List.of(), clientSide.tlsFailures, "the refusal speaks for itself");
    }

    @Test
    void tlsClientAnsweredWithAClearTextFrameOrWithGarbageSaysWhich() throws IOException
    {
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[256]);
        final int len = helloLength("plain");
        frame.putBytes(FrameHeader.HEADER_LENGTH, hello("plain"), 0, len);
        FrameHeader.write(frame, 0, FrameHeader.HEADER_LENGTH + len, FrameType.HELLO);
        final Recorder ferry = answerClientHelloWith(frame, FrameHeader.HEADER_LENGTH + len);
        assertEquals(ErrorCode.CONFIG_MISMATCH, ferry.closeCode, ferry.closeMessage);
        assertEquals(List.of(TlsFailure.CLEAR_TEXT_ANSWER), ferry.tlsFailures, ferry.closeMessage);
        assertTrue(ferry.closeMessage.contains("does not use TLS"), ferry.closeMessage);

        final UnsafeBuffer http = new UnsafeBuffer("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        final Recorder other = answerClientHelloWith(http, http.capacity());
        assertEquals(ErrorCode.NOT_FERRY, other.closeCode, other.closeMessage);
        assertTrue(other.closeMessage.contains("not a TLS record"), other.closeMessage);
        assertEquals(List.of(), other.tlsFailures);
    }

    /**
     * A TLS client connects to a plain listener that answers with {@code length} bytes of {@code answer} and closes.
     */
    private static Recorder answerClientHelloWith(final UnsafeBuffer answer, final int length) throws IOException
    {
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
                    accepted.write(ByteBuffer.wrap(answer.byteArray(), 0, length));
                    final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!clientSide.closed() && System.nanoTime() < deadline)
                    {
                        loop.doWork();
                    }
                }
                assertTrue(clientSide.closed(), "the client did not give up");
                return clientSide;
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
            assertEquals(List.of(TlsFailure.PEER_NOT_TRUSTED), clientSide.tlsFailures, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.endsWith("[hint PEER_NOT_TRUSTED]"), clientSide.closeMessage);
            assertNotEquals(ErrorCode.OK, serverSide.closeCode, serverSide.closeMessage);
            assertEquals(List.of(TlsFailure.CERTIFICATE_REFUSED), serverSide.tlsFailures, serverSide.closeMessage);
            assertTrue(clientSide.events.isEmpty());
        }
    }

    @Test
    void caSignedChainIsTrustedThroughItsCa()
    {
        assertConnects(tlsServer(leaf, null), tlsClient(ca.cert, null));
    }

    @Test
    void certificateWithSubjectAltNameForTheHostIsAccepted()
    {
        assertConnects(tlsServer(rsaServer, null), tlsClient(rsaServer.cert, null));
    }

    @Test
    void certificateThatNamesNoHostIsRefusedUnlessPinned() throws Exception
    {
        final String pin = fingerprint(noSan);
        assertRefused(tlsServer(noSan, null), tlsClient(noSan.cert, null), TlsFailure.NO_HOST_NAMED, "names no host", pin);
        assertConnects(tlsServer(noSan, null), tlsClient(noSan.cert, null, List.of(pin)));
        // as openssl x509 -fingerprint prints it
        final StringBuilder colons = new StringBuilder();
        for (int i = 0; i < pin.length(); i += 2)
        {
            colons.append(i == 0 ? "" : ":").append(pin.substring(i, i + 2).toUpperCase(java.util.Locale.ROOT));
        }
        assertConnects(tlsServer(noSan, null), tlsClient(noSan.cert, null, List.of(colons.toString())));
    }

    @Test
    void pinnedClientRefusesAnyOtherCertificateEvenForTheRightHost() throws Exception
    {
        assertRefused(tlsServer(server, null), tlsClient(server.cert, null, List.of(fingerprint(stranger))),
            TlsFailure.PIN_MISMATCH, "matches none", fingerprint(server));
        assertConnects(tlsServer(server, null), tlsClient(server.cert, null, List.of(fingerprint(stranger),
            fingerprint(server))));
    }

    @Test
    void pinsStillRequireATrustedChain() throws Exception
    {
        assertRefused(tlsServer(noSan, null), tlsClient(stranger.cert, null, List.of(fingerprint(noSan))),
            TlsFailure.PEER_NOT_TRUSTED, "", "");
    }

    @Test
    void hostNamesAreMatchedByTheJdkAsHttpsDoes()
    {
        // a name against DNS entries, a literal against IP entries, never the other way round
        assertConnects(tlsServer(dnsOnly, null), tlsClient(dnsOnly.cert, null), "localhost");
        assertRefused(tlsServer(dnsOnly, null), tlsClient(dnsOnly.cert, null), null, TlsFailure.HOST_MISMATCH,
            "dns:localhost", "'127.0.0.1'");
        assertConnects(tlsServer(server, null), tlsClient(server.cert, null), "LOCALHOST");
        assertRefused(tlsServer(rsaServer, null), tlsClient(rsaServer.cert, null), "localhost", TlsFailure.HOST_MISMATCH,
            "ip:127.0.0.1", "'localhost'");
        // a wildcard stands for exactly one left-most label
        assertConnects(tlsServer(wildcard, null), tlsClient(wildcard.cert, null), "donor.ferry.test");
        assertRefused(tlsServer(wildcard, null), tlsClient(wildcard.cert, null), "a.b.ferry.test",
            TlsFailure.HOST_MISMATCH, "dns:*.ferry.test", "'a.b.ferry.test'");
        assertRefused(tlsServer(wildcard, null), tlsClient(wildcard.cert, null), "ferry.test",
            TlsFailure.HOST_MISMATCH, "dns:*.ferry.test", "'ferry.test'");
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
            assertEquals(List.of(TlsFailure.HOST_MISMATCH), clientSide.tlsFailures, clientSide.closeMessage);
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
            assertEquals(List.of(TlsFailure.CERTIFICATE_REQUIRED), clientSide.tlsFailures, clientSide.closeMessage);
            assertEquals(List.of(TlsFailure.CERTIFICATE_REQUIRED), serverSide.tlsFailures, serverSide.closeMessage);
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
            // the JDK does not offer a certificate the server's CA list does not name: the server sees none
            assertEquals(List.of(TlsFailure.CERTIFICATE_REQUIRED), s2.tlsFailures, s2.closeMessage);
            assertEquals(List.of(TlsFailure.CERTIFICATE_REQUIRED), c2.tlsFailures, c2.closeMessage);
        }
    }

    private void assertRefused(final TransportSettings s, final TransportSettings c, final TlsFailure failure,
        final String says, final String alsoSays)
    {
        assertRefused(s, c, null, failure, says, alsoSays);
    }

    /**
     * The client refuses the server's certificate: AUTH_FAILED, the failure given to the handler, a message saying
     * what and naming what it must.
     */
    private void assertRefused(final TransportSettings s, final TransportSettings c, final String clientHost,
        final TlsFailure failure, final String says, final String alsoSays)
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(s, c, serverSide, clientSide, clientHost, SystemNanoClock.INSTANCE))
        {
            pair.drive(() -> clientSide.closed() && serverSide.closed());
            assertEquals(ErrorCode.AUTH_FAILED, clientSide.closeCode, clientSide.closeMessage);
            assertEquals(List.of(failure), clientSide.tlsFailures, clientSide.closeMessage);
            assertTrue(clientSide.closeMessage.contains(says) && clientSide.closeMessage.contains(alsoSays),
                clientSide.closeMessage);
            assertTrue(clientSide.events.isEmpty() && serverSide.events.isEmpty());
        }
    }

    private void assertConnects(final TransportSettings s, final TransportSettings c)
    {
        assertConnects(s, c, null);
    }

    private void assertConnects(final TransportSettings s, final TransportSettings c, final String clientHost)
    {
        final Recorder serverSide = new Recorder();
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(s, c, serverSide, clientSide, clientHost, SystemNanoClock.INSTANCE))
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
