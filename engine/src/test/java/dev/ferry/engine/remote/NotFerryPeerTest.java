package dev.ferry.engine.remote;

import dev.ferry.engine.recipient.CloneClient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.FakeServer.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client pointed at a port that is not a Ferry donor fails within a bounded time, with a code that says so and a
 * message that names the peer, and writes nothing into the target.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NotFerryPeerTest
{
    private static final Duration BOUND = Duration.ofSeconds(10);
    private static final Set<Integer> NOT_A_DONOR = Set.of(ErrorCode.NOT_FERRY, ErrorCode.MALFORMED_FRAME,
        ErrorCode.FRAME_TOO_LARGE, ErrorCode.TIMEOUT, ErrorCode.NETWORK);

    @TempDir
    Path base;

    private static CloneClient.Options client()
    {
        return new CloneClient.Options().threads(2).settings(new CloneSettings().sync(false))
            .transport(new TransportSettings().readTimeoutMs(1500).heartbeatMs(200).connectTimeoutMs(3_000));
    }

    /**
     * Run a clone against {@code address} and check how it fails.
     */
    private FerryException assertFailsClearly(final InetSocketAddress address, final Path dst)
    {
        final FerryException ex = assertTimeoutPreemptively(BOUND,
            () -> assertThrows(FerryException.class, () -> new CloneClient(address, dst, client()).run()));
        final String what = ErrorCode.name(ex.code()) + ": " + ex.getMessage();
        assertTrue(NOT_A_DONOR.contains(ex.code()), "unexpected code for a peer that is not a donor: " + what);
        assertTrue(ex.getMessage() != null && !ex.getMessage().isBlank(), "empty message");
        assertTrue(ex.getMessage().contains(String.valueOf(address.getPort())), "the message must name the peer: " + what);
        assertFalse(ErrorCode.hint(ex.code()).isEmpty(), "a person gets a hint: " + what);
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS), "nothing may be written: " + what);
        return ex;
    }

    private static byte[] mysqlGreeting()
    {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        final byte[] version = "8.0.36\0".getBytes(StandardCharsets.US_ASCII);
        final int payload = 1 + version.length + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 + 22;
        b.write(payload & 0xFF);
        b.write(payload >> 8 & 0xFF);
        b.write(payload >> 16 & 0xFF);
        b.write(0);
        b.write(10);
        b.writeBytes(version);
        b.writeBytes(new byte[] { 9, 0, 0, 0 });
        b.writeBytes("abcdefgh".getBytes(StandardCharsets.US_ASCII));
        b.write(0);
        b.writeBytes(new byte[] { (byte)0xff, (byte)0xff, (byte)0xff, 2, 0, (byte)0xff, (byte)0xdf, 21 });
        b.writeBytes(new byte[10]);
        b.writeBytes("ijklmnopqrst\0".getBytes(StandardCharsets.US_ASCII));
        b.writeBytes("caching_sha2_password\0".getBytes(StandardCharsets.US_ASCII));
        return b.toByteArray();
    }

    static Stream<Arguments> banners()
    {
        // name, what the server does with each connection
        return Stream.of(
            Arguments.of("SSH banner, then silence",
                writes("SSH-2.0-OpenSSH_9.0\r\n".getBytes(StandardCharsets.US_ASCII), false)),
            Arguments.of("HTTP error response, then close", writes(("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n" +
                "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII), true)),
            Arguments.of("SMTP greeting", writes("220 mail.example.com ESMTP Postfix\r\n"
                .getBytes(StandardCharsets.US_ASCII), false)),
            Arguments.of("MySQL server greeting", writes(mysqlGreeting(), false)),
            Arguments.of("zeros", writes(new byte[64], false)),
            Arguments.of("a frame header, then silence", writes(RemoteTestSupport.RawPeer.header(100, FrameType.HELLO),
                false)),
            Arguments.of("HELLO with wrong magic", writes(wrongMagicHello(), false)),
            Arguments.of("a Ferry client, not a donor",
                writes(RemoteTestSupport.RawPeer.hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_CLIENT), false)),
            Arguments.of("accept, then close at once", (Consumer<Socket>)NotFerryPeerTest::closeQuietly));
    }

    private static byte[] wrongMagicHello()
    {
        final byte[] h = RemoteTestSupport.RawPeer.hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_DONOR);
        h[8] = 'X';
        return h;
    }

    private static void closeQuietly(final Socket s)
    {
        try
        {
            s.close();
        }
        catch (final IOException ignore)
        {
            // gone already
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("banners")
    void clientFailsClearlyAgainstAServerThatIsNotFerry(final String name, final Consumer<Socket> behaviour)
        throws IOException
    {
        try (RemoteTestSupport.FakeServer server = new RemoteTestSupport.FakeServer(behaviour))
        {
            assertFailsClearly(server.address(), base.resolve("dst"));
            assertEquals(1, server.accepts(), "the master connected once; no worker may attach to a non-donor");
        }
    }

    @Test
    void sshBannerIsRefusedAtOnce() throws IOException
    {
        try (RemoteTestSupport.FakeServer server = new RemoteTestSupport.FakeServer(
            writes("SSH-2.0-OpenSSH_9.0\r\n".getBytes(StandardCharsets.US_ASCII), false)))
        {
            final long start = System.nanoTime();
            final FerryException ex = assertFailsClearly(server.address(), base.resolve("dst"));
            final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ex.code() != ErrorCode.TIMEOUT && ms < 1_500,
                "the banner is not a Ferry frame and needs no timeout: " + ErrorCode.name(ex.code()) + " after " + ms +
                " ms");
        }
    }

    @Test
    void silentServerTimesOut() throws IOException
    {
        try (RemoteTestSupport.FakeServer server = new RemoteTestSupport.FakeServer((s) -> { }))
        {
            final long start = System.nanoTime();
            final FerryException ex = assertFailsClearly(server.address(), base.resolve("dst"));
            final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertEquals(ErrorCode.name(ErrorCode.TIMEOUT), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ms >= 1_400, "timed out after " + ms + " ms, before the 1500 ms read timeout");
        }
    }

    @Test
    void closedPortFailsWithNetwork() throws IOException
    {
        final int port;
        try (ServerSocket s = new ServerSocket())
        {
            s.bind(RemoteTestSupport.loopbackAnyPort());
            port = s.getLocalPort();
        }
        final Path dst = Files.createDirectories(base.resolve("dst-existing"));
        final FerryException ex = assertTimeoutPreemptively(BOUND, () -> assertThrows(FerryException.class,
            () -> new CloneClient(new InetSocketAddress(RemoteTestSupport.LOOPBACK, port), dst, client()).run()));
        assertEquals(ErrorCode.name(ErrorCode.NETWORK), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains(String.valueOf(port)), ex.getMessage());
        assertTrue(ex.isRestartable());
        assertEquals(List.of(), RemoteTestSupport.listAll(dst), "an existing empty target stays empty");
    }
}
