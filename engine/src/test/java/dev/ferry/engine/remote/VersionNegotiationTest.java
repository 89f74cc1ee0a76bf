package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol version negotiation (PROTOCOL.md section 5): overlapping ranges clone at the highest shared version;
 * disjoint ranges fail with {@code VERSION_MISMATCH}, a message with both ranges, and nothing written. {@code
 * Wire.PROTOCOL_MAX} is 1, so the client ranges above 1 are artificial: they play a newer build.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class VersionNegotiationTest
{
    @TempDir
    Path base;

    private static DonorService.Options donor(final int min, final int max)
    {
        return new DonorService.Options().protocols(min, max)
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK));
    }

    private static CloneClient.Options client(final int min, final int max)
    {
        return new CloneClient.Options().threads(2).protocols(min, max).settings(new CloneSettings().sync(false));
    }

    @Test
    void overlappingRangesCloneAtSharedVersion() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(1, 1)).start())
        {
            new CloneClient(d.address(), dst, client(1, 3)).run();
        }

        assertEquals(List.of(), TreeComparator.compare(src, dst));
        assertEquals(RemoteTestSupport.sha256(src.resolve("a/two")), RemoteTestSupport.sha256(dst.resolve("a/two")));
    }

    @Test
    void donorAdvertisesItsRangeAndLocatorCarriesChosenVersion() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);

        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(1, 1)).start();
            RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(d.address(), 5_000))
        {
            peer.send(RemoteTestSupport.RawPeer.hello(1, 3, HelloCodec.ROLE_CLIENT));
            final RemoteTestSupport.Frame hello = peer.expect(FrameType.HELLO);
            final ByteBuffer h = ByteBuffer.wrap(hello.body).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(HelloCodec.MAGIC, h.getLong(0));
            assertEquals(1, h.getShort(8) & 0xFFFF, "donor protocol min");
            assertEquals(1, h.getShort(10) & 0xFFFF, "donor protocol max");
            assertEquals(HelloCodec.ROLE_DONOR, h.getInt(12));

            peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
            peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_INIT,
                Locator.version(Locator.ENGINE_FILE_TREE, 1, 3)));
            final RemoteTestSupport.Frame locs = peer.expect(FrameType.COM_RES_LOCS);
            final ByteBuffer l = ByteBuffer.wrap(locs.body).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(LocatorCodec.FIXED_LENGTH, locs.body.length);
            assertEquals(Locator.KIND_REAL, l.get(LocatorCodec.KIND_OFFSET));
            assertEquals(1, l.getShort(LocatorCodec.PROTOCOL_MIN_OFFSET) & 0xFFFF, "chosen version in min");
            assertEquals(1, l.getShort(LocatorCodec.PROTOCOL_MAX_OFFSET) & 0xFFFF, "chosen version in max");
            assertTrue(l.getLong(LocatorCodec.SNAPSHOT_OFFSET) != 0, "snapshot id");
            assertEquals(0, l.getInt(LocatorCodec.TASK_OFFSET), "master task");
            peer.expect(FrameType.COM_RES_CONFIG);
            peer.send(RemoteTestSupport.RawPeer.exitFrame(ErrorCode.CANCELLED, "test done"));
            assertTrue(peer.closedByPeer());
        }
    }

    @Test
    void disjointRangesFailWithVersionMismatchAndWriteNothing() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(1, 2)).start())
        {
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(d.address(), dst,
                client(3, 4)).run());
            assertEquals(ErrorCode.VERSION_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("1..2"), "message must give the donor's range: " + ex.getMessage());
            assertTrue(ex.getMessage().contains("3..4"), "message must give the client's range: " + ex.getMessage());
            assertTrue(ex.describe().startsWith("VERSION_MISMATCH: "), ex.describe());
            assertEquals(0, d.cloneCount(), "no snapshot may be held for a refused client");

            // the donor still serves a client that shares its version
            final Path ok = base.resolve("ok");
            new CloneClient(d.address(), ok, client(1, 1)).run();
            assertEquals(List.of(), TreeComparator.compare(src, ok));
        }
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS), "nothing may be written for a refused clone");
    }

    /**
     * Issue 9 raised the protocol to 2 (raw-byte names, owners, xattrs, links, holes): a build that speaks only 1
     * gets the clean VERSION_MISMATCH from this build's default donor, and nothing is written.
     */
    @Test
    void protocolOneClientAgainstThisBuildsDonorGetsVersionMismatch() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = Files.createDirectories(base.resolve("dst"));
        assertEquals(3, dev.ferry.core.protocol.Wire.PROTOCOL_MIN);
        try (DonorService d = new DonorService(src, loopbackAnyPort(), new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))).start())
        {
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(d.address(), dst,
                client(1, 1)).run());
            assertEquals(ErrorCode.VERSION_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains(dev.ferry.core.protocol.Wire.PROTOCOL_MIN + ".." +
                dev.ferry.core.protocol.Wire.PROTOCOL_MAX) && ex.getMessage().contains("1..1"), ex.getMessage());
        }
        assertEquals(List.of(), RemoteTestSupport.listAll(dst), "an existing empty target stays empty");
    }

    @Test
    void olderClientAgainstNewerDonorFails() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = Files.createDirectories(base.resolve("dst"));

        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(2, 5)).start())
        {
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(d.address(), dst,
                client(1, 1)).run());
            assertEquals(ErrorCode.VERSION_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("2..5") && ex.getMessage().contains("1..1"), ex.getMessage());
        }
        assertEquals(List.of(), RemoteTestSupport.listAll(dst), "an existing empty target stays empty");
    }

    /**
     * PROTOCOL.md section 5 and the diagram in 6.1: when the ranges do not overlap, the donor answers the HELLO
     * itself with COM_RES_ERROR VERSION_MISMATCH and closes.
     */
    @Test
    void donorAnswersDisjointHelloWithVersionMismatch() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);

        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(1, 2)).start();
            RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(d.address(), 5_000))
        {
            peer.send(RemoteTestSupport.RawPeer.hello(3, 4, HelloCodec.ROLE_CLIENT));
            final RemoteTestSupport.Frame f = peer.read();
            assertTrue(f != null && f.type == FrameType.COM_RES_ERROR,
                "the donor must answer a HELLO with a disjoint range with COM_RES_ERROR, got " + f);
            assertEquals(ErrorCode.VERSION_MISMATCH, f.errorCode(), f.errorMessage());
            assertTrue(f.errorMessage().contains("1..2"), f.errorMessage());
            assertTrue(peer.closedByPeer());
        }
    }

    /**
     * A client that shares no version with a donor must hear VERSION_MISMATCH (upgrade), not TOO_MANY_CLONES (wait
     * and retry), even while the donor is busy.
     */
    @Test
    void versionMismatchIsReportedEvenWhenDonorIsFull() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        final int max = dev.ferry.core.protocol.Wire.PROTOCOL_MAX;
        try (DonorService d = new DonorService(src, loopbackAnyPort(), donor(1, max).maxClones(1)).start();
            RemoteTestSupport.RawPeer holder = ConcurrentCloneTest.holdCloneSlot(d))
        {
            assertEquals(1, d.cloneCount(), "the only slot is held by " + holder);
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(d.address(), dst,
                client(max + 1, max + 2)).run());
            assertEquals(ErrorCode.VERSION_MISMATCH, ex.code(), ErrorCode.name(ex.code()) + ": " + ex.getMessage());
        }
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS));
    }
}
