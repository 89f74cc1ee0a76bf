package dev.ferry.engine.remote;

import dev.ferry.engine.SharedSecret;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shared-secret authentication and the client's donor allow-list.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AuthTest
{
    @TempDir
    Path dir;

    private static final SharedSecret SECRET = new SharedSecret("correct horse battery staple".getBytes(StandardCharsets.UTF_8));
    private static final SharedSecret WRONG = new SharedSecret("incorrect horse battery staple".getBytes(StandardCharsets.UTF_8));

    private Path src() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(1).mixed(src, 1, 300_000, 20);
        return src;
    }

    @Test
    void rightSecretClones() throws Exception
    {
        final Path src = src();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().secret(SECRET)).start())
        {
            new CloneClient(donor.address(), dir.resolve("dst"), new CloneClient.Options().threads(2).secret(SECRET)).run();
            assertEquals(List.of(), TreeComparator.compare(src, dir.resolve("dst")));
        }
    }

    @Test
    void wrongOrMissingSecretIsRefusedAfterADelayAndLogged() throws Exception
    {
        final Path src = src();
        final AtomicInteger failures = new AtomicInteger();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().secret(SECRET).log(ex ->
            {
                if (ex instanceof FerryException && ((FerryException)ex).code() == ErrorCode.AUTH_FAILED &&
                    ex.getMessage().contains("failed authentication"))
                {
                    failures.incrementAndGet();
                }
            })).start())
        {
            final long t0 = System.nanoTime();
            final FerryException wrong = assertThrows(FerryException.class, () ->
                new CloneClient(donor.address(), dir.resolve("a"), new CloneClient.Options().secret(WRONG)).run());
            assertEquals(ErrorCode.AUTH_FAILED, wrong.code(), wrong.describe());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(900), "no delay on a failed proof");
            assertEquals(1, failures.get(), "the failed attempt must be logged");
            assertFalse(Files.exists(dir.resolve("a")), "nothing may be written");

            final FerryException missing = assertThrows(FerryException.class, () ->
                new CloneClient(donor.address(), dir.resolve("b"), new CloneClient.Options()).run());
            assertEquals(ErrorCode.AUTH_FAILED, missing.code());
            assertTrue(missing.getMessage().contains("--secret-file"), missing.getMessage());
            assertEquals(0, donor.cloneCount());
        }
    }

    @Test
    void clientWithASecretRefusesADonorThatDoesNotAuthenticate() throws Exception
    {
        try (DonorService donor = new DonorService(src(), new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            final FerryException ex = assertThrows(FerryException.class, () ->
                new CloneClient(donor.address(), dir.resolve("c"), new CloneClient.Options().secret(SECRET)).run());
            assertEquals(ErrorCode.AUTH_FAILED, ex.code());
            assertEquals(0, donor.cloneCount());
        }
    }

    @Test
    void rawCloneWithoutAuthenticationIsRefused() throws Exception
    {
        try (DonorService donor = new DonorService(src(), new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().secret(SECRET)).start())
        {
            // a client that skips the challenge and goes straight to COM_CLONE must get AUTH_FAILED
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", donor.address().getPort()))
            {
                s.setSoTimeout(5000);
                final org.agrona.concurrent.UnsafeBuffer b = new org.agrona.concurrent.UnsafeBuffer(new byte[512]);
                final int hello = dev.ferry.core.protocol.HelloCodec.encode(b, 8, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX,
                    dev.ferry.core.protocol.HelloCodec.ROLE_CLIENT, 0, "raw");
                dev.ferry.core.protocol.FrameHeader.write(b, 0, 8 + hello, dev.ferry.core.protocol.FrameType.HELLO);
                dev.ferry.core.protocol.FrameHeader.write(b, 8 + hello, 8, dev.ferry.core.protocol.FrameType.COM_CLONE);
                s.getOutputStream().write(b.byteArray(), 0, 16 + hello);
                final java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
                int errorCode = -1;
                for (int i = 0; i < 4 && errorCode < 0; i++)
                {
                    final byte[] header = new byte[8];
                    in.readFully(header);
                    final org.agrona.concurrent.UnsafeBuffer h = new org.agrona.concurrent.UnsafeBuffer(header);
                    final byte[] body = new byte[dev.ferry.core.protocol.FrameHeader.frameLength(h, 0) - 8];
                    in.readFully(body);
                    if (dev.ferry.core.protocol.FrameHeader.type(h, 0) == dev.ferry.core.protocol.FrameType.COM_RES_ERROR)
                    {
                        errorCode = dev.ferry.core.protocol.ErrorCodec.code(new org.agrona.concurrent.UnsafeBuffer(body), 0);
                    }
                }
                assertEquals(ErrorCode.AUTH_FAILED, errorCode);
            }
            assertEquals(0, donor.cloneCount());
        }
    }

    @Test
    void donorNotOnTheAllowListIsRefusedBeforeConnecting() throws Exception
    {
        try (java.net.ServerSocket trap = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            trap.setSoTimeout(300);
            final InetSocketAddress address = new InetSocketAddress("127.0.0.1", trap.getLocalPort());
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(address, dir.resolve("e"),
                new CloneClient.Options().allowDonors(List.of("127.0.0.1:1", "10.0.0.1:" + trap.getLocalPort()))).run());
            assertEquals(ErrorCode.AUTH_FAILED, ex.code());
            assertTrue(ex.getMessage().contains("allowed donor list"), ex.getMessage());
            assertThrows(java.net.SocketTimeoutException.class, trap::accept, "the client must not have connected");
        }
        try (DonorService donor = new DonorService(src(), new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            new CloneClient(donor.address(), dir.resolve("f"), new CloneClient.Options()
                .allowDonors(List.of("localhost:" + donor.address().getPort()))).run();
            assertEquals(List.of(), TreeComparator.compare(dir.resolve("src"), dir.resolve("f")));
        }
    }
}
