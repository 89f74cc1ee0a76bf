package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A clone into a target that is not empty is refused with {@code TARGET_NOT_EMPTY} before the client connects, and
 * the target is left exactly as it was.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TargetNotEmptyTest
{
    @TempDir
    Path base;

    private static CloneClient.Options client()
    {
        return new CloneClient.Options().threads(2).settings(new CloneSettings().sync(false));
    }

    @Test
    void nonEmptyTargetIsRefusedBeforeConnectingAndLeftUntouched() throws IOException
    {
        final Path dst = Files.createDirectories(base.resolve("dst"));
        final Path existing = dst.resolve("keep.txt");
        final byte[] precious = "precious bytes".getBytes(StandardCharsets.UTF_8);
        Files.write(existing, precious);
        final FileTime mtime = FileTime.from(Instant.ofEpochSecond(1_234_567_890L, 111_222_333));
        Files.setLastModifiedTime(existing, mtime);
        Files.setAttribute(existing, "unix:mode", 0640);

        try (ServerSocket listener = new ServerSocket())
        {
            listener.bind(loopbackAnyPort());
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(
                new InetSocketAddress(RemoteTestSupport.LOOPBACK, listener.getLocalPort()), dst, client()).run());
            assertEquals(ErrorCode.name(ErrorCode.TARGET_NOT_EMPTY), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.getMessage().contains(dst.toString()), "the message names the target: " + ex.getMessage());

            // a connection made by the client would wait in the backlog: there must be none
            listener.setSoTimeout(300);
            assertThrows(SocketTimeoutException.class, listener::accept, "the client connected before checking the target");
        }

        assertArrayEquals(precious, Files.readAllBytes(existing));
        assertEquals(mtime.to(TimeUnit.NANOSECONDS), RemoteTestSupport.mtimeNanos(existing));
        assertEquals(0640, RemoteTestSupport.mode(existing));
        assertEquals(List.of("keep.txt"), RemoteTestSupport.listAll(dst), "no marker or other file may appear");
    }

    @Test
    void nonEmptyTargetIsRefusedByALiveDonorsClientWithoutTakingASnapshot() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = Files.createDirectories(base.resolve("dst"));
        Files.createDirectories(dst.resolve("sub/dir"));
        Files.write(dst.resolve("sub/dir/file"), new byte[] { 1, 2, 3 });

        try (DonorService donor = new DonorService(src, loopbackAnyPort(), new DonorService.Options()).start())
        {
            final FerryException ex = assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), dst, client()).run());
            assertEquals(ErrorCode.name(ErrorCode.TARGET_NOT_EMPTY), ErrorCode.name(ex.code()), ex.getMessage());
            assertEquals(0, donor.cloneCount());
            assertEquals(0L, donor.bytesSent());

            // the same client options into an empty target work
            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client()).run();
            assertEquals(List.of(), TreeComparator.compare(src, ok));
        }
        assertEquals(List.of("sub", "sub/dir", "sub/dir/file"), RemoteTestSupport.listAll(dst));
        assertArrayEquals(new byte[] { 1, 2, 3 }, Files.readAllBytes(dst.resolve("sub/dir/file")));
    }

    @Test
    void targetThatIsAFileIsRefused() throws IOException
    {
        final Path dst = base.resolve("dst");
        Files.write(dst, new byte[] { 9, 8, 7 });
        final FerryException ex = assertThrows(FerryException.class,
            () -> new CloneClient(new InetSocketAddress(RemoteTestSupport.LOOPBACK, 9), dst, client()).run());
        assertEquals(ErrorCode.name(ErrorCode.TARGET_NOT_EMPTY), ErrorCode.name(ex.code()), ex.getMessage());
        assertArrayEquals(new byte[] { 9, 8, 7 }, Files.readAllBytes(dst));
    }

    @Test
    void interruptedCloneInTargetIsNamedInTheMessage() throws IOException
    {
        final Path dst = Files.createDirectories(base.resolve("dst"));
        Files.createDirectories(dst.resolve(ManifestScanner.STATE_DIR));
        Files.write(dst.resolve(ManifestScanner.STATE_DIR).resolve("status"), "incomplete".getBytes(StandardCharsets.UTF_8));
        Files.write(dst.resolve("partial"), new byte[10]);
        final FerryException ex = assertThrows(FerryException.class,
            () -> new CloneClient(new InetSocketAddress(RemoteTestSupport.LOOPBACK, 9), dst, client()).run());
        assertEquals(ErrorCode.name(ErrorCode.TARGET_NOT_EMPTY), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains("interrupted"), ex.getMessage());
        assertEquals(List.of(".ferry", ".ferry/status", "partial"), RemoteTestSupport.listAll(dst));
        assertArrayEquals("incomplete".getBytes(StandardCharsets.UTF_8),
            Files.readAllBytes(dst.resolve(ManifestScanner.STATE_DIR).resolve("status")));
    }
}
